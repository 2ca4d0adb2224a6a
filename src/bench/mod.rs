//! Claim-contention benchmarks, shared by `hasim bench` and `benches/claim_contention.rs`.
//!
//! R replicas (each its own [`crate::actors::StoreActor`] on its own pool, like separate
//! processes) race for the claim on `plan_webhook_delivery`:
//!
//! - [`Workload::Hot`]: rounds. All R claim the same plan at the same moment, exactly one
//!   wins, the winner resets the claim, and the next round starts only when everyone
//!   has answered: the worst case of the design (losers wait on the winner's insert).
//! - [`Workload::Spread`]: each replica claims plans drawn at random (seeded) from P and
//!   keeps what it wins. With P far above the claims of a run, nearly every claim
//!   inserts a new row; with P small, nearly every claim finds a committed row and
//!   loses at once. Contention falls as P grows.
//! - [`Workload::Cycle`]: each replica claims, "sends" (a no-op) and resets, over and
//!   over, on plan `replica mod P` (P defaults to R: a plan each, so every claim wins),
//!   like retries on a busy plan: the cost of one claim + reset cycle. With P < R,
//!   replicas share plans and race.
//!
//! Each runs with any [`Mechanism`]. A run measures claims/s, winners/s, latency
//! percentiles (send to answer, through the actor) and duplicate winners, which must
//! be 0. With [`PgbenchOptions`], pgbench runs the same statements with the same number
//! of clients on the same schema right after, and the report gives the ratio.
//!
//! The library never prints: [`sweep`] returns a [`BenchReport`]; [`report`] renders it.

pub mod cli;
mod histogram;
mod mechanism;
pub mod pgbench;
pub mod report;
mod runner;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use histogram::{Histogram, LatencySummary};
pub use mechanism::{
    ADVISORY_LOCK, ClaimActor, INSERT_IF_ABSENT, Mechanism, MechanismClaim, ON_CONFLICT_CLAIM, PLAN_LOCK,
    RESET, claim,
};
pub use pgbench::PgbenchResult;
pub use runner::{BenchEnv, ClaimPath, PlanRange, PoolSettings, Replicas, RunSpec, WaitSample};

/// What the replicas do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Rounds: all replicas claim one plan at once, one wins and resets, next round.
    Hot,
    /// Claims on plans drawn at random from P, keeping what is won (no reset).
    Spread,
    /// Claim, send (no-op), reset, on plan `replica mod P` (P = replicas by default).
    Cycle,
    /// Relays taking pending outbox rows with SKIP LOCKED and a lease. Needs the outbox
    /// table (migration 0002) that the delivery-strategies work adds: not available yet.
    Outbox,
}

