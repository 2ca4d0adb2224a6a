//! `hasim bench`: the arguments and what the command does, for the binary to call.
//!
//! ```text
//! hasim bench [WORKLOAD] --replicas 1,2,4,8,16,32 [--plans N] [--duration 5s]
//!     [--shape free|rounds] [--mechanism M] [--database-url U] [--json PATH] [--csv PATH]
//!     [--svg PATH] [--pgbench] [--path actor|actor-pool|pool|connection] [--store memory|postgres]
//! ```
//!
//! The binary parses [`BenchArgs`] (clap exits 2 on a malformed command line), calls
//! [`run`], prints the table it returns, and on error prints it and exits with
//! [`exit_code`] (2 for the user's errors: 0 replicas, unknown workload, unreachable
//! server, missing pgbench).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    BenchConfig, BenchError, BenchReport, ClaimPath, HotShape, Measured, Mechanism, PgbenchOptions,
    PoolSettings, Stop, Target, Workload, report, sweep_reporting,
};

pub use crate::args::DEFAULT_DATABASE_URL;
use crate::args::{StoreArgs, StoreKind};

/// Measure what the webhook claim costs when replicas race for it.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// What the replicas do: hot (all claim one plan, the winner resets it; see --shape),
    /// spread (claims on plans drawn at random from --plans, keeping what is won), cycle
    /// (claim, send, reset on the replica's plan), outbox (relays lease pending outbox rows
    /// with FOR UPDATE SKIP LOCKED, send and mark them delivered; Postgres only).
    #[arg(value_enum, default_value_t = Workload::Hot)]
    pub workload: Workload,

    /// Replica counts to sweep, comma-separated, each from 1 to 256.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32", value_parser = parse_replicas)]
    pub replicas: Vec<usize>,

    /// Plans claimed (P). Default: 1 for hot, 1000000 for spread, one per replica for
    /// cycle; for outbox, the pending rows filled in before each run (default 200000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub plans: Option<u32>,

    /// How hot is played (hot only).
    #[arg(long, value_enum, default_value_t = HotShape::Free)]
    pub shape: HotShape,

    /// How long each replica count runs: 500ms, 5s, 1m, 1.5s.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,

    /// How a replica claims: on-conflict (the design's INSERT ... ON CONFLICT DO NOTHING),
    /// advisory (pg_try_advisory_xact_lock, then insert), for-update (lock the plan row,
    /// then check and insert). Not for outbox. The memory store has on-conflict only.
    #[arg(long, value_enum, default_value_t = Mechanism::OnConflict)]
    pub mechanism: Mechanism,

    /// Where the replicas' database is.
    #[command(flatten)]
    pub store: StoreArgs,

    /// The same as --store memory (kept for older command lines).
    #[arg(long, hide = true, conflicts_with_all = ["store", "pgbench"])]
    pub memory: bool,

    /// Write every measurement as JSON to this file (`-`: to stdout, the table then
    /// going to stderr).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Write one CSV row per replica count to this file.
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,

    /// Draw throughput and p99 latency against replicas as SVG to this file.
    #[arg(long, value_name = "PATH")]
    pub svg: Option<PathBuf>,

    /// Also run pgbench (-c R -j 2 -M prepared) on the same statements at each replica
    /// count, on the same schema, and report the ratio hasim/pgbench.
    #[arg(long)]
    pub pgbench: bool,

    /// The pgbench program to run for --pgbench.
    #[arg(long, value_name = "PATH", default_value = "pgbench")]
    pub pgbench_bin: PathBuf,

    /// Client threads the replicas are spread over; pgbench gets the same -j.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: u16,

    /// Seed of the random plan choices (spread), given to pgbench too.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Runs per replica count, hasim and pgbench alternating; the table shows medians.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub repeat: u16,

    /// Run on a primary and a streaming standby made for the bench from the installed
    /// Postgres binaries (pgbench too, on the same primary), to measure what the
    /// standby costs a commit; the database URL is not used.
    #[arg(long, value_enum, default_value = "single")]
    pub topology: crate::topology::Topology,

    /// How the pair replicates (with --topology primary-standby): `async` does not
    /// wait for the standby, `sync` waits until it flushed the commit, `remote-apply`
    /// until it applied it.
    #[arg(long, value_enum, default_value = "async")]
    pub replication: crate::topology::Replication,

    /// Give replicas pools that skip sqlx's liveness ping (a round trip) before each use
    /// of a connection; the pools replicas normally get ping. Matters for the paths that
    /// take a connection per operation.
    #[arg(long)]
    pub no_acquire_ping: bool,

    /// Connections in each replica's pool. sqlx pings a connection when it goes back to
    /// the pool; with 2, a replica's next claim need not wait for that round trip.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub connections: u32,

    /// How claims reach the database: actor (each replica's store actor, holding one
    /// connection of its pool), actor-pool (the store actor taking a connection from its
    /// pool per operation, as scenario replicas do), pool and connection (the same store
    /// calls without the actors). The differences are what each layer costs.
    #[arg(long, value_enum, default_value_t = ClaimPath::Actor)]
    pub path: ClaimPath,

    /// Do not sample the server's wait events (pg_stat_activity) during the runs.
    #[arg(long)]
    pub no_wait_sampling: bool,
}

