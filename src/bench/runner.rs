//! The machinery of a run: the environment (schema, plans, client threads), the
//! replicas (actors on pools), and the racers that drive them.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix::{Arbiter, ArbiterHandle};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use tokio::sync::{Barrier, mpsc, oneshot, watch};

use super::mechanism::{ClaimActor, Mechanism, MechanismClaim};
use super::pgbench::{self, PgbenchResult};
use super::{BenchError, Histogram, PgbenchOptions, PointResult, Stop, Target, Workload, load_1m, rss_kib};
use crate::actors::{ClaimEvent, ResetClaim, StoreActor};
use crate::history::History;
use crate::model::{EventType, PlanId, ReplicaId};
use crate::store::{Backend, Claim, MemoryStore, NewPlan, PgStore, RunSchema, Store, redact_url};
use crate::{Error, Result};

/// Consecutive plan ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRange {
    /// The first id.
    pub first: i64,
    /// How many.
    pub count: u32,
}

impl PlanRange {
    /// The `i`-th plan, wrapping around.
    pub fn nth(&self, i: u64) -> PlanId {
        PlanId(self.first + (i % u64::from(self.count.max(1))) as i64)
    }

    /// The last id.
    pub fn last(&self) -> i64 {
        self.first + i64::from(self.count) - 1
    }

    fn prefix(&self, count: u32) -> PlanRange {
        PlanRange { first: self.first, count: count.min(self.count) }
    }
}

/// What one run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSpec {
    /// The workload.
    pub workload: Workload,
    /// The claim mechanism.
    pub mechanism: Mechanism,
    /// P: claims go to the first `plans` plans of the environment.
    pub plans: u32,
    /// When the run ends.
    pub stop: Stop,
    /// Seed of the random plan choices.
    pub seed: u64,
    /// Sample the server's wait events.
    pub sample_waits: bool,
    /// How claims reach the database.
    pub path: ClaimPath,
}

/// How a replica's claims reach the database. Only [`ClaimPath::Actor`] is the
/// simulator's path; the others take layers away to show what each costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimPath {
    /// Messages to the replica's store actor (or claim actor), which runs the store's
    /// operation on the replica's pool: what replicas do.
    Actor,
    /// The same store operation called on the replica's pool, without the actors.
    Pool,
    /// The same statements on one connection the replica holds for the whole run: no
    /// pool, so none of its liveness round trips (memory: as `pool`).
    Connection,
}

impl RunSpec {
    /// A run of `workload` with `mechanism` on `plans` plans until `stop` (seed 1,
    /// through the actors, no wait sampling).
    pub fn new(workload: Workload, mechanism: Mechanism, plans: u32, stop: Stop) -> Self {
        RunSpec { workload, mechanism, plans, stop, seed: 1, sample_waits: false, path: ClaimPath::Actor }
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

/// The share of sampled server backends of a run in one state (`CPU`,
/// `Lock:transactionid`, `IO:WALSync`, `idle (ClientRead)`...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitSample {
    /// The state: a wait event (`type:event`), `CPU` (active, not waiting), or the
    /// backend's state when it is not running a statement.
    pub what: String,
    /// The share of all samples, 0..=1.
    pub share: f64,
}

enum EnvBackend {
    Postgres { url: String, schema: Box<RunSchema>, admin: PgPool },
    Memory(MemoryStore),
}

/// A bench environment: a migrated schema (or a memory model) with the plans, and the
/// client threads replicas run on. Must be created inside an actix `System`.
///
/// [`BenchEnv::close`] drops the schema; an environment dropped without it (a panic,
/// an early return) drops its schema on a thread of its own, so no run is left behind.
pub struct BenchEnv {
    backend: EnvBackend,
    plans: PlanRange,
    warm: PlanRange,
    arbiters: Vec<Arbiter>,
    pool: PoolSettings,
    closed: bool,
}

impl std::fmt::Debug for BenchEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchEnv").field("schema", &self.schema_name()).field("plans", &self.plans).finish()
    }
}

