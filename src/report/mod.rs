//! Reports of runs for people and tools: the terminal table (`text`).

pub mod text;
