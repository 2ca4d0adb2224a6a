//! Reports of runs for people and tools: the terminal table (`text`) and the HTML
//! timeline page (`html`).

pub mod html;
pub mod text;
