//! Taking trials in case order, whatever order they finish in.
//!
//! Trials of a search may finish out of order (several jobs); the collector holds
//! each back until every case before it has been taken, then counts it, drops it if
//! its shrunk case repeats an earlier counterexample's, replays its file, and decides
//! whether the search is done, exactly as a single job taking them one by one would.
//! Whatever arrives once the search is done is discarded, its runs counted apart.

use std::collections::BTreeMap;
use std::iter::Peekable;

use crate::Result;

use super::counterexample::{Counterexample, replay};
use super::search::{Outcome, Progress, Search};
use super::trial::Trial;

/// The outcome of a search, built in case order.
pub(super) struct Collector<'a, P> {
    search: &'a Search,
    progress: P,
    /// The case numbers still to take, in order.
    order: Peekable<Box<dyn Iterator<Item = u32>>>,
    /// How many cases the search runs.
    of: u32,
    /// Trials that finished before a case ahead of them.
    waiting: BTreeMap<u32, Result<Trial>>,
    outcome: Outcome,
    /// The last case the outcome needs, once the search is done.
    last: Option<u32>,
}

impl<'a, P: FnMut(&Progress)> Collector<'a, P> {
    /// A collector for `search`, reporting to `progress`.
    pub fn new(search: &'a Search, progress: P) -> Self {
        let order: Box<dyn Iterator<Item = u32>> = Box::new(search.case_numbers());
        Collector {
            search,
            progress,
            order: order.peekable(),
            of: search.case_numbers().count() as u32,
            waiting: BTreeMap::new(),
            outcome: Outcome {
                cases: 0,
                runs: 0,
                not_quiet: 0,
                failing: vec![],
                counterexamples: vec![],
                discarded: 0,
                elapsed: Default::default(),
                interrupted: None,
            },
            // A search for no counterexample at all is done before it starts.
            last: (search.max_counterexamples == 0).then_some(0),
        }
    }

    /// Case `number` has spent `runs` shrink runs: reported when it is the case the
    /// search waits for.
    pub fn shrinking(&mut self, number: u32, runs: u32) {
        if self.last.is_none() && self.order.peek() == Some(&number) {
            let report = self.report(self.outcome.cases + 1, Some(runs));
            (self.progress)(&report);
        }
    }

    /// Takes the trial of case `number`, and every waiting one it unblocks. Returns
    /// whether the search is done; an error of a case the search needs ends it.
    pub fn accept(&mut self, number: u32, result: Result<Trial>) -> Result<bool> {
        if self.last.is_some() {
            self.discard(result);
            return Ok(true);
        }
        self.waiting.insert(number, result);
        while let Some(&next) = self.order.peek() {
            let Some(result) = self.waiting.remove(&next) else { return Ok(false) };
            self.order.next();
            self.take(next, result?)?;
            if self.outcome.counterexamples.len() >= self.search.max_counterexamples {
                self.last = Some(next);
                break;
            }
        }
        // Done: every case taken, or enough counterexamples.
        self.last.get_or_insert(u32::MAX);
        for (_, result) in std::mem::take(&mut self.waiting) {
            self.discard(result);
        }
        Ok(true)
    }

    /// The last case the outcome needs, once the search is done: cases past it
    /// can be abandoned.
    pub fn last(&self) -> Option<u32> {
        self.last
    }

    /// The outcome (its `elapsed` left for the caller).
    pub fn finish(self) -> Outcome {
        self.outcome
    }

    fn take(&mut self, number: u32, trial: Trial) -> Result<()> {
        let (not_quiet, found) = match trial {
            Trial::Passed { not_quiet } => (not_quiet, None),
            Trial::Failed { not_quiet, found } => (not_quiet, Some(found)),
            // Only cases past the last one needed are cancelled: never taken.
            Trial::Cancelled { runs } => {
                self.outcome.discarded += runs;
                return Ok(());
            }
        };
        self.outcome.cases += 1;
        self.outcome.runs += 1;
        self.outcome.not_quiet += u32::from(not_quiet);
        if let Some(found) = found {
            self.outcome.runs += found.shrink_runs;
            self.outcome.failing.push(number);
            let seen = self.outcome.counterexamples.iter().any(|c| c.case.same_but_seed(&found.case));
            if !seen {
                let replay = replay(self.search, &found.name, &found.file)?;
                self.outcome.runs += 1;
                let found = *found;
                self.outcome.counterexamples.push(Counterexample {
                    case_number: number,
                    original: found.original,
                    case: found.case,
                    shrink_runs: found.shrink_runs,
                    violation: found.violation,
                    replay,
                    name: found.name,
                    file: found.file,
                });
            }
        }
        let report = self.report(self.outcome.cases, None);
        (self.progress)(&report);
        Ok(())
    }

    fn discard(&mut self, result: Result<Trial>) {
        self.outcome.discarded += match result {
            Ok(Trial::Passed { .. }) => 1,
            Ok(Trial::Failed { found, .. }) => 1 + found.shrink_runs,
            Ok(Trial::Cancelled { runs }) => runs,
            Err(_) => 0,
        };
    }

    fn report(&self, cases: u32, shrinking: Option<u32>) -> Progress {
        Progress { cases, of: self.of, found: self.outcome.counterexamples.len(), shrinking }
    }
}
