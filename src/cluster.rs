//! The names this module held before a run's chain was split into `spec`, `sim`,
//! `stores` and `trace`, for the code that still reaches them here. New code names
//! [`crate::sim::Database`] itself.

pub use crate::sim::Database;
