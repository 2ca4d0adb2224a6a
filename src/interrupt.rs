//! Stopping early: a process-wide request to stop (the binary makes one of the first
//! SIGINT or SIGTERM) that every long piece of work heeds at its next safe point.
//!
//! A run being played ends as at its `max_duration` (replicas stopped, the result
//! collected), and the run's proxies, receiver and schema are then closed and dropped
//! as after any run; [`crate::runner::run_scenario`] then answers
//! [`Error::Interrupted`](crate::Error::Interrupted) instead of judging a run cut
//! short. A search stops taking cases, a bench stops measuring points; each returns
//! what it finished. Nothing here installs a signal handler: the binary does.

use std::sync::atomic::{AtomicI32, Ordering};

use tokio::sync::Notify;

/// The signal a stop was asked with (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Wakes whatever waits in [`wait`].
static WOKEN: Notify = Notify::const_new();

/// Why work was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C at a terminal.
    Interrupt,
    /// SIGTERM: what `kill`, `timeout` and CI runners send.
    Terminate,
}

impl Signal {
    /// The signal's number on Unix.
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        }
    }

    /// The exit status of a process that stopped for it: 128 + its number.
    pub fn exit_status(self) -> u8 {
        128 + self.number() as u8
    }

    /// Its name: `SIGINT`, `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    fn from_number(n: i32) -> Option<Signal> {
        match n {
            2 => Some(Signal::Interrupt),
            15 => Some(Signal::Terminate),
            _ => None,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Asks all work to stop, for `signal`. Returns whether this was the first request
/// (a second one finds the first still standing).
pub fn request(signal: Signal) -> bool {
    let first = SIGNAL.compare_exchange(0, signal.number(), Ordering::SeqCst, Ordering::SeqCst).is_ok();
    WOKEN.notify_waiters();
    first
}

/// The signal a stop was asked with, if one was.
pub fn requested() -> Option<Signal> {
    Signal::from_number(SIGNAL.load(Ordering::SeqCst))
}

/// Resolves once a stop is asked (at once when one already was), on any runtime.
pub async fn wait() -> Signal {
    loop {
        let woken = WOKEN.notified();
        tokio::pin!(woken);
        // Registered before the flag is read, so a request in between still wakes it.
        woken.as_mut().enable();
        if let Some(signal) = requested() {
            return signal;
        }
        woken.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_follow_the_shell_convention() {
        assert_eq!(Signal::Interrupt.exit_status(), 130);
        assert_eq!(Signal::Terminate.exit_status(), 143);
        assert_eq!(Signal::from_number(15), Some(Signal::Terminate));
        assert_eq!(Signal::from_number(9), None);
    }
}
