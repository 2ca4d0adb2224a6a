//! Where a run's database is: the memory model, or a Postgres run schema reached
//! through each replica's link proxy ([`Stores`]). The simulation (`crate::sim`)
//! makes it; the director connects each replica incarnation and its own observer
//! to it, and settles it when the run ends.

use std::collections::BTreeMap;

use crate::Result;
use crate::model::ReplicaId;
use crate::proxy::LinkProxy;
use crate::store::{Backend, MemoryStore, PgStore, Plans, RunSchema};
use crate::topology::DatabaseControl;

/// Where the replicas' database is.
pub enum Stores {
    /// The in-process model, shared by every replica.
    Memory {
        /// The tables.
        db: MemoryStore,
        /// The model of a primary-standby pair, when the database is one.
        pair: Option<DatabaseControl>,
    },
    /// A Postgres run schema; each replica incarnation gets its own pool, through its
    /// replica's link proxy when it has one.
    Postgres {
        /// The run's schema.
        schema: Box<RunSchema>,
        /// Connections per replica pool.
        connections: u32,
        /// Each replica's link proxy, by scenario name.
        proxies: BTreeMap<ReplicaId, LinkProxy>,
        /// The primary-standby pair behind the proxies, when the database is one.
        pair: Option<DatabaseControl>,
    },
}

impl Stores {
    /// A backend for an incarnation of replica `name` (`label` names its connections).
    pub async fn connect(&self, name: &ReplicaId, label: &str) -> Result<Backend> {
        Ok(match self {
            Stores::Memory { db, .. } => Backend::Memory(db.clone()),
            Stores::Postgres { schema, connections, proxies, .. } => {
                let via = proxies.get(name).map(LinkProxy::addr);
                // The director's reads of the change feed need plans for their values.
                let plans = if label == OBSERVER { Plans::Custom } else { Plans::Generic };
                Backend::Postgres(PgStore::new(schema.pool_planned(label, *connections, via, plans).await?))
            }
        })
    }

    /// The primary-standby pair (or the memory model of one) the run's database faults
    /// act on, if it has one.
    pub fn pair(&self) -> Option<&DatabaseControl> {
        let (Stores::Postgres { pair, .. } | Stores::Memory { pair, .. }) = self;
        pair.as_ref()
    }

    /// Makes the run's writes final once its replicas have stopped: on Postgres, the
    /// link proxies drop what they hold and the server ends the replicas' connections
    /// (a transaction of theirs has then committed or not, for good). The memory
    /// model applies a write at once, so it has nothing to settle.
    pub async fn settle(&self, keep: &str) -> Result<()> {
        match self {
            Stores::Memory { .. } => Ok(()),
            Stores::Postgres { schema, proxies, .. } => {
                for proxy in proxies.values() {
                    proxy.reset();
                }
                schema.settle(keep).await
            }
        }
    }
}

/// The label of the director's own connections (the observer's).
pub(crate) const OBSERVER: &str = "director";
