//! Running a scenario and judging it against what its file expects.
//!
//! [`run_scenario`] starts an actix system of its own (on a paused clock when the run
//! does no real I/O, so the memory store replays exactly) and runs the cluster
//! (`crate::sim`), which gives back the run's trace. Once the actors have stopped it
//! checks the trace (`crate::check::check_trace`) and judges the verdicts against
//! every expectation that applies to the strategy it ran (`crate::judge`).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::Result;
use crate::judge::Expected;
pub use crate::judge::{Check, RunResult, judge};
use crate::scenario::Scenario;
use crate::sim::{Database, Sim};
use crate::store::StatusWrite;
use crate::strategy::StrategyKind;

/// How to run scenarios, over what each file says.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The database.
    pub database: Database,
    /// Run under this strategy instead of the file's.
    pub strategy: Option<StrategyKind>,
    /// Run with this seed instead of the file's.
    pub seed: Option<u64>,
}

/// A scenario run and its judgement.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioRun {
    /// The scenario's name.
    pub name: String,
    /// The strategy it ran.
    pub strategy: StrategyKind,
    /// How its replicas guarded their status writes: the file's `status_write`, or
    /// the strategy's own.
    pub status_write: StatusWrite,
    /// The seed it ran with.
    pub seed: u64,
    /// `memory` or `postgres`.
    pub store: &'static str,
    /// Wall-clock time the run took.
    #[serde(rename = "wall_us", with = "crate::history::micros")]
    pub wall: Duration,
    /// The expectations that applied, checked.
    pub checks: Vec<Check>,
    /// Whether every check held.
    pub ok: bool,
    /// The run itself: verdicts, history, receiver log, claim table.
    pub result: RunResult,
    /// What the scenario expected, that `checks` judged: kept so that a saved run can
    /// be judged again (`crate::recheck`).
    pub expected: Expected,
}

/// Runs `scenario` as `options` say. Builds its own actix system: call it from a
/// plain thread, not from inside one. Fails with [`Error::Interrupted`](crate::Error)
/// when a stop was asked ([`crate::interrupt`]), once the run's resources are released.
pub fn run_scenario(scenario: &Scenario, options: &RunOptions) -> Result<ScenarioRun> {
    if let Some(signal) = crate::interrupt::requested() {
        return Err(crate::Error::Interrupted(signal));
    }
    let mut sim = Sim::from_scenario(scenario).database(options.database.clone());
    if let Some(strategy) = options.strategy {
        sim = sim.strategy(strategy);
    }
    if let Some(seed) = options.seed {
        sim = sim.seed(seed);
    }
    let (spec, setup) = sim.build()?;
    let (strategy, seed) = (spec.strategy, spec.seed);
    let status_write = spec.status_write();
    let started = Instant::now();
    let trace = crate::sim::run_blocking(spec, &setup)?;
    // A run cut short by a stop request is not judged: its missing deliveries would
    // read as lost.
    if let Some(signal) = crate::interrupt::requested() {
        return Err(crate::Error::Interrupted(signal));
    }
    // The actors have stopped: the checker judges what they produced, and the
    // verdicts are judged against what the file expects.
    let result = RunResult::checked(trace);
    let expected = Expected::of(scenario);
    let checks = expected.judge(strategy, &result);
    Ok(ScenarioRun {
        name: scenario.name.clone(),
        strategy,
        status_write,
        seed,
        store: match options.database {
            Database::Memory => "memory",
            Database::Postgres { .. } => "postgres",
        },
        wall: started.elapsed(),
        ok: checks.iter().all(|c| c.ok),
        checks,
        result,
        expected,
    })
}

/// Runs `scenario` twice on the memory store with the same seed and compares the
/// histories and receiver logs; `Some` describes the first difference.
pub fn check_determinism(scenario: &Scenario, options: &RunOptions) -> Result<Option<String>> {
    let options = RunOptions { database: Database::Memory, ..options.clone() };
    let (a, b) = (run_scenario(scenario, &options)?, run_scenario(scenario, &options)?);
    let (ha, hb) = (&a.result.history, &b.result.history);
    if let Some(i) = (0..ha.len().min(hb.len())).find(|&i| ha[i] != hb[i]) {
        return Ok(Some(format!(
            "history entry #{i} differs:\n  first:  {:?}\n  second: {:?}",
            ha[i], hb[i]
        )));
    }
    if ha.len() != hb.len() {
        return Ok(Some(format!("the histories have {} and {} entries", ha.len(), hb.len())));
    }
    if a.result.requests != b.result.requests {
        return Ok(Some("the receiver logs differ".to_owned()));
    }
    Ok(None)
}
