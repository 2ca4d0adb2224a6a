//! The search: run generated cases under one strategy, and shrink each one that
//! breaks the contract to the smallest case that still breaks it the same way.
//!
//! One seed drives the search: case `k` is generated from the seed and `k` alone, and
//! on the memory store every run is a function of its case, so the same search finds
//! the same counterexamples, whatever `jobs` and on whichever machine. Shrinking
//! follows proptest's own loop (simplify while the case still fails, step back when it
//! passes), with "fails" meaning a violation of the same verdict as the original one:
//! a lost event is not shrunk into a late one.
//!
//! With several jobs, worker threads take cases in order and run each (and shrink it)
//! on a runtime of their own; the results are taken in case order, so the outcome is
//! the one a single job gives. Work on cases past the point where a single job would
//! have stopped is cancelled and counted apart ([`Outcome::discarded`]).

use std::time::{Duration, Instant};

use crate::runner::{RunOptions, ScenarioRun, run_scenario};
use crate::sim::Database;
use crate::strategy::StrategyKind;
use crate::{Error, Result};

use super::case::Case;
use super::collect::Collector;
use super::counterexample::Counterexample;
use super::generate::Bounds;
use super::shard::Shard;
use super::trial::{case_tree, trial};

/// What to search.
#[derive(Debug, Clone)]
pub struct Search {
    /// The strategy under test.
    pub strategy: StrategyKind,
    /// Where the runs' database is (memory: fast and exactly replayable).
    pub database: Database,
    /// How many cases the search has (shrinking runs not counted); a shard runs its
    /// share of them.
    pub cases: u32,
    /// Drives the generation.
    pub seed: u64,
    /// How big cases get.
    pub bounds: Bounds,
    /// Stop after this many distinct counterexamples.
    pub max_counterexamples: usize,
    /// Runs spent shrinking one counterexample, at most.
    pub max_shrink_runs: u32,
    /// Cases run at once, each on a thread of its own (at least 1). The outcome does
    /// not depend on it.
    pub jobs: usize,
    /// Which of the search's cases to run.
    pub shard: Shard,
}

impl Search {
    /// A search of `cases` cases under `strategy` on the memory store, seed 1,
    /// default bounds, stopping at the first counterexample, one job, all shards.
    pub fn new(strategy: StrategyKind, cases: u32) -> Self {
        Search {
            strategy,
            database: Database::Memory,
            cases,
            seed: 1,
            bounds: Bounds::default(),
            max_counterexamples: 1,
            max_shrink_runs: 1_000,
            jobs: 1,
            shard: Shard::WHOLE,
        }
    }

    /// Case `number` (1-based) of this search, as generated: the same in every shard,
    /// with any `jobs` and any `cases` of at least `number`.
    pub fn case(&self, number: u32) -> Result<Case> {
        use proptest::strategy::ValueTree;
        Ok(case_tree(self, number)?.current())
    }

    /// The numbers of the cases this search runs, in order (its shard's).
    pub fn case_numbers(&self) -> impl Iterator<Item = u32> + use<> {
        self.shard.cases(self.cases)
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
    /// The numbers of the cases that broke the contract, in order (before shrinking,
    /// duplicates included).
    pub failing: Vec<u32>,
    /// The counterexamples, in case order.
    pub counterexamples: Vec<Counterexample>,
    /// Runs done by other jobs on cases past the one where the search stopped: not
    /// part of the outcome, and not in `runs` (always 0 with one job).
    pub discarded: u32,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// The stop request that ended the search early ([`crate::interrupt`]): the
    /// outcome then holds the cases taken before it.
    pub interrupted: Option<crate::interrupt::Signal>,
}

/// Runs `search`, calling `progress` after every case, in case order, and while
/// shrinking the case the search waits for: after every shrink run with one job,
/// at most every 50 ms of a worker's shrinking with several. A stop request
/// ([`crate::interrupt`]) ends it early with what it found so far.
pub fn explore(search: &Search, progress: impl FnMut(&Progress)) -> Result<Outcome> {
    if search.jobs == 0 {
        return Err(Error::Explore("a search needs at least one job".to_owned()));
    }
    let started = Instant::now();
    let mut collector = Collector::new(search, progress);
    let interrupted = || crate::interrupt::requested().is_some();
    if search.jobs == 1 {
        for number in search.case_numbers() {
            if collector.last().is_some() || interrupted() {
                break;
            }
            let result = trial(search, number, |runs| collector.shrinking(number, runs), interrupted);
            // A case cut short by a stop request is not taken.
            if interrupted() || collector.accept(number, result)? {
                break;
            }
        }
    } else {
        super::workers::run(search, &mut collector)?;
    }
    let mut outcome = collector.finish();
    outcome.elapsed = started.elapsed();
    outcome.interrupted = crate::interrupt::requested();
    Ok(outcome)
}

/// Runs one case under the search's strategy and store.
pub fn run_case(search: &Search, case: &Case) -> Result<ScenarioRun> {
    let scenario = case
        .scenario(search.strategy)
        .map_err(|e| Error::Explore(format!("a generated case is not a valid scenario: {e}")))?;
    run_scenario(&scenario, &RunOptions { database: search.database.clone(), strategy: None, seed: None })
}
