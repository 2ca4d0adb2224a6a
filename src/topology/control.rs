//! What a run's database faults do to its primary-standby pair, from inside the run.
//!
//! Every replica (and the run's own observer) reaches a pair through a link proxy,
//! so that when the standby takes over, the proxies move to it as a virtual IP or a
//! DNS name moves in a deployment: what was connected to the old primary breaks, and
//! new connections reach the new one.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use super::PgPair;
use super::server::pair_error;
use crate::Result;
use crate::proxy::LinkProxy;

/// A run's hold on its pair and on the proxies in front of it. Clones share them.
#[derive(Debug, Clone)]
pub struct DatabaseControl {
    pair: Arc<Mutex<PgPair>>,
    proxies: Vec<LinkProxy>,
}

impl DatabaseControl {
    /// Control of `pair`, whose clients all connect through `proxies`.
    pub fn new(pair: Arc<Mutex<PgPair>>, proxies: Vec<LinkProxy>) -> Self {
        DatabaseControl { pair, proxies }
    }

    /// The primary fails and the standby takes over ([`PgPair::failover`]); then every
    /// proxy forwards to the new primary.
    pub async fn failover(&self) -> Result<()> {
        let port = self.with_pair(|pair| pair.failover().map(|()| pair.primary_port())).await?;
        let primary = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        for proxy in &self.proxies {
            proxy.repoint(primary);
        }
        Ok(())
    }

    /// The standby stops receiving the primary's WAL ([`PgPair::cut_replication`]).
    pub async fn cut_replication(&self) -> Result<()> {
        self.with_pair(|pair| pair.cut_replication()).await
    }

    /// The standby receives the primary's WAL again and catches up.
    pub async fn restore_replication(&self) -> Result<()> {
        self.with_pair(|pair| pair.restore_replication()).await
    }

    /// Runs `work` on the pair on a thread of its own: it runs the Postgres programs.
    async fn with_pair<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut PgPair) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let pair = self.pair.clone();
        let joined =
            tokio::task::spawn_blocking(move || work(&mut pair.lock().unwrap_or_else(|p| p.into_inner())));
        joined.await.map_err(|e| pair_error(format!("the pair's thread stopped: {e}")))?
    }
}
