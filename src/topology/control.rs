//! What a run's database faults do, from inside the run: to a real primary-standby
//! pair, or to the memory store's model of one.
//!
//! Every replica (and the run's own observer) reaches a real pair through a link
//! proxy, so that when the standby takes over, the proxies move to it as a virtual IP
//! or a DNS name moves in a deployment: what was connected to the old primary breaks,
//! and new connections reach the new one.
//!
//! The memory model keeps the standby as a copy of the tables taken when replication
//! is cut (asynchronous replication: the primary goes on acknowledging commits the
//! copy lacks), and a failover makes that copy the database and breaks every
//! replica's link. With synchronous replication a commit waits for the standby, so
//! while it is cut off the model holds every replica's operations on its link (reads
//! too, where Postgres would still answer them) until it catches up, or a failover
//! fails them.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use super::server::pair_error;
use super::{PgPair, Replication};
use crate::Result;
use crate::link::{Link, LinkMode};
use crate::proxy::LinkProxy;
use crate::store::MemoryStore;

/// A run's hold on its database's pair. Clones share it.
#[derive(Debug, Clone)]
pub enum DatabaseControl {
    /// A real pair and the proxies in front of it.
    Pair {
        /// The pair.
        pair: Arc<Mutex<PgPair>>,
        /// Every proxy to its primary.
        proxies: Vec<LinkProxy>,
    },
    /// The memory store's model of a pair.
    Model {
        /// The store (the primary's tables and the standby's copy).
        store: MemoryStore,
        /// How the model replicates.
        replication: Replication,
    },
}

impl DatabaseControl {
    /// Control of `pair`, whose clients all connect through `proxies`.
    pub fn new(pair: Arc<Mutex<PgPair>>, proxies: Vec<LinkProxy>) -> Self {
        DatabaseControl::Pair { pair, proxies }
    }

    /// The model of a pair replicating as `replication` says, on `store`.
    pub fn model(store: MemoryStore, replication: Replication) -> Self {
        DatabaseControl::Model { store, replication }
    }

    /// Does `action` to the pair. In the model, the replicas' `links` are what breaks
    /// (a failover or a restart) or holds their operations (a synchronous standby cut
    /// off).
    pub async fn act(&self, action: DatabaseAction, links: &[Link]) -> Result<()> {
        use DatabaseAction::*;
        match (self, action) {
            // Once the standby took over, every proxy forwards to it.
            (DatabaseControl::Pair { pair, proxies }, Failover) => {
                let port = with_pair(pair, |pair| pair.failover().map(|()| pair.primary_port())).await?;
                let primary = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                for proxy in proxies {
                    proxy.repoint(primary);
                }
            }
            (DatabaseControl::Pair { pair, .. }, Restart) => with_pair(pair, |p| p.restart_primary()).await?,
            (DatabaseControl::Pair { pair, .. }, CutReplication) => {
                with_pair(pair, |p| p.cut_replication()).await?
            }
            (DatabaseControl::Pair { pair, .. }, RestoreReplication) => {
                with_pair(pair, |p| p.restore_replication()).await?
            }
            (DatabaseControl::Model { store, replication }, Failover) => {
                store.fail_over();
                for link in links {
                    link.reset();
                    if *replication != Replication::Async {
                        link.set_mode(LinkMode::Normal);
                    }
                }
            }
            (DatabaseControl::Model { .. }, Restart) => links.iter().for_each(Link::reset),
            (DatabaseControl::Model { store, replication: Replication::Async }, CutReplication) => {
                store.cut_replication()
            }
            (DatabaseControl::Model { store, replication: Replication::Async }, RestoreReplication) => {
                store.restore_replication()
            }
            (DatabaseControl::Model { .. }, CutReplication) => {
                links.iter().for_each(|l| l.set_mode(LinkMode::Partition))
            }
            (DatabaseControl::Model { .. }, RestoreReplication) => {
                links.iter().for_each(|l| l.set_mode(LinkMode::Normal))
            }
        }
        Ok(())
    }
}

/// What a database fault does to the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseAction {
    /// The primary fails and the standby takes over ([`PgPair::failover`]).
    Failover,
    /// The primary crashes and restarts ([`PgPair::restart_primary`]).
    Restart,
    /// The standby stops receiving the primary's WAL ([`PgPair::cut_replication`]).
    CutReplication,
    /// The standby receives it again and catches up.
    RestoreReplication,
}

impl DatabaseAction {
    /// Whether the fault that does this is over once it is done (a replication lag
    /// lasts until its window ends, when its restore is done).
    pub fn ends_the_fault(self) -> bool {
        self != DatabaseAction::CutReplication
    }
}

/// Runs `work` on the pair on a thread of its own: it runs the Postgres programs.
async fn with_pair<T: Send + 'static>(
    pair: &Arc<Mutex<PgPair>>,
    work: impl FnOnce(&mut PgPair) -> Result<T> + Send + 'static,
) -> Result<T> {
    let pair = pair.clone();
    let joined =
        tokio::task::spawn_blocking(move || work(&mut pair.lock().unwrap_or_else(|p| p.into_inner())));
    joined.await.map_err(|e| pair_error(format!("the pair's thread stopped: {e}")))?
}