impl Workload {
    /// The name the CLI and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Hot => "hot",
            Workload::Spread => "spread",
            Workload::Cycle => "cycle",
            Workload::Outbox => "outbox",
        }
    }

    /// P when none is given: 1 for `hot`, 1,000,000 for `spread` (a new row per claim
    /// for the first hundreds of thousands), one per replica for `cycle`.
    pub fn default_plans(self, replicas: usize) -> u32 {
        match self {
            Workload::Hot => 1,
            Workload::Spread => 1_000_000,
            Workload::Cycle | Workload::Outbox => replicas as u32,
        }
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the claims go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Postgres server (each run in a schema of its own).
    Postgres {
        /// Its URL.
        url: String,
    },
    /// The in-process memory model (`on-conflict` only): the model's own cost.
    Memory,
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// After this long (claims in flight at the deadline are finished and counted).
    Duration(#[serde(with = "millis")] Duration),
    /// After this many claims per replica (`hot`: this many rounds).
    ClaimsPerReplica(u64),
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// pgbench beside each point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgbenchOptions {
    /// The pgbench program (`pgbench` looks it up in PATH).
    pub program: PathBuf,
    /// pgbench's `-j` (capped at the client count).
    pub threads: usize,
}

impl Default for PgbenchOptions {
    fn default() -> Self {
        PgbenchOptions { program: PathBuf::from("pgbench"), threads: 2 }
    }
}

/// One sweep: a workload and a mechanism at several replica counts.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// What the replicas do.
    pub workload: Workload,
    /// How they claim.
    pub mechanism: Mechanism,
    /// Where.
    pub target: Target,
    /// The replica counts, in order.
    pub replicas: Vec<usize>,
    /// P, the plans claimed ([`Workload::default_plans`] when `None`).
    pub plans: Option<u32>,
    /// When each point ends.
    pub stop: Stop,
    /// Client threads (actix arbiters) the replicas are spread over, like pgbench's -j.
    pub threads: usize,
    /// Seed of the random plan choices (`spread`), also given to pgbench.
    pub seed: u64,
    /// Run pgbench beside each point.
    pub pgbench: Option<PgbenchOptions>,
    /// Runs per replica count (hasim and pgbench alternating, the order swapped every
    /// repeat); rates are medians, counts are sums. Helps on a noisy machine.
    pub repeat: usize,
    /// Sample the server's wait events (pg_stat_activity) during each run.
    pub sample_waits: bool,
    /// How claims reach the database (the actors, unless profiling).
    pub path: ClaimPath,
    /// How replicas' pools are made.
    pub pool: PoolSettings,
}

impl BenchConfig {
    /// A sweep with the defaults of `hasim bench`: 5 s points, 2 threads, seed 1.
    pub fn new(workload: Workload, mechanism: Mechanism, target: Target, replicas: Vec<usize>) -> Self {
        BenchConfig {
            workload,
            mechanism,
            target,
            replicas,
            plans: None,
            stop: Stop::Duration(Duration::from_secs(5)),
            threads: 2,
            seed: 1,
            pgbench: None,
            repeat: 1,
            sample_waits: true,
            path: ClaimPath::Actor,
            pool: PoolSettings::default(),
        }
    }

    /// Checks the configuration before anything connects.
    pub fn validate(&self) -> Result<(), BenchError> {
        let invalid = |m: String| Err(BenchError::Invalid(m));
        if self.workload == Workload::Outbox {
            return invalid(
                "the outbox workload needs the outbox table (migration 0002), which the delivery \
                 strategies add; it is not available yet (use hot, spread or cycle)"
                    .into(),
            );
        }
        if self.replicas.is_empty() {
            return invalid("no replica counts given".into());
        }
        if let Some(&bad) = self.replicas.iter().find(|&&r| r == 0 || r > MAX_REPLICAS) {
            return invalid(format!("replica count {bad} is out of range (1..={MAX_REPLICAS})"));
        }
        if self.plans == Some(0) {
            return invalid("--plans must be at least 1".into());
        }
        if self.repeat == 0 {
            return invalid("repeat must be at least 1".into());
        }
        if self.pool.connections == 0 {
            return invalid("each replica needs at least 1 connection".into());
        }
        if self.threads == 0 {
            return invalid("threads must be at least 1".into());
        }
        match self.stop {
            Stop::Duration(d) if d.is_zero() => return invalid("duration must be positive".into()),
            Stop::ClaimsPerReplica(0) => return invalid("claims per replica must be positive".into()),
            _ => {}
        }
        if self.target == Target::Memory {
            if self.mechanism != Mechanism::OnConflict {
                return invalid(format!(
                    "the {} mechanism needs Postgres; the memory model has only the on-conflict claim",
                    self.mechanism
                ));
            }
            if self.pgbench.is_some() {
                return invalid("--pgbench needs Postgres, not the memory model".into());
            }
        }
        Ok(())
    }

    /// P at `replicas`.
    pub fn plans_at(&self, replicas: usize) -> u32 {
        self.plans.unwrap_or_else(|| self.workload.default_plans(replicas))
    }
}

/// The most replicas a point may have (each holds a connection).
pub const MAX_REPLICAS: usize = 256;