impl BenchEnv {
    /// Creates the schema (or memory model) with `plans` plans to claim plus one warm-up
    /// plan per replica, and `threads` client threads.
    pub async fn create(
        target: &Target,
        plans: u32,
        max_replicas: usize,
        threads: usize,
    ) -> Result<BenchEnv, BenchError> {
        if actix::System::try_current().is_none() {
            return Err(BenchError::Invalid("a bench must run inside an actix System".into()));
        }
        let total = u64::from(plans) + max_replicas as u64;
        let (backend, first) = match target {
            Target::Postgres { url } => {
                let schema = RunSchema::create(url).await?;
                match Self::prepare_pg(&schema, total).await {
                    Ok((admin, first)) => {
                        (EnvBackend::Postgres { url: url.clone(), schema: Box::new(schema), admin }, first)
                    }
                    Err(e) => {
                        let _ = schema.drop_schema().await;
                        return Err(e);
                    }
                }
            }
            Target::Memory => {
                let db = MemoryStore::new();
                let mut first = None;
                for n in 0..total {
                    let plan = NewPlan { project: "bench".into(), title: format!("plan {n}"), tasks: vec![] };
                    let id = db.create_plan(&plan).await?.plan.0;
                    let expected = *first.get_or_insert(id) + n as i64;
                    if id != expected {
                        return Err(BenchError::Invalid(format!("memory plan ids not consecutive: {id}")));
                    }
                }
                (EnvBackend::Memory(db), first.unwrap_or(1))
            }
        };
        let arbiters = (0..threads.max(1)).map(|_| Arbiter::new()).collect();
        Ok(BenchEnv {
            backend,
            plans: PlanRange { first, count: plans },
            warm: PlanRange { first: first + i64::from(plans), count: max_replicas as u32 },
            arbiters,
            pool: PoolSettings::default(),
            closed: false,
        })
    }

    async fn prepare_pg(schema: &RunSchema, total: u64) -> Result<(PgPool, i64), BenchError> {
        let admin = schema.pool("bench-admin", 2, None).await?;
        let (first, last, count): (i64, i64, i64) = sqlx::query_as(
            "WITH ins AS (INSERT INTO plan (project, title) \
             SELECT 'bench', 'plan ' || g FROM generate_series(1, $1::bigint) g RETURNING id) \
             SELECT min(id), max(id), count(*) FROM ins",
        )
        .bind(total as i64)
        .fetch_one(&admin)
        .await?;
        if last - first + 1 != count || count as u64 != total {
            return Err(BenchError::Invalid(format!(
                "plan ids not consecutive: {first}..{last} for {count}"
            )));
        }
        Ok((admin, first))
    }

    /// Sets how replicas' pools are made from now on.
    pub fn set_pool_settings(&mut self, settings: PoolSettings) {
        self.pool = settings;
    }

    /// The plans to claim.
    pub fn plans(&self) -> PlanRange {
        self.plans
    }

    /// The server URL (no password), for Postgres.
    pub fn url(&self) -> Option<&str> {
        match &self.backend {
            EnvBackend::Postgres { schema, .. } => Some(schema.url()),
            EnvBackend::Memory(_) => None,
        }
    }

    /// The run schema's name, for Postgres.
    pub fn schema_name(&self) -> Option<&str> {
        match &self.backend {
            EnvBackend::Postgres { schema, .. } => Some(schema.name()),
            EnvBackend::Memory(_) => None,
        }
    }

    /// `SELECT version()`, for Postgres.
    pub async fn server_version(&self) -> Result<Option<String>, BenchError> {
        match &self.backend {
            EnvBackend::Postgres { admin, .. } => {
                let (v,): (String,) = sqlx::query_as("SELECT version()").fetch_one(admin).await?;
                Ok(Some(v))
            }
            EnvBackend::Memory(_) => Ok(None),
        }
    }

