//! The simulation: a [`ClusterSpec`] run by actors, giving back its [`Trace`].
//!
//! [`execute`] makes what a run needs as its [`Setup`] says (the memory store and the
//! in-process receiver on a paused clock, or a Postgres run schema, an HTTP receiver,
//! link proxies and perhaps a primary-standby pair, `postgres`), [`run`]s the
//! cluster under a director, and releases all of it. The run is judged elsewhere,
//! from its trace (`crate::check::check_trace`, called by the runner).

mod builder;
mod postgres;

pub use builder::{Builder, IntoStrategy, Sim, run_blocking};

use std::rc::Rc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::actors::{Director, EndNow};
use crate::clock::Clock;
use crate::faults::{CrashPoints, PointTrigger};
use crate::history::History;
use crate::lag::{self, DbLag, HostLag, LagProbe};
use crate::model::ReplicaId;
use crate::spec::{ClusterSpec, Target};
use crate::store::MemoryStore;
use crate::stores::{OBSERVER, Stores};
use crate::topology::{DatabaseControl, Topology};
use crate::trace::Trace;
use crate::webhook::{Receiver, Secret, Transport};
use crate::world::{Endpoint, World};
use crate::{Error, Result};

/// Runs `spec` on `stores`, sending webhooks to `endpoint`. Must run inside an actix
/// system; on the memory store with the in-process endpoint, a paused clock makes it
/// deterministic.
pub async fn run(spec: ClusterSpec, stores: Stores, endpoint: Endpoint, clock: Clock) -> Result<Trace> {
    let history = History::new(clock);
    if let (Some(_), Some(journal)) = (stores.pair(), history.journal()) {
        journal.keep_committed();
    }
    let crash_points = CrashPoints::new(spec.faults.iter().filter_map(PointTrigger::of).collect());
    let observer = stores.connect(&ReplicaId(OBSERVER.into()), OBSERVER).await?;
    let policy = spec.webhook_policy();
    let world = World::new(
        spec.seed,
        spec.config.clone(),
        (spec.status_write(), policy),
        history,
        crash_points,
        endpoint,
    )
    .observing(observer.clone());
    if let Stores::Postgres { proxies, .. } = &stores {
        for (name, proxy) in proxies {
            if let Some(link) = world.link(name) {
                link.attach(proxy.clone());
            }
        }
    }
    let census = world.census.clone();
    let (done, mut result) = oneshot::channel();
    let director = Director::new(Rc::new(spec), world, Rc::new(stores), observer, done).start();
    // A stop request ends the run early. Waited for here, not in the director's
    // context: an item more there would change the order its futures are polled in,
    // and with it the history of a run on the paused clock.
    let result = tokio::select! {
        result = &mut result => result,
        _ = crate::interrupt::wait() => {
            director.do_send(EndNow);
            result.await
        }
    };
    let mut result = result.map_err(|_| Error::ActorGone("director"))?;
    // Actors stop a few turns after the director reports; give them a moment.
    for _ in 0..50 {
        if census.live() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    result.leaked_actors = census.live();
    Ok(result)
}

/// Which database a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The in-process model.
    Memory,
    /// A fresh schema on the Postgres server at `url`, dropped afterwards unless
    /// `keep_schema`.
    Postgres {
        /// The server.
        url: String,
        /// Leave the schema for inspection.
        keep_schema: bool,
    },
}

/// Where a run's database and webhooks go, and how webhooks are signed and answered.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The database.
    pub database: Database,
    /// The webhook endpoint.
    pub target: Target,
    /// The signing secret (`None`: derived from the seed).
    pub secret: Option<Secret>,
    /// The built-in receiver's answer when no fault applies.
    pub default_status: u16,
}

impl Setup {
    /// The memory store and the built-in receiver, in process.
    pub fn memory() -> Self {
        Setup { database: Database::Memory, target: Target::Builtin, secret: None, default_status: 200 }
    }

    /// A fresh schema on `url` and the built-in receiver over HTTP.
    pub fn postgres(url: impl Into<String>) -> Self {
        let database = Database::Postgres { url: url.into(), keep_schema: false };
        Setup { database, ..Setup::memory() }
    }

    /// Whether the run does no real I/O, so a paused clock can drive it.
    pub fn is_virtual(&self) -> bool {
        self.database == Database::Memory && self.target == Target::Builtin
    }
}

/// Runs `spec` as `setup` says. Must run inside an actix system; when
/// [`Setup::is_virtual`], a paused clock makes the run deterministic.
pub async fn execute(spec: ClusterSpec, setup: &Setup) -> Result<Trace> {
    // On the real clock, measure how late timers fire while the cluster runs; a paused
    // clock gets no timer of ours, so its history stays a function of the seed.
    let lag_bound = (!setup.is_virtual()).then(|| HostLag::bound_for(spec.config.heartbeat));
    let clock = Clock::start();
    let secret = setup.secret.clone().unwrap_or_else(|| secret_for(spec.seed));
    let receiver =
        Receiver::new(clock.clone(), Some(secret.clone())).with_default_status(setup.default_status);
    let external = |url: &String| Endpoint {
        transport: Transport::http(url.clone()),
        receiver: None,
        secret: secret.clone(),
    };
    match &setup.database {
        Database::Memory => {
            let endpoint = match &setup.target {
                Target::Builtin => Endpoint {
                    transport: Transport::InProcess(receiver.clone()),
                    receiver: Some(receiver),
                    secret: secret.clone(),
                },
                Target::Url(url) => external(url),
            };
            let db = MemoryStore::new();
            let pair = (spec.database.topology == Topology::PrimaryStandby)
                .then(|| DatabaseControl::model(db.clone(), spec.database.replication));
            probed(lag_bound, None, run(spec, Stores::Memory { db, pair }, endpoint, clock)).await
        }
        Database::Postgres { url, keep_schema } => {
            let ends = (receiver, secret, clock);
            postgres::execute(spec, setup, (url, *keep_schema), ends, lag_bound).await
        }
    }
}

/// Runs `run` with a [`LagProbe`] of `bound` beside it (none when `bound` is `None`)
/// and, given the database's connection `db`, a [`lag::ping`] of the server; gives
/// its result what they saw.
pub(super) async fn probed(
    bound: Option<Duration>,
    db: Option<&mut sqlx::PgConnection>,
    run: impl Future<Output = Result<Trace>>,
) -> Result<Trace> {
    use futures_util::future::{Either, select};
    let Some(probe) = bound.map(LagProbe::start) else { return run.await };
    let Some(db) = db else {
        let mut result = run.await?;
        result.host_lag = Some(probe.finish());
        return Ok(result);
    };
    let mut seen = DbLag::default();
    let outcome = match select(std::pin::pin!(run), std::pin::pin!(lag::ping(db, &mut seen))).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(((), _)) => unreachable!("the ping never ends"),
    };
    let mut result = outcome?;
    result.host_lag = Some(probe.finish().with_database(seen));
    Ok(result)
}

/// The signing secret of a run, derived from its seed.
fn secret_for(seed: u64) -> Secret {
    use rand::SeedableRng;
    Secret::generate(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed))
}
