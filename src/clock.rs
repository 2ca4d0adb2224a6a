//! One clock for a run: every actor, the history and the receiver read time from it.
//!
//! It is tokio's clock, so a run on a paused runtime (memory store, in-process
//! webhook transport) sees virtual time and is deterministic, while a run against
//! Postgres and real HTTP sees real time.

use std::time::Duration;

use tokio::time::Instant;

/// Time since the start of a run.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        Clock { start: Instant::now() }
    }

    /// Time elapsed since the run started.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The instant at `offset` after the start, for timers.
    pub fn at(&self, offset: Duration) -> Instant {
        self.start + offset
    }
}
