//! One clock for a run: every actor, the history and the receiver read time from it.
//!
//! It is tokio's clock, so a run on a paused runtime (memory store, in-process
//! webhook transport) sees virtual time and is deterministic, while a run against
//! Postgres and real HTTP sees real time. Its zero is the moment the cluster is up
//! ([`Clock::restart`]), so a scenario's times do not depend on how long replicas
//! took to connect.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Time since the start of a run. Clones read the same clock.
#[derive(Debug, Clone)]
pub struct Clock {
    zero: Arc<Mutex<Instant>>,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        Clock { zero: Arc::new(Mutex::new(Instant::now())) }
    }

    fn zero(&self) -> Instant {
        *self.zero.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the zero to now (the run begins); every clone sees it.
    pub fn restart(&self) {
        *self.zero.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// Time elapsed since the zero.
    pub fn now(&self) -> Duration {
        self.zero().elapsed()
    }

    /// The instant at `offset` after the zero, for timers.
    pub fn at(&self, offset: Duration) -> Instant {
        self.zero() + offset
    }
}

/// Runs `f` to completion on a fresh current-thread runtime whose clock starts
/// paused: the unit tests' virtual time.
#[cfg(test)]
pub(crate) fn paused<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
        .block_on(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_moves_the_zero_for_every_clone() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(async {
                let clock = Clock::start();
                let other = clock.clone();
                tokio::time::sleep(Duration::from_millis(40)).await;
                assert_eq!(other.now(), Duration::from_millis(40));
                clock.restart();
                tokio::time::sleep(Duration::from_millis(5)).await;
                assert_eq!(other.now(), Duration::from_millis(5));
            });
    }
}
