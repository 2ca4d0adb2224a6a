//! Reactions: the simulated user acting when something happens to a plan, rather than
//! at a moment fixed in advance ("retry the failed tasks half a second after a run
//! fails"). A scenario's `[[reactions]]` become [`Reaction`] rules (part of the
//! run's spec, `crate::spec`); the director looks at every plan the users created
//! once per tick, as a user watching the plans would, and [`Watch`] decides from
//! those looks which reactions fire and what each does.

mod watch;

pub use crate::spec::{Reaction, When, Which};
pub use watch::{Firing, Move, Watch};