    /// Starts `n` replicas, each a store actor (and, for the transactional mechanisms, a
    /// claim actor) on a pool of its own, spread over the client threads.
    pub async fn start_replicas(&self, n: usize, mechanism: Mechanism) -> Result<Replicas, BenchError> {
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
                    PoolSource::Pg { url: url.clone(), schema: schema.clone(), settings: self.pool }
                }
                EnvBackend::Memory(db) => PoolSource::Memory(db.clone()),
            };
            let (tx, rx) = oneshot::channel();
            arbiter.spawn(async move {
                let _ = tx.send(start_replica(i, source, mechanism).await);
            });
            pending.push((arbiter, rx));
        }
        let mut list = Vec::with_capacity(n);
        let mut failure = None;
        for (arbiter, rx) in pending {
            match rx.await {
                Ok(Ok((store, claimer, backend, pool))) => {
                    list.push(Replica { arbiter, store, claimer, backend, pool })
                }
                Ok(Err(e)) => failure = failure.or(Some(e)),
                Err(_) => failure = failure.or(Some(Error::ActorGone("bench client thread"))),
            }
        }
        let replicas = Replicas { list, mechanism };
        if let Some(e) = failure {
            replicas.close().await;
            return Err(e.into());
        }
        Ok(replicas)
    }

    /// Empties the claim table and settles the server (vacuum, checkpoint) so every
    /// run starts alike.
    async fn clean(&self) -> Result<(), BenchError> {
        match &self.backend {
            EnvBackend::Postgres { admin, .. } => {
                sqlx::query("DELETE FROM plan_webhook_delivery").execute(admin).await?;
                sqlx::query("VACUUM (ANALYZE) plan_webhook_delivery").execute(admin).await?;
                // Needs superuser or pg_checkpoint; without it runs just settle less.
                let _ = sqlx::query("CHECKPOINT").execute(admin).await;
            }
            EnvBackend::Memory(db) => {
                for row in db.claims().await? {
                    db.reset_claim(row.plan).await?;
                }
            }
        }
        Ok(())
    }

    async fn rows_left(&self) -> Result<u64, BenchError> {
        Ok(match &self.backend {
            EnvBackend::Postgres { admin, .. } => {
                let (n,): (i64,) =
                    sqlx::query_as("SELECT count(*) FROM plan_webhook_delivery").fetch_one(admin).await?;
                n as u64
            }
            EnvBackend::Memory(db) => db.claims().await?.len() as u64,
        })
    }

    fn sampler(&self, label_pattern: &str, enabled: bool) -> Option<WaitSampler> {
        match &self.backend {
            EnvBackend::Postgres { admin, schema, .. } if enabled => {
                Some(WaitSampler::start(admin.clone(), format!("{}/{label_pattern}", schema.name())))
            }
            _ => None,
        }
    }

    /// Runs `spec` once on `replicas` (started with the same mechanism).
    pub async fn run(&self, replicas: &Replicas, spec: &RunSpec) -> Result<PointResult, BenchError> {
        Ok(self.run_measured(replicas, spec).await?.0)
    }

    /// [`BenchEnv::run`], with the latency histogram (to merge repeats).
    pub(crate) async fn run_measured(
        &self,
        replicas: &Replicas,
        spec: &RunSpec,
    ) -> Result<(PointResult, Histogram), BenchError> {
        let RunSpec { workload, mechanism, plans, stop, seed, sample_waits, path } = *spec;
        if replicas.mechanism != mechanism {
            return Err(BenchError::Invalid(format!(
                "replicas started for {} cannot run {mechanism}",
                replicas.mechanism
            )));
        }
        if workload == Workload::Outbox {
            return Err(BenchError::Invalid("the outbox workload is not available yet".into()));
        }
        if plans == 0 || plans > self.plans.count {
            return Err(BenchError::Invalid(format!("{plans} plans asked for, {} exist", self.plans.count)));
        }
        let range = self.plans.prefix(plans);
        let r = replicas.len();
        self.clean().await?;
        let rss_kib_before = rss_kib();
        let load_before = load_1m();
        let cpu_before = cpu_seconds();

        let (ready_tx, mut ready_rx) = mpsc::channel::<()>(r.max(1));
        let (go_tx, go_rx) = watch::channel(None::<Go>);
        let hot = Arc::new(HotShared { barrier: Barrier::new(r), ..HotShared::default() });
        let mut tallies = Vec::with_capacity(r);
        for (i, replica) in replicas.list.iter().enumerate() {
            let racer = Racer {
                index: i,
                store: replica.store.clone(),
                claimer: replica.claimer.clone(),
                path,
                direct: (path != ClaimPath::Actor).then(|| Direct {
                    backend: replica.backend.clone(),
                    pool: replica.pool.clone(),
                    conn: None,
                }),
                mechanism,
                plans: range,
                warm: self.warm.nth(i as u64),
                stop,
                rng: ChaCha8Rng::seed_from_u64(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                ready: ready_tx.clone(),
                go: go_rx.clone(),
                hot: hot.clone(),
            };
            let (tx, rx) = oneshot::channel();
            replica.arbiter.spawn(async move {
                let _ = tx.send(racer.run(workload).await);
            });
            tallies.push(rx);
        }
        drop(ready_tx);
        for _ in 0..r {
            if ready_rx.recv().await.is_none() {
                break;
            }
        }
        let sampler = self.sampler("r%", sample_waits);
        let start = Instant::now();
        let deadline = match stop {
            Stop::Duration(d) => Some(start + d),
            Stop::ClaimsPerReplica(_) => None,
        };
        let _ = go_tx.send(Some(Go { deadline }));
        let mut total = Tally::default();
        let mut end = start;
        for rx in tallies {
            let tally = rx.await.map_err(|_| Error::ActorGone("bench racer"))?;
            end = end.max(tally.end.unwrap_or(start));
            total.merge(tally);
        }
        let waits = match sampler {
            Some(s) => s.finish().await,
            None => Vec::new(),
        };
        let elapsed_s = end.duration_since(start).as_secs_f64().max(1e-9);
        let client_cpu_s = cpu_seconds() - cpu_before;
        let rows_left = self.rows_left().await?;
        let unaccounted = total.wins.saturating_sub(total.resets_found + rows_left);
        let (rounds, empty_rounds, round_dups) = if workload == Workload::Hot {
            (
                Some(hot.rounds.load(Ordering::Acquire)),
                hot.empty_rounds.load(Ordering::Acquire),
                hot.duplicates.load(Ordering::Acquire),
            )
        } else {
            (None, 0, 0)
        };
        let point = PointResult {
            replicas: r,
            plans,
            claims: total.claims,
            wins: total.wins,
            errors: total.errors,
            first_error: total.first_error,
            rounds,
            empty_rounds,
            duplicates: round_dups.max(unaccounted),
            resets_found: total.resets_found,
            rows_left,
            elapsed_s,
            claims_per_s: total.claims as f64 / elapsed_s,
            winners_per_s: total.wins as f64 / elapsed_s,
            latency: total.hist.summary(),
            client_cpu_us_per_claim: client_cpu_s * 1e6 / total.claims.max(1) as f64,
            path,
            rss_kib_before,
            rss_kib_after: rss_kib(),
            load_before,
            waits,
            runs_claims_per_s: Vec::new(),
            pgbench: None,
            pgbench_runs_tps: Vec::new(),
            ratio: None,
            run_ratios: Vec::new(),
        };
        Ok((point, total.hist))
    }

    /// Runs pgbench on the same statements as `run` would, with `replicas` clients, on
    /// this schema.
    #[allow(clippy::too_many_arguments)]
    pub async fn pgbench(
        &self,
        options: &PgbenchOptions,
        workload: Workload,
        mechanism: Mechanism,
        replicas: usize,
        plans: u32,
        stop: Stop,
        seed: u64,
        sample_waits: bool,
    ) -> Result<PgbenchResult, BenchError> {
        let EnvBackend::Postgres { url, schema, .. } = &self.backend else {
            return Err(BenchError::Invalid("pgbench needs Postgres".into()));
        };
        if plans == 0 || plans > self.plans.count {
            return Err(BenchError::Invalid(format!("{plans} plans asked for, {} exist", self.plans.count)));
        }
        let scripts = pgbench::scripts(workload, mechanism, self.plans.prefix(plans), replicas)?;
        self.clean().await?;
        let sampler = self.sampler("pgbench", sample_waits);
        let job = pgbench::Job {
            program: options.program.clone(),
            url: url.clone(),
            shown_url: redact_url(url),
            schema: schema.name().to_owned(),
            clients: replicas,
            threads: options.threads.clamp(1, replicas.max(1)),
            stop,
            seed,
            scripts,
        };
        let (tx, rx) = oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(pgbench::run(&job));
        });
        let result = rx.await.map_err(|_| Error::ActorGone("pgbench runner"));
        let waits = match sampler {
            Some(s) => s.finish().await,
            None => Vec::new(),
        };
        let mut result = result??;
        result.waits = waits;
        Ok(result)
    }

    /// Stops the client threads and drops the schema.
    pub async fn close(mut self) -> Result<(), BenchError> {
        let arbiters = std::mem::take(&mut self.arbiters);
        for arbiter in &arbiters {
            arbiter.stop();
        }
        let _ = tokio::task::spawn_blocking(move || {
            for arbiter in arbiters {
                let _ = arbiter.join();
            }
        })
        .await;
        self.closed = true;
        if let EnvBackend::Postgres { schema, admin, .. } = &self.backend {
            admin.close().await;
            schema.drop_schema().await?;
        }
        Ok(())
    }
}

