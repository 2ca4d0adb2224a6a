//! The search: run generated cases under one strategy, and shrink each one that
//! breaks the contract to the smallest case that still breaks it the same way.
//!
//! One seed drives the search: the same [`Search`] generates the same cases in the
//! same order, and on the memory store every run is a function of its case, so the
//! same counterexamples come out. Shrinking follows proptest's own loop (simplify
//! while the case still fails, step back when it passes), with "fails" meaning a
//! violation of the same verdict as the original one: a lost event is not shrunk
//! into a late one.

use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::check::{EventReport, Verdict};
use crate::cluster::Database;
use crate::runner::{RunOptions, ScenarioRun, run_scenario};
use crate::strategy::StrategyKind;
use crate::{Error, Result};

use super::case::Case;
use super::counterexample::{Counterexample, counterexample_file, replay};
use super::generate::{Bounds, case};
use super::minimize::simpler;

/// What to search.
#[derive(Debug, Clone)]
pub struct Search {
    /// The strategy under test.
    pub strategy: StrategyKind,
    /// Where the runs' database is (memory: fast and exactly replayable).
    pub database: Database,
    /// How many generated cases to run (shrinking runs not counted).
    pub cases: u32,
    /// Drives the generation.
    pub seed: u64,
    /// How big cases get.
    pub bounds: Bounds,
    /// Stop after this many distinct counterexamples.
    pub max_counterexamples: usize,
    /// Runs spent shrinking one counterexample, at most.
    pub max_shrink_runs: u32,
}

impl Search {
    /// A search of `cases` cases under `strategy` on the memory store, seed 1,
    /// default bounds, stopping at the first counterexample.
    pub fn new(strategy: StrategyKind, cases: u32) -> Self {
        Search {
            strategy,
            database: Database::Memory,
            cases,
            seed: 1,
            bounds: Bounds::default(),
            max_counterexamples: 1,
            max_shrink_runs: 1_000,
        }
    }
}

/// Where a search is, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Cases run so far.
    pub cases: u32,
    /// Cases to run.
    pub of: u32,
    /// Counterexamples found so far.
    pub found: usize,
    /// While shrinking: the shrink runs so far.
    pub shrinking: Option<u32>,
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Cases run (shrinking runs not counted).
    pub cases: u32,
    /// Runs in all, shrinking included.
    pub runs: u32,
    /// Cases whose cluster never went quiet before `max_duration`.
    pub not_quiet: u32,
    /// The counterexamples, in the order found.
    pub counterexamples: Vec<Counterexample>,
    /// Wall-clock time.
    pub elapsed: Duration,
}

/// Runs `search`, calling `progress` after every run.
pub fn explore(search: &Search, mut progress: impl FnMut(&Progress)) -> Result<Outcome> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(search.seed)),
    );
    let generator = case(&search.bounds);
    let started = Instant::now();
    let mut outcome =
        Outcome { cases: 0, runs: 0, not_quiet: 0, counterexamples: vec![], elapsed: Duration::ZERO };
    while outcome.cases < search.cases && outcome.counterexamples.len() < search.max_counterexamples {
        let mut tree =
            generator.new_tree(&mut runner).map_err(|e| Error::Explore(format!("generating a case: {e}")))?;
        outcome.cases += 1;
        let original = tree.current();
        let run = run_case(search, &original)?;
        outcome.runs += 1;
        outcome.not_quiet += u32::from(!run.result.quiesced);
        let mut report = Progress {
            cases: outcome.cases,
            of: search.cases,
            found: outcome.counterexamples.len(),
            shrinking: None,
        };
        progress(&report);
        let Some(violation) = first_violation(&run, None) else { continue };
        let (case, run, violation, shrink_runs) =
            shrink(search, &mut tree, (original.clone(), run, violation), |n| {
                report.shrinking = Some(n);
                progress(&report);
            })?;
        outcome.runs += shrink_runs;
        let name = format!("explore-{}-seed{}-case{}", search.strategy, search.seed, outcome.cases);
        let file = counterexample_file(search, &name, outcome.cases, &case, &run, &violation);
        if outcome.counterexamples.iter().any(|c| c.case.same_but_seed(&case)) {
            continue;
        }
        let replay = replay(search, &name, &file)?;
        outcome.runs += 1;
        outcome.counterexamples.push(Counterexample {
            case_number: outcome.cases,
            original,
            case,
            shrink_runs,
            violation,
            replay,
            name,
            file,
        });
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// Runs one case under the search's strategy and store.
pub fn run_case(search: &Search, case: &Case) -> Result<ScenarioRun> {
    let scenario = case
        .scenario(search.strategy)
        .map_err(|e| Error::Explore(format!("a generated case is not a valid scenario: {e}")))?;
    run_scenario(&scenario, &RunOptions { database: search.database.clone(), strategy: None, seed: None })
}

type Failing = (Case, ScenarioRun, EventReport);

/// Shrinks a failing case: proptest's loop, then one-step simplifications tried
/// greedily ([`simpler`]), keeping the simplest case that shows a violation of the
/// original's verdict. Returns it, its run, its violation and the runs spent.
fn shrink(
    search: &Search,
    tree: &mut impl ValueTree<Value = Case>,
    failing: Failing,
    mut progress: impl FnMut(u32),
) -> Result<(Case, ScenarioRun, EventReport, u32)> {
    let verdict = failing.2.verdict;
    let (mut best, mut runs) = (failing, 0);
    let mut fails = |candidate: &Case, runs: &mut u32| -> Result<Option<(ScenarioRun, EventReport)>> {
        let run = run_case(search, candidate)?;
        *runs += 1;
        progress(*runs);
        Ok(first_violation(&run, Some(verdict)).map(|v| (run, v)))
    };
    let mut next = tree.simplify();
    while next && runs < search.max_shrink_runs {
        let candidate = tree.current();
        next = match fails(&candidate, &mut runs)? {
            Some((run, violation)) => {
                best = (candidate, run, violation);
                tree.simplify()
            }
            None => tree.complicate(),
        };
    }
    'greedy: while runs < search.max_shrink_runs {
        for candidate in simpler(&best.0) {
            if runs >= search.max_shrink_runs {
                break 'greedy;
            }
            if let Some((run, violation)) = fails(&candidate, &mut runs)? {
                best = (candidate, run, violation);
                continue 'greedy;
            }
        }
        break;
    }
    Ok((best.0, best.1, best.2, runs))
}

/// 32 seed bytes for proptest's ChaCha from a `u64`.
fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// The run's first violation (of `verdict`, when given).
fn first_violation(run: &ScenarioRun, verdict: Option<Verdict>) -> Option<EventReport> {
    run.result.report.violations().find(|e| verdict.is_none_or(|v| e.verdict == v)).cloned()
}