/// Why a bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The configuration (the command line) asks for something impossible.
    #[error("{0}")]
    Invalid(String),
    /// pgbench was asked for but is not installed.
    #[error(
        "--pgbench needs pgbench, which was not found as `{program}` (install the PostgreSQL \
         client, e.g. `apt-get install postgresql-client`, or pass --pgbench-bin PATH)"
    )]
    PgbenchMissing {
        /// What was looked for.
        program: String,
    },
    /// pgbench ran and failed.
    #[error("pgbench failed: {0}")]
    Pgbench(String),
    /// The store (connect, migrate, a statement) failed.
    #[error(transparent)]
    Store(#[from] crate::Error),
    /// A file could not be written or read.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

impl BenchError {
    /// Whether this is the user's to fix (bad arguments, unreachable server, missing
    /// pgbench): the CLI exits 2 for those, as for a usage error.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            BenchError::Invalid(_)
                | BenchError::PgbenchMissing { .. }
                | BenchError::Store(crate::Error::Connect { .. } | crate::Error::BadUrl { .. })
        )
    }
}

impl From<sqlx::Error> for BenchError {
    fn from(e: sqlx::Error) -> Self {
        BenchError::Store(e.into())
    }
}

/// One replica count's measurements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PointResult {
    /// R.
    pub replicas: usize,
    /// P.
    pub plans: u32,
    /// Claims answered (won, lost or failed).
    pub claims: u64,
    /// Claims won.
    pub wins: u64,
    /// Claims that failed with an error (0 in a healthy run).
    pub errors: u64,
    /// The first error's message.
    pub first_error: Option<String>,
    /// `hot`: rounds played.
    pub rounds: Option<u64>,
    /// `hot`: rounds nobody won (must be 0).
    pub empty_rounds: u64,
    /// Duplicate winners: `hot`, winners beyond the first in each round; every
    /// workload, wins that no reset found a row for (a winner whose row another
    /// replica deleted was not alone in its plan-round). Must be 0.
    pub duplicates: u64,
    /// Resets that deleted the winner's row.
    pub resets_found: u64,
    /// Claim rows still there after the run.
    pub rows_left: u64,
    /// Seconds from the start signal to the last replica's last answer.
    pub elapsed_s: f64,
    /// Claims per second.
    pub claims_per_s: f64,
    /// Wins per second.
    pub winners_per_s: f64,
    /// Claim latency through the actor (send to answer).
    pub latency: LatencySummary,
    /// CPU time of this process (every client thread) per claim, in microseconds.
    pub client_cpu_us_per_claim: f64,
    /// How the claims reached the database.
    pub path: ClaimPath,
    /// The process's resident memory before the point, in KiB.
    pub rss_kib_before: u64,
    /// ... and after it.
    pub rss_kib_after: u64,
    /// The 1-minute load average before the point.
    pub load_before: f64,
    /// Where the run's server backends spent their time (sampled; empty when off).
    pub waits: Vec<WaitSample>,
    /// With repeats: each run's claims/s (`claims_per_s` is their median).
    pub runs_claims_per_s: Vec<f64>,
    /// pgbench on the same statements, when asked for (with repeats, the run of median
    /// tps).
    pub pgbench: Option<PgbenchResult>,
    /// With repeats: each pgbench run's tps.
    pub pgbench_runs_tps: Vec<f64>,
    /// hasim's claims/s over pgbench's transactions/s (one claim per transaction);
    /// with repeats, the median of the ratios of runs made back to back.
    pub ratio: Option<f64>,
    /// With repeats: each back-to-back pair's ratio.
    pub run_ratios: Vec<f64>,
}