/// Parses a replica count: 1 to [`super::MAX_REPLICAS`].
pub fn parse_replicas(s: &str) -> Result<usize, String> {
    let n: usize = s.trim().parse().map_err(|_| format!("`{s}` is not a replica count"))?;
    if n == 0 {
        return Err("a sweep needs at least 1 replica (got 0)".into());
    }
    if n > super::MAX_REPLICAS {
        return Err(format!("at most {} replicas (got {n})", super::MAX_REPLICAS));
    }
    Ok(n)
}

/// Parses a command-line duration as scenario files write one ([`crate::scenario::parse_duration`]:
/// `250us`, `500ms`, `5s`, `1.5s`, `1m`), positive and at most a day.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = crate::scenario::parse_duration(s)?;
    if d.is_zero() || d > Duration::from_secs(86_400) {
        return Err(format!("`{}`: a duration must be positive and at most a day", s.trim()));
    }
    Ok(d)
}

impl BenchArgs {
    /// Where the sweep runs: `--store` (or `--memory`), else as every command
    /// chooses ([`crate::args::choose`]).
    pub fn target(&self) -> Target {
        let mut store = self.store.clone();
        if self.memory {
            store.store = Some(StoreKind::Memory);
        }
        // A pair is Postgres, whatever the URL says (its own URL replaces it).
        if self.topology == crate::topology::Topology::PrimaryStandby && store.store.is_none() {
            store.store = Some(StoreKind::Postgres);
        }
        match store.choose().url {
            Some(url) => Target::Postgres { url },
            None => Target::Memory,
        }
    }

    /// The sweep these arguments ask for.
    pub fn config(&self) -> BenchConfig {
        let target = self.target();
        let mut cfg = BenchConfig::new(self.workload, self.mechanism, target, self.replicas.clone());
        cfg.shape = self.shape;
        cfg.plans = self.plans;
        cfg.stop = Stop::Duration(self.duration);
        cfg.threads = usize::from(self.threads);
        cfg.seed = self.seed;
        cfg.pgbench = self.pgbench.then(|| PgbenchOptions {
            program: self.pgbench_bin.clone(),
            threads: usize::from(self.threads),
        });
        cfg.repeat = usize::from(self.repeat);
        cfg.sample_waits = !self.no_wait_sampling;
        cfg.path = self.path;
        cfg.pool = PoolSettings { ping_on_acquire: !self.no_acquire_ping, connections: self.connections };
        cfg
    }
}

/// What `hasim bench` gives the binary to print.
#[derive(Debug, Clone)]
pub struct BenchOutput {
    /// The table, and a line per file written.
    pub table: String,
    /// The JSON report, when `--json -` asks for it on stdout.
    pub json: Option<String>,
}

/// Runs `hasim bench` inside a fresh actix `System` on this thread (call it from a
/// plain `main`, not from inside a runtime) and returns the table to print. Writes
/// `--json`, `--csv` and `--svg`.
pub fn run(args: BenchArgs) -> anyhow::Result<String> {
    run_output(args).map(|output| output.table)
}

/// [`run`], giving the JSON report too when `--json -` asks for it on stdout.
pub fn run_output(args: BenchArgs) -> anyhow::Result<BenchOutput> {
    run_reporting(args, |_| {})
}

