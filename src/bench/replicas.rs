//! The replicas of a point: each a store actor (and, for the transactional mechanisms,
//! a claim actor) on a pool of its own, like separate processes, started on the client
//! threads; and how their claims reach the database.

use std::time::Duration;

use actix::ArbiterHandle;
use actix::prelude::*;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::oneshot;

use super::env::EnvBackend;
use super::mechanism::{ClaimActor, Mechanism};
use super::{BenchEnv, BenchError};
use crate::actors::StoreActor;
use crate::history::History;
use crate::model::ReplicaId;
use crate::store::{Backend, MemoryStore, PgStore, RunSchema, redact_url};
use crate::{Error, Result};

/// How a replica's claims reach the database. [`ClaimPath::Actor`] is the bench's
/// path; the others change one layer each, to show what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimPath {
    /// Messages to the replica's store actor (or claim actor), which holds one
    /// connection of the replica's pool and runs the store's operations on it one at a
    /// time, like a pgbench client on its connection.
    Actor,
    /// Messages to the store actor, which takes a connection from the pool for each
    /// operation: what replicas in scenario runs do (a server's pool).
    ActorPool,
    /// The same store operations called on the replica's pool, without the actors.
    Pool,
    /// The same store operations called on one connection the replica holds, without
    /// the actors.
    Connection,
}

impl ClaimPath {
    /// The name the CLI and reports use.
    pub fn name(self) -> &'static str {
        match self {
            ClaimPath::Actor => "actor",
            ClaimPath::ActorPool => "actor-pool",
            ClaimPath::Pool => "pool",
            ClaimPath::Connection => "connection",
        }
    }

    /// Whether claims are messages to the replica's actors.
    pub fn through_actors(self) -> bool {
        matches!(self, ClaimPath::Actor | ClaimPath::ActorPool)
    }

    /// Whether the replica's store holds one connection rather than taking one from
    /// its pool per operation.
    pub fn holds_connection(self) -> bool {
        matches!(self, ClaimPath::Actor | ClaimPath::Connection)
    }
}

/// How a replica's pool is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSettings {
    /// Connections per replica (1, like one pgbench client).
    pub connections: u32,
    /// sqlx's `test_before_acquire`: a round trip (Sync) before every use of a pooled
    /// connection. On in the pools [`RunSchema::pool`] hands out, which replicas use.
    pub ping_on_acquire: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings { connections: 1, ping_on_acquire: true }
    }
}

/// One replica: its actors, and the store they hold, for the paths that bypass them.
pub(super) struct Replica {
    pub(super) arbiter: ArbiterHandle,
    pub(super) id: ReplicaId,
    pub(super) store: Addr<StoreActor>,
    pub(super) claimer: Option<Addr<ClaimActor>>,
    /// What the store actor holds (a clone: the same pool, the same held connection).
    pub(super) backend: Backend,
    pool: Option<PgPool>,
}

/// Running replicas, each on its client thread.
pub struct Replicas {
    pub(super) list: Vec<Replica>,
    pub(super) mechanism: Mechanism,
    pub(super) path: ClaimPath,
}

impl std::fmt::Debug for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replicas").field("count", &self.list.len()).field("path", &self.path).finish()
    }
}

impl Replicas {
    /// How many.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// How their claims reach the database.
    pub fn path(&self) -> ClaimPath {
        self.path
    }

    /// Stops the actors and closes every pool (on its own thread), so the next point
    /// starts with the server's connections free.
    pub async fn close(self) {
        let mut closing = Vec::with_capacity(self.list.len());
        for replica in self.list {
            let Replica { arbiter, store, claimer, backend, pool, .. } = replica;
            drop((store, claimer, backend));
            if let Some(pool) = pool {
                let (tx, rx) = oneshot::channel::<()>();
                arbiter.spawn(async move {
                    pool.close().await;
                    let _ = tx.send(());
                });
                closing.push(rx);
            }
        }
        for rx in closing {
            let _ = rx.await;
        }
    }
}