impl Drop for BenchEnv {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        if self.closed {
            return;
        }
        if let EnvBackend::Postgres { schema, .. } = &self.backend {
            // This may run during a panic or inside a busy actix system: drop the schema
            // on a runtime of its own.
            let schema = schema.clone();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(schema.drop_schema()).ok()
            })
            .join();
        }
    }
}

enum PoolSource {
    Pg { url: String, schema: Box<RunSchema>, settings: PoolSettings },
    Memory(MemoryStore),
}

type Started = (Addr<StoreActor>, Option<Addr<ClaimActor>>, Backend, Option<PgPool>);

/// Runs on the replica's client thread, so its pool's sockets and its actors live there.
async fn start_replica(i: usize, source: PoolSource, mechanism: Mechanism) -> Result<Started> {
    let replica = ReplicaId::nth(i + 1);
    match source {
        PoolSource::Pg { url, schema, settings } => {
            let pool = if settings.ping_on_acquire {
                schema.pool(replica.as_str(), settings.connections, None).await?
            } else {
                unpinged_pool(&url, &schema, replica.as_str(), settings.connections).await?
            };
            let claimer = (mechanism != Mechanism::OnConflict).then(|| ClaimActor::new(pool.clone()).start());
            let backend = Backend::Postgres(PgStore::new(pool.clone()));
            let store = StoreActor::new(replica, backend.clone(), History::discard()).start();
            Ok((store, claimer, backend, Some(pool)))
        }
        PoolSource::Memory(db) => {
            let backend = Backend::Memory(db);
            Ok((StoreActor::new(replica, backend.clone(), History::discard()).start(), None, backend, None))
        }
    }
}

