//! A replica's link to the database, as faults see it: normal, slow, partitioned,
//! or reset.
//!
//! On Postgres the link is a TCP proxy between the replica's pool and the server
//! ([`crate::proxy`]), so a fault acts on real connections. On the memory store the
//! replica's store actor passes every operation through the same [`Link`]: a slow
//! link delays it by a round trip, a partition holds it until the link heals, and a
//! reset fails the operations waiting on the link, as a killed connection fails the
//! queries in flight on it.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::proxy::LinkProxy;
use crate::{Error, Result};

pub use crate::proxy::LinkMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct State {
    mode: LinkMode,
    /// Bumped by every reset: an operation waiting across a reset fails.
    resets: u64,
}

/// One replica's link. Clones control the same link.
#[derive(Debug, Clone)]
pub struct Link {
    state: Arc<watch::Sender<State>>,
    proxy: Arc<Mutex<Option<LinkProxy>>>,
}

impl Default for Link {
    fn default() -> Self {
        Link { state: Arc::new(watch::Sender::new(State::default())), proxy: Arc::default() }
    }
}

impl Link {
    /// Routes this link's faults to a TCP proxy too (Postgres runs).
    pub fn attach(&self, proxy: LinkProxy) {
        proxy.set_mode(self.mode());
        *self.proxy.lock().unwrap_or_else(|p| p.into_inner()) = Some(proxy);
    }

    /// The proxy, if one is attached.
    pub fn proxy(&self) -> Option<LinkProxy> {
        self.proxy.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The current mode.
    pub fn mode(&self) -> LinkMode {
        self.state.borrow().mode
    }

    /// Changes the mode, at once for traffic in flight.
    pub fn set_mode(&self, mode: LinkMode) {
        self.state.send_modify(|s| s.mode = mode);
        if let Some(proxy) = self.proxy() {
            proxy.set_mode(mode);
        }
    }

    /// Kills the link's connections: what is in flight fails.
    pub fn reset(&self) {
        self.state.send_modify(|s| s.resets += 1);
        if let Some(proxy) = self.proxy() {
            proxy.reset();
        }
    }

    /// Passes one operation over the link (memory store): waits out a partition, adds
    /// a round trip of latency, and fails if the link is reset meanwhile.
    pub async fn pass(&self) -> Result<()> {
        let mut rx = self.state.subscribe();
        let resets = rx.borrow().resets;
        loop {
            let state = *rx.borrow_and_update();
            if state.resets != resets {
                return Err(Error::LinkReset);
            }
            match state.mode {
                // The memory store's replies are the store actor's to hold (see
                // `crate::strike`): the request itself goes through.
                LinkMode::Normal | LinkMode::HoldReplies => return Ok(()),
                LinkMode::Latency(d) => {
                    tokio::select! {
                        () = tokio::time::sleep(d * 2) => {
                            if rx.borrow().resets != resets {
                                return Err(Error::LinkReset);
                            }
                            return Ok(());
                        }
                        changed = rx.changed() => if changed.is_err() { return Ok(()) },
                    }
                }
                LinkMode::Partition => {
                    if rx.changed().await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::paused;

    #[test]
    fn latency_delays_an_operation_by_a_round_trip() {
        paused(async {
            let link = Link::default();
            link.set_mode(LinkMode::Latency(Duration::from_millis(30)));
            let start = tokio::time::Instant::now();
            link.pass().await.unwrap();
            assert_eq!(start.elapsed(), Duration::from_millis(60));
        });
    }

    #[test]
    fn a_partition_holds_operations_until_it_heals() {
        paused(async {
            let link = Link::default();
            link.set_mode(LinkMode::Partition);
            let healer = link.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                healer.set_mode(LinkMode::Normal);
            });
            let start = tokio::time::Instant::now();
            link.pass().await.unwrap();
            assert_eq!(start.elapsed(), Duration::from_millis(500));
        });
    }

    #[test]
    fn a_reset_fails_operations_in_flight_but_not_later_ones() {
        paused(async {
            let link = Link::default();
            link.set_mode(LinkMode::Partition);
            let resetter = link.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                resetter.reset();
            });
            assert!(matches!(link.pass().await, Err(Error::LinkReset)));
            link.set_mode(LinkMode::Normal);
            assert!(link.pass().await.is_ok());
        });
    }
}