/// A whole sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    /// The workload.
    pub workload: Workload,
    /// The mechanism.
    pub mechanism: Mechanism,
    /// `postgres` or `memory`.
    pub backend: String,
    /// The server's URL (no password), for Postgres.
    pub database_url: Option<String>,
    /// `SELECT version()`, for Postgres.
    pub server_version: Option<String>,
    /// The run's schema.
    pub schema: Option<String>,
    /// When each point ends.
    pub stop: Stop,
    /// Client threads.
    pub threads: usize,
    /// Runs per replica count.
    pub repeat: usize,
    /// The seed.
    pub seed: u64,
    /// How claims reached the database.
    pub path: ClaimPath,
    /// How replicas' pools were made.
    pub pool: PoolSettings,
    /// Seconds since the Unix epoch at the start.
    pub started_unix: u64,
    /// CPUs the machine has.
    pub nproc: usize,
    /// Its memory, in KiB.
    pub mem_total_kib: u64,
    /// The points, in the order run.
    pub points: Vec<PointResult>,
}

impl BenchReport {
    /// Every duplicate winner of the sweep (must be 0).
    pub fn duplicates(&self) -> u64 {
        self.points.iter().map(|p| p.duplicates).sum()
    }
}

/// Runs the sweep: one schema (or memory model), the plans, then each replica count in
/// turn, each with fresh replicas. Must run inside an actix `System`.
pub async fn sweep(cfg: &BenchConfig) -> Result<BenchReport, BenchError> {
    cfg.validate()?;
    if let Some(pg) = &cfg.pgbench {
        pgbench::check_installed(&pg.program)?;
    }
    let max_replicas = cfg.replicas.iter().copied().max().unwrap_or(1);
    let max_plans = cfg.replicas.iter().map(|&r| cfg.plans_at(r)).max().unwrap_or(1);
    let mut env = BenchEnv::create(&cfg.target, max_plans, max_replicas, cfg.threads).await?;
    env.set_pool_settings(cfg.pool);
    let result = sweep_in(&env, cfg).await;
    let closed = env.close().await;
    let report = result?;
    closed?;
    Ok(report)
}