/// [`run_output`], calling `on_point` as each point is measured.
pub fn run_reporting(args: BenchArgs, on_point: impl FnMut(Measured<'_>)) -> anyhow::Result<BenchOutput> {
    actix::System::new().block_on(run_async(args, on_point))
}

/// The progress line of a point just measured:
/// `measured 4 replicas (2 of 6): 12345 claims/s, 0 duplicates`.
pub fn progress_line(m: Measured<'_>) -> String {
    let p = m.point;
    let vs = p.ratio.map(|r| format!(", {r:.2}x pgbench")).unwrap_or_default();
    format!(
        "measured {} replica{} ({} of {}): {:.0} claims/s, {} duplicate{}{vs}",
        p.replicas,
        if p.replicas == 1 { "" } else { "s" },
        m.done,
        m.of,
        p.claims_per_s,
        p.duplicates,
        if p.duplicates == 1 { "" } else { "s" },
    )
}

/// [`run_reporting`] for a caller already inside an actix `System`.
pub async fn run_async(args: BenchArgs, on_point: impl FnMut(Measured<'_>)) -> anyhow::Result<BenchOutput> {
    let mut cfg = args.config();
    cfg.validate()?;
    // Fail on an unwritable output before spending minutes measuring.
    for path in [&args.json, &args.csv, &args.svg].into_iter().flatten().filter(|p| !is_stdout(p)) {
        check_writable(path)?;
    }
    // A pair made for the bench: the sweep and pgbench run on its primary.
    let pair = match args.topology {
        crate::topology::Topology::Single => None,
        crate::topology::Topology::PrimaryStandby => {
            if matches!(cfg.target, Target::Memory) {
                return Err(BenchError::Invalid(
                    "--topology primary-standby measures a real pair: it needs the postgres store".into(),
                )
                .into());
            }
            let replication = args.replication;
            let pair =
                tokio::task::spawn_blocking(move || crate::topology::PgPair::start(replication)).await??;
            cfg.target = Target::Postgres { url: pair.primary_url() };
            Some(pair)
        }
    };
    let swept = sweep_reporting(&cfg, on_point).await;
    if let Some(pair) = pair {
        let _ = tokio::task::spawn_blocking(move || drop(pair)).await;
    }
    let mut report = swept?;
    if args.topology == crate::topology::Topology::PrimaryStandby {
        report.replication = Some(args.replication);
    }
    let mut out = report::table(&report);
    if let Some(signal) = &report.interrupted {
        out.push_str(&format!(
            "stopped by {signal} after {} of {} replica counts\n",
            report.points.len(),
            cfg.replicas.len()
        ));
    }
    write_outputs(&args, &report, &mut out)?;
    let json = args.json.as_deref().filter(|p| is_stdout(p)).map(|_| to_json(&report));
    Ok(BenchOutput { table: out, json })
}

/// Whether `path` is `-`: stdout.
fn is_stdout(path: &Path) -> bool {
    path == Path::new("-")
}

fn to_json(report: &BenchReport) -> String {
    serde_json::to_string_pretty(report).expect("a report serializes") + "\n"
}

fn check_writable(path: &Path) -> Result<(), BenchError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(BenchError::Invalid(format!(
            "cannot write {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    Ok(())
}

fn write_outputs(args: &BenchArgs, report: &BenchReport, out: &mut String) -> Result<(), BenchError> {
    let write = |path: &Path, text: String, out: &mut String| {
        std::fs::write(path, text)
            .map_err(|source| BenchError::Io { what: format!("writing {}", path.display()), source })?;
        out.push_str(&format!("wrote {}\n", path.display()));
        Ok::<(), BenchError>(())
    };
    if let Some(path) = args.json.as_deref().filter(|p| !is_stdout(p)) {
        write(path, to_json(report), out)?;
    }
    if let Some(path) = &args.csv {
        write(path, report::csv(report), out)?;
    }
    if let Some(path) = &args.svg {
        write(path, report::svg(report), out)?;
    }
    Ok(())
}

/// The exit status for an error of [`run`]: 2 for the user's errors (bad arguments,
/// unreachable server, missing pgbench), 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<BenchError>() {
        Some(e) if e.is_usage() => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        // The scenario files' parser: the same units and spelling everywhere.
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "5", "s", "5 parsecs", "0s", "-1s", "1.2.3s", "2d", "86400.000000001s", "25h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn replica_counts_start_at_one() {
        assert_eq!(parse_replicas("32"), Ok(32));
        assert!(parse_replicas("0").unwrap_err().contains("at least 1"));
        assert!(parse_replicas("x").is_err());
        assert!(parse_replicas("100000").is_err());
    }
}
