//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::process::{Command, Output};

use hasim::store::{PgStore, RunSchema};

pub mod process;

/// The server the tests use: `DATABASE_URL`, or the local default.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether schema `name` exists on the tests' server.
pub async fn schema_exists(name: &str) -> bool {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&database_url()).await.expect("Postgres");
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_namespace WHERE nspname = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .expect("a count");
    n == 1
}

/// Runs `fut` inside an actix system, as every hasim run does.
#[track_caller]
pub fn run<F: Future>(fut: F) -> F::Output {
    actix::System::new().block_on(fut)
}

/// A fresh, migrated schema of its own; dropped when the fixture goes out of scope,
/// even when the test panics. Fails loudly when Postgres cannot be reached.
pub struct PgFixture {
    pub schema: RunSchema,
}

impl PgFixture {
    pub async fn new() -> PgFixture {
        match RunSchema::create(&database_url()).await {
            Ok(schema) => PgFixture { schema },
            Err(e) => panic!("these tests need Postgres: {e}"),
        }
    }

    /// A store on a pool of its own (a replica's), with up to `connections` connections.
    pub async fn store(&self, connections: u32) -> PgStore {
        PgStore::new(self.schema.pool("test", connections, None).await.expect("pool on the run schema"))
    }
}

impl Drop for PgFixture {
    fn drop(&mut self) {
        // Drop the schema on a runtime of its own: this may run during a panic, or
        // inside an actix system that is busy with the test.
        let schema = self.schema.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(schema.drop_schema())
        })
        .join();
    }
}

/// The shipped scenario files, by name, in name order.
pub fn shipped_scenarios() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the scenarios directory")
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    names
}

/// The shipped scenario `name` (a file of `scenarios/`), loaded.
#[track_caller]
pub fn shipped(name: &str) -> hasim::scenario::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
    hasim::scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs `scenario` on the memory store (virtual time), under `strategy` or its own.
#[track_caller]
pub fn run_on_memory(
    scenario: &hasim::scenario::Scenario,
    strategy: Option<hasim::strategy::StrategyKind>,
) -> hasim::runner::ScenarioRun {
    let options = hasim::runner::RunOptions { database: hasim::sim::Database::Memory, strategy, seed: None };
    hasim::runner::run_scenario(scenario, &options).unwrap_or_else(|e| panic!("{}: {e}", scenario.name))
}

/// Where the binary's results folders go in the tests (`HASIM_RESULTS`): under the
/// test target directory, not in the source tree.
pub fn results_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("results")
}

/// The runs of a trace as `--json` and `trace.json` hold it, after checking that it
/// says what it is (`hasim-trace`, version 1).
#[track_caller]
pub fn trace_runs(bytes: &[u8]) -> serde_json::Value {
    let mut trace: serde_json::Value = serde_json::from_slice(bytes).expect("the trace is JSON");
    assert_eq!((&trace["format"], &trace["version"]), (&"hasim-trace".into(), &1.into()), "{trace:#}");
    trace["runs"].take()
}

/// The Postgres servers (postmasters) running on a data directory under `dir`: the
/// processes started as `postgres -D <dir>/...`, less their children (a backend the
/// postmaster has just forked has its command line until it names itself).
pub fn postmasters_under(dir: &std::path::Path) -> usize {
    let prefix = format!("-D\0{}", dir.display());
    let started_on_dir = |pid: u32| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        cmdline.split('\0').next().is_some_and(|program| program.ends_with("postgres"))
            && cmdline.contains(&prefix)
    };
    let parent = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The parent's pid is the second field after the parenthesised name.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        after_name.split_whitespace().nth(1).and_then(|ppid| ppid.parse::<u32>().ok())
    };
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| started_on_dir(pid))
        .collect();
    pids.iter().filter(|&&pid| parent(pid).is_none_or(|ppid| !pids.contains(&ppid))).count()
}

/// `hasim explore` of seed-claim (seed 1, 200 cases, one job), which finds a
/// counterexample: its files go to `out`, its results folder under `results`.
pub fn explore_seed_claim(out: &std::path::Path, results: &std::path::Path) -> Output {
    let (out, results) = (out.to_str().unwrap(), results.to_str().unwrap());
    let search = ["explore", "--strategy", "seed-claim", "--cases", "200", "--seed", "1", "--jobs", "1"];
    hasim(&[&search[..], &["--out", out, "--results", results]].concat())
}

/// Runs the `hasim` binary from the project root, without `DATABASE_URL`.
#[track_caller]
pub fn hasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hasim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DATABASE_URL")
        .env("HASIM_RESULTS", results_root())
        .output()
        .expect("the hasim binary runs")
}

/// Runs the `hasim` binary from the project root with `DATABASE_URL` set to the
/// tests' server.
#[track_caller]
pub fn hasim_on_postgres(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hasim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", database_url())
        .env("HASIM_RESULTS", results_root())
        .output()
        .expect("the hasim binary runs")
}

/// A webhook endpoint outside the run, as `[webhook] url` names one: hasim's own HTTP
/// receiver on 127.0.0.1, served by an actix system on a thread of its own, answering
/// every request with one status and checking signatures with a secret. Stopped when
/// dropped.
pub struct OutsideEndpoint {
    url: String,
    receiver: hasim::webhook::Receiver,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OutsideEndpoint {
    /// Starts an endpoint that answers `status` to every request and verifies
    /// signatures with `secret`.
    pub fn start(status: u16, secret: &str) -> OutsideEndpoint {
        let secret = hasim::webhook::Secret::parse(secret).expect("a whsec_ secret");
        let (started, ready) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            actix::System::new().block_on(async move {
                let clock = hasim::clock::Clock::start();
                let receiver = hasim::webhook::Receiver::new(clock, Some(secret)).with_default_status(status);
                let server = hasim::webhook::HttpReceiver::start(receiver).expect("a port on 127.0.0.1");
                started.send((server.url(), server.receiver().clone())).expect("the test waits");
                let _ = stopped.await;
                server.stop().await;
            })
        });
        let (url, receiver) = ready.recv().expect("the endpoint starts");
        OutsideEndpoint { url, receiver, stop: Some(stop), thread: Some(thread) }
    }

    /// Its URL, for `[webhook] url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request it got, with its answer.
    pub fn requests(&self) -> Vec<hasim::webhook::ReceivedRequest> {
        self.receiver.requests()
    }
}

impl Drop for OutsideEndpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