async fn sweep_in(env: &BenchEnv, cfg: &BenchConfig) -> Result<BenchReport, BenchError> {
    let started_unix =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut points = Vec::with_capacity(cfg.replicas.len());
    for &r in &cfg.replicas {
        let plans = cfg.plans_at(r);
        let mut runs = Vec::with_capacity(cfg.repeat);
        let mut pg_runs = Vec::with_capacity(cfg.repeat);
        for rep in 0..cfg.repeat {
            // Alternate which side goes first, so a drifting machine favours neither.
            let pgbench_first = rep % 2 == 1;
            if let (Some(pg), true) = (&cfg.pgbench, pgbench_first) {
                pg_runs.push(
                    env.pgbench(
                        pg,
                        cfg.workload,
                        cfg.mechanism,
                        r,
                        plans,
                        cfg.stop,
                        cfg.seed,
                        cfg.sample_waits,
                    )
                    .await?,
                );
            }
            let replicas = env.start_replicas(r, cfg.mechanism).await?;
            let spec = RunSpec {
                workload: cfg.workload,
                mechanism: cfg.mechanism,
                plans,
                stop: cfg.stop,
                seed: cfg.seed,
                sample_waits: cfg.sample_waits,
                path: cfg.path,
            };
            let run = env.run_measured(&replicas, &spec).await;
            replicas.close().await;
            runs.push(run?);
            if let (Some(pg), false) = (&cfg.pgbench, pgbench_first) {
                pg_runs.push(
                    env.pgbench(
                        pg,
                        cfg.workload,
                        cfg.mechanism,
                        r,
                        plans,
                        cfg.stop,
                        cfg.seed,
                        cfg.sample_waits,
                    )
                    .await?,
                );
            }
        }
        let point = combine(runs, pg_runs);
        tracing::info!(replicas = r, claims_per_s = point.claims_per_s, ratio = ?point.ratio, "bench point done");
        points.push(point);
    }
    Ok(BenchReport {
        workload: cfg.workload,
        mechanism: cfg.mechanism,
        backend: match cfg.target {
            Target::Postgres { .. } => "postgres".into(),
            Target::Memory => "memory".into(),
        },
        database_url: env.url().map(str::to_owned),
        server_version: env.server_version().await?,
        schema: env.schema_name().map(str::to_owned),
        stop: cfg.stop,
        threads: cfg.threads,
        repeat: cfg.repeat,
        seed: cfg.seed,
        path: cfg.path,
        pool: cfg.pool,
        started_unix,
        nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        mem_total_kib: proc_field("/proc/meminfo", "MemTotal:").unwrap_or(0),
        points,
    })
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One point from its repeats: counts summed, rates the median, latencies merged.
fn combine(runs: Vec<(PointResult, Histogram)>, pg_runs: Vec<PgbenchResult>) -> PointResult {
    let rates: Vec<f64> = runs.iter().map(|(p, _)| p.claims_per_s).collect();
    let win_rates: Vec<f64> = runs.iter().map(|(p, _)| p.winners_per_s).collect();
    let tps: Vec<f64> = pg_runs.iter().map(|p| p.tps).collect();
    let run_ratios: Vec<f64> =
        rates.iter().zip(&tps).filter(|(_, t)| **t > 0.0).map(|(h, t)| h / t).collect();
    let mut hist = Histogram::new();
    let mut waits: std::collections::BTreeMap<String, f64> = Default::default();
    let n = runs.len().max(1) as f64;
    let mut iter = runs.into_iter();
    let (mut point, first_hist) = iter.next().expect("at least one run");
    hist.merge(&first_hist);
    for w in &point.waits {
        *waits.entry(w.what.clone()).or_default() += w.share / n;
    }
    for (p, h) in iter {
        hist.merge(&h);
        for w in &p.waits {
            *waits.entry(w.what.clone()).or_default() += w.share / n;
        }
        point.claims += p.claims;
        point.wins += p.wins;
        point.errors += p.errors;
        point.first_error = point.first_error.or(p.first_error);
        point.rounds = match (point.rounds, p.rounds) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        point.empty_rounds += p.empty_rounds;
        point.duplicates += p.duplicates;
        point.resets_found += p.resets_found;
        point.rows_left += p.rows_left;
        point.elapsed_s += p.elapsed_s;
        point.client_cpu_us_per_claim += p.client_cpu_us_per_claim;
        point.rss_kib_after = p.rss_kib_after;
    }
    point.client_cpu_us_per_claim /= n;
    point.claims_per_s = median(&rates);
    point.winners_per_s = median(&win_rates);
    point.latency = hist.summary();
    let mut waits: Vec<WaitSample> =
        waits.into_iter().map(|(what, share)| WaitSample { what, share }).collect();
    waits.sort_by(|a, b| b.share.total_cmp(&a.share).then_with(|| a.what.cmp(&b.what)));
    point.waits = waits;
    if rates.len() > 1 {
        point.runs_claims_per_s = rates;
    }
    if !pg_runs.is_empty() {
        let mid = median(&tps);
        let mut best = pg_runs
            .iter()
            .min_by(|a, b| (a.tps - mid).abs().total_cmp(&(b.tps - mid).abs()))
            .cloned()
            .expect("a pgbench run");
        best.tps = mid;
        point.ratio = (!run_ratios.is_empty()).then(|| median(&run_ratios));
        if tps.len() > 1 {
            point.pgbench_runs_tps = tps;
            point.run_ratios = run_ratios;
        }
        point.pgbench = Some(best);
    }
    point
}

/// A `kB` field of a /proc file (`VmRSS:` of /proc/self/status, say).
pub(crate) fn proc_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// This process's resident memory, in KiB (0 where /proc is missing).
pub fn rss_kib() -> u64 {
    proc_field("/proc/self/status", "VmRSS:").unwrap_or(0)
}

/// The 1-minute load average (0 where /proc is missing).
pub fn load_1m() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}