impl BenchEnv {
    /// Starts `n` replicas, each a store actor (and, for the transactional mechanisms, a
    /// claim actor) on a pool of its own, spread over the client threads; with a path
    /// that holds a connection, their store holds one connection of that pool.
    pub async fn start_replicas(
        &self,
        n: usize,
        mechanism: Mechanism,
        path: ClaimPath,
    ) -> Result<Replicas, BenchError> {
        if n > self.warm.count as usize {
            return Err(BenchError::Invalid(format!(
                "{n} replicas asked for, the environment was made for {}",
                self.warm.count
            )));
        }
        let mut pending = Vec::with_capacity(n);
        for i in 0..n {
            let arbiter = self.arbiters[i % self.arbiters.len()].handle();
            let source = match &self.backend {
                EnvBackend::Postgres { url, schema, .. } => {
                    Source::Pg { url: url.clone(), schema: schema.clone(), settings: self.pool }
                }
                EnvBackend::Memory(db) => Source::Memory(db.clone()),
            };
            let (tx, rx) = oneshot::channel();
            arbiter.spawn(async move {
                let _ = tx.send(start_replica(i, source, mechanism, path).await);
            });
            pending.push(rx);
        }
        let mut list = Vec::with_capacity(n);
        let mut failure = None;
        for rx in pending {
            match rx.await {
                Ok(Ok(replica)) => list.push(replica),
                Ok(Err(e)) => failure = failure.or(Some(e)),
                Err(_) => failure = failure.or(Some(Error::ActorGone("bench client thread"))),
            }
        }
        let replicas = Replicas { list, mechanism, path };
        if let Some(e) = failure {
            replicas.close().await;
            return Err(e.into());
        }
        Ok(replicas)
    }
}

enum Source {
    Pg { url: String, schema: Box<RunSchema>, settings: PoolSettings },
    Memory(MemoryStore),
}

/// Runs on the replica's client thread, so its pool's sockets and its actors live
/// there.
async fn start_replica(i: usize, source: Source, mechanism: Mechanism, path: ClaimPath) -> Result<Replica> {
    let id = ReplicaId::nth(i + 1);
    let arbiter = Arbiter::current();
    let (backend, claimer, pool) = match source {
        Source::Pg { url, schema, settings } => {
            let pool = if settings.ping_on_acquire {
                schema.pool(id.as_str(), settings.connections, None).await?
            } else {
                unpinged_pool(&url, &schema, id.as_str(), settings.connections).await?
            };
            let pg = if path.holds_connection() {
                PgStore::holding(pool.clone())
            } else {
                PgStore::new(pool.clone())
            };
            let claimer = (mechanism != Mechanism::OnConflict).then(|| ClaimActor::new(pg.clone()).start());
            (Backend::Postgres(pg), claimer, Some(pool))
        }
        Source::Memory(db) => (Backend::Memory(db), None, None),
    };
    let store = StoreActor::new(id.clone(), backend.clone(), History::discard()).start();
    Ok(Replica { arbiter, id, store, claimer, backend, pool })
}

/// A pool like [`RunSchema::pool`]'s (same schema, same application name, so the
/// schema's `terminate` finds it) without the round trip before each use.
async fn unpinged_pool(url: &str, schema: &RunSchema, label: &str, connections: u32) -> Result<PgPool> {
    let options = crate::store::connect_options(url)?
        .options([("search_path", schema.name())])
        .application_name(&format!("{}/{label}", schema.name()));
    PgPoolOptions::new()
        .max_connections(connections)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|source| Error::Connect { url: redact_url(url), cause: source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_says_which_layers_it_keeps() {
        let layers = |p: ClaimPath| (p.through_actors(), p.holds_connection());
        assert_eq!(layers(ClaimPath::Actor), (true, true));
        assert_eq!(layers(ClaimPath::ActorPool), (true, false));
        assert_eq!(layers(ClaimPath::Pool), (false, false));
        assert_eq!(layers(ClaimPath::Connection), (false, true));
        for path in [ClaimPath::Actor, ClaimPath::ActorPool, ClaimPath::Pool, ClaimPath::Connection] {
            assert_eq!(serde_json::to_value(path).unwrap(), path.name(), "JSON spells it as the CLI does");
        }
    }
}