/// A pool like [`RunSchema::pool`]'s (same schema, same application name, so the
/// schema's `terminate` finds it) without the round trip before each use.
async fn unpinged_pool(url: &str, schema: &RunSchema, label: &str, connections: u32) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| Error::BadUrl { url: redact_url(url), reason: e.to_string() })?
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

struct Replica {
    arbiter: ArbiterHandle,
    store: Addr<StoreActor>,
    claimer: Option<Addr<ClaimActor>>,
    /// What the store actor holds, for direct calls.
    backend: Backend,
    pool: Option<PgPool>,
}

/// Running replicas, each on its client thread.
pub struct Replicas {
    list: Vec<Replica>,
    mechanism: Mechanism,
}

impl std::fmt::Debug for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replicas").field("count", &self.list.len()).finish()
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

    /// Stops the actors and closes every pool (on its own thread), so the next point
    /// starts with the server's connections free.
    pub async fn close(self) {
        let mut closing = Vec::with_capacity(self.list.len());
        for replica in self.list {
            let Replica { arbiter, store, claimer, backend, pool } = replica;
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

#[derive(Clone, Copy, Debug)]
struct Go {
    deadline: Option<Instant>,
}

/// The rounds of `hot`, shared by its racers.
#[derive(Debug)]
struct HotShared {
    barrier: Barrier,
    stopping: AtomicBool,
    winners: AtomicU64,
    rounds: AtomicU64,
    empty_rounds: AtomicU64,
    duplicates: AtomicU64,
}

impl Default for HotShared {
    fn default() -> Self {
        HotShared {
            barrier: Barrier::new(1),
            stopping: AtomicBool::new(false),
            winners: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            empty_rounds: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    claims: u64,
    wins: u64,
    errors: u64,
    first_error: Option<String>,
    resets_found: u64,
    hist: Histogram,
    end: Option<Instant>,
}

impl Tally {
    fn error(&mut self, e: &Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    fn merge(&mut self, other: Tally) {
        self.claims += other.claims;
        self.wins += other.wins;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.resets_found += other.resets_found;
        self.hist.merge(&other.hist);
    }
}

/// One replica's driver: sends claims to its actor, one at a time.
struct Racer {
    index: usize,
    store: Addr<StoreActor>,
    claimer: Option<Addr<ClaimActor>>,
    path: ClaimPath,
    direct: Option<Direct>,
    mechanism: Mechanism,
    plans: PlanRange,
    warm: PlanId,
    stop: Stop,
    rng: ChaCha8Rng,
    ready: mpsc::Sender<()>,
    go: watch::Receiver<Option<Go>>,
    hot: Arc<HotShared>,
}

const EVENT: EventType = EventType::PipelineFailed;

/// The store a replica's actors hold, for calls that bypass them.
struct Direct {
    backend: Backend,
    pool: Option<PgPool>,
    /// [`ClaimPath::Connection`]: the connection held for the run.
    conn: Option<PoolConnection<Postgres>>,
}

impl Racer {
    async fn claim(&mut self, plan: PlanId) -> Result<Claim> {
        if let Some(direct) = &mut self.direct {
            if let Some(conn) = &mut direct.conn {
                return super::mechanism::claim_on(conn, self.mechanism, plan, EVENT).await;
            }
            return match (&direct.pool, self.mechanism) {
                (Some(pool), Mechanism::Advisory | Mechanism::ForUpdate) => {
                    super::mechanism::claim(pool, self.mechanism, plan, EVENT).await
                }
                _ => direct.backend.claim_event(plan, EVENT).await,
            };
        }
        match &self.claimer {
            None => self
                .store
                .send(ClaimEvent { plan, event: EVENT })
                .await
                .map_err(|_| Error::ActorGone("store"))?,
            Some(claimer) => claimer
                .send(MechanismClaim { mechanism: self.mechanism, plan, event: EVENT })
                .await
                .map_err(|_| Error::ActorGone("claim"))?,
        }
    }

    async fn reset(&mut self, plan: PlanId) -> Result<Option<EventType>> {
        if let Some(direct) = &mut self.direct {
            if let Some(conn) = &mut direct.conn {
                return super::mechanism::reset_on(conn, plan).await;
            }
            return direct.backend.reset_claim(plan).await;
        }
        self.store.send(ResetClaim { plan }).await.map_err(|_| Error::ActorGone("store"))?
    }

    /// Claims and resets the replica's own warm-up plan, so connections are open and
    /// statements prepared before the clock starts (pgbench prepares before it too).
    async fn warm_up(&mut self, tally: &mut Tally) {
        if self.path == ClaimPath::Connection
            && let Some(direct) = &mut self.direct
            && let Some(pool) = &direct.pool
        {
            match pool.acquire().await {
                Ok(conn) => direct.conn = Some(conn),
                Err(e) => tally.error(&e.into()),
            }
        }
        let warm = self.warm;
        if let Err(e) = self.claim(warm).await {
            tally.error(&e);
        }
        if let Err(e) = self.reset(warm).await {
            tally.error(&e);
        }
    }

    async fn run(mut self, workload: Workload) -> Tally {
        let mut tally = Tally::default();
        self.warm_up(&mut tally).await;
        let _ = self.ready.send(()).await;
        let go = match self.go.wait_for(Option::is_some).await {
            Ok(go) => *go,
            Err(_) => None,
        };
        let Some(go) = go else { return tally };
        match workload {
            Workload::Hot => self.hot(go, &mut tally).await,
            _ => self.free(workload, go, &mut tally).await,
        }
        tally.end = Some(Instant::now());
        tally
    }

    /// One claim, timed; `Some(true)` when won.
    async fn timed_claim(&mut self, plan: PlanId, tally: &mut Tally) -> Option<bool> {
        let sent = Instant::now();
        let claim = self.claim(plan).await;
        tally.hist.record(sent.elapsed());
        tally.claims += 1;
        match claim {
            Ok(Claim::Won) => {
                tally.wins += 1;
                Some(true)
            }
            Ok(Claim::Lost) => Some(false),
            Err(e) => {
                tally.error(&e);
                None
            }
        }
    }

    async fn reset_won(&mut self, plan: PlanId, tally: &mut Tally) {
        match self.reset(plan).await {
            Ok(Some(_)) => tally.resets_found += 1,
            // Another replica deleted this winner's row: it had won too.
            Ok(None) => {}
            Err(e) => tally.error(&e),
        }
    }

    /// `spread` and `cycle`: claim after claim, no coordination.
    async fn free(&mut self, workload: Workload, go: Go, tally: &mut Tally) {
        let own = self.plans.nth(self.index as u64);
        loop {
            let plan = match workload {
                Workload::Spread => self.plans.nth(self.rng.random_range(0..u64::from(self.plans.count))),
                _ => own,
            };
            // spread keeps what it won; cycle sends (a no-op) and resets.
            if self.timed_claim(plan, tally).await == Some(true) && workload == Workload::Cycle {
                self.reset_won(plan, tally).await;
            }
            let done = match (self.stop, go.deadline) {
                (Stop::ClaimsPerReplica(n), _) => tally.claims >= n,
                (_, Some(deadline)) => Instant::now() >= deadline,
                (_, None) => true,
            };
            if done {
                break;
            }
        }
    }

    /// `hot`: rounds. Everyone claims round k's plan at once; after all have answered,
    /// the winner resets and one racer (the barrier's leader) scores the round and
    /// decides whether another starts. Each decision is read only after the next
    /// barrier, so all racers see the same one.
    async fn hot(&mut self, go: Go, tally: &mut Tally) {
        let shared = self.hot.clone();
        let mut round = 0u64;
        loop {
            shared.barrier.wait().await;
            if shared.stopping.load(Ordering::Acquire) {
                break;
            }
            let plan = self.plans.nth(round);
            round += 1;
            let won = self.timed_claim(plan, tally).await == Some(true);
            if won {
                shared.winners.fetch_add(1, Ordering::AcqRel);
            }
            let leader = shared.barrier.wait().await.is_leader();
            if won {
                self.reset_won(plan, tally).await;
            }
            if leader {
                let winners = shared.winners.swap(0, Ordering::AcqRel);
                let rounds = shared.rounds.fetch_add(1, Ordering::AcqRel) + 1;
                if winners == 0 {
                    shared.empty_rounds.fetch_add(1, Ordering::AcqRel);
                }
                shared.duplicates.fetch_add(winners.saturating_sub(1), Ordering::AcqRel);
                let done = match (self.stop, go.deadline) {
                    (Stop::ClaimsPerReplica(n), _) => rounds >= n,
                    (_, Some(deadline)) => Instant::now() >= deadline,
                    (_, None) => true,
                };
                if done {
                    shared.stopping.store(true, Ordering::Release);
                }
            }
        }
    }
}

/// CPU time (user + system) this process has used, in seconds (0 without /proc).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after ')'.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    (ticks(11) + ticks(12)) / 100.0
}

/// Samples `pg_stat_activity` for the run's backends every 50 ms.
struct WaitSampler {
    stop: oneshot::Sender<()>,
    done: oneshot::Receiver<BTreeMap<String, u64>>,
}

impl WaitSampler {
    fn start(admin: PgPool, pattern: String) -> WaitSampler {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (report, done) = oneshot::channel();
        actix::spawn(async move {
            let mut counts = BTreeMap::new();
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let rows: std::result::Result<Vec<(String, i64)>, _> = sqlx::query_as(
                    "SELECT CASE WHEN state = 'active' \
                                 THEN coalesce(wait_event_type || ':' || wait_event, 'CPU') \
                                 ELSE coalesce(state, '?') || coalesce(' (' || wait_event || ')', '') END, \
                            count(*) \
                     FROM pg_stat_activity WHERE application_name LIKE $1 GROUP BY 1",
                )
                .bind(&pattern)
                .fetch_all(&admin)
                .await;
                for (what, n) in rows.unwrap_or_default() {
                    *counts.entry(what).or_insert(0) += n as u64;
                }
            }
            let _ = report.send(counts);
        });
        WaitSampler { stop, done }
    }

    async fn finish(self) -> Vec<WaitSample> {
        let _ = self.stop.send(());
        let counts = self.done.await.unwrap_or_default();
        let total: u64 = counts.values().sum();
        let mut samples: Vec<WaitSample> = counts
            .into_iter()
            .map(|(what, n)| WaitSample { what, share: n as f64 / total.max(1) as f64 })
            .collect();
        samples.sort_by(|a, b| b.share.total_cmp(&a.share).then_with(|| a.what.cmp(&b.what)));
        samples
    }
}
