//! One case of a search, start to end: generate case `k` from the seed and `k`, run
//! it, and when it breaks the contract shrink it and render its counterexample file.
//!
//! A trial depends on nothing but the search and `k`, so trials can run on any
//! thread, in any order, in any process, and give the same result.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::check::{EventReport, Verdict};
use crate::runner::ScenarioRun;
use crate::{Error, Result};

use super::case::Case;
use super::counterexample::counterexample_file;
use super::generate::case;
use super::minimize::simpler;
use super::search::{Search, run_case};

/// What became of one case.
#[derive(Debug)]
pub(super) enum Trial {
    /// It kept the contract.
    Passed {
        /// Whether its cluster never went quiet before `max_duration`.
        not_quiet: bool,
    },
    /// It broke the contract; here it is shrunk, with its file.
    Failed {
        /// Whether the case as generated never went quiet.
        not_quiet: bool,
        /// The shrunk case, its violation and its file.
        found: Box<Found>,
    },
    /// Given up on: the search no longer needs this case.
    Cancelled {
        /// Runs spent on it before that.
        runs: u32,
    },
}

/// A shrunk failing case and its file, not yet replayed.
#[derive(Debug)]
pub(super) struct Found {
    /// The case as generated.
    pub original: Case,
    /// The smallest case found that fails the same way.
    pub case: Case,
    /// Runs spent shrinking.
    pub shrink_runs: u32,
    /// The violation the shrunk case shows.
    pub violation: EventReport,
    /// The scenario name.
    pub name: String,
    /// The scenario file.
    pub file: String,
}

/// Runs case `number` of `search`: `progress` hears the shrink runs so far, and
/// `cancelled` is asked between runs whether the case is still needed.
pub(super) fn trial(
    search: &Search,
    number: u32,
    mut progress: impl FnMut(u32),
    cancelled: impl Fn() -> bool,
) -> Result<Trial> {
    let mut tree = case_tree(search, number)?;
    let original = tree.current();
    let run = run_case(search, &original)?;
    let not_quiet = !run.result.quiesced;
    let Some(violation) = first_violation(&run, None) else { return Ok(Trial::Passed { not_quiet }) };
    let verdict = violation.verdict;
    let mut runs = 0;
    let mut fails = |candidate: &Case, runs: &mut u32| -> Result<Option<(ScenarioRun, EventReport)>> {
        let run = run_case(search, candidate)?;
        *runs += 1;
        progress(*runs);
        Ok(first_violation(&run, Some(verdict)).map(|v| (run, v)))
    };
    let more = |runs: u32| runs < search.max_shrink_runs && !cancelled();
    // Proptest's loop: simplify while the case still fails, step back when it passes.
    let mut best = (original.clone(), run, violation);
    let mut next = tree.simplify();
    while next && more(runs) {
        let candidate = tree.current();
        next = match fails(&candidate, &mut runs)? {
            Some((run, violation)) => {
                best = (candidate, run, violation);
                tree.simplify()
            }
            None => tree.complicate(),
        };
    }
    // Then one-step simplifications, greedily, until none still fails.
    'greedy: while more(runs) {
        for candidate in simpler(&best.0) {
            if !more(runs) {
                break 'greedy;
            }
            if let Some((run, violation)) = fails(&candidate, &mut runs)? {
                best = (candidate, run, violation);
                continue 'greedy;
            }
        }
        break;
    }
    if cancelled() {
        return Ok(Trial::Cancelled { runs: runs + 1 });
    }
    let (case, run, violation) = best;
    let name = format!("explore-{}-seed{}-case{number}", search.strategy, search.seed);
    let file = counterexample_file(search, &name, number, &case, &run, &violation);
    let found = Found { original, case, shrink_runs: runs, violation, name, file };
    Ok(Trial::Failed { not_quiet, found: Box::new(found) })
}

/// Case `number` (1-based) of the search, as a proptest value tree (to shrink).
pub(super) fn case_tree(search: &Search, number: u32) -> Result<impl ValueTree<Value = Case> + use<>> {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &case_seed(search.seed, number));
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    case(&search.bounds)
        .new_tree(&mut runner)
        .map_err(|e| Error::Explore(format!("generating case {number}: {e}")))
}

/// The run's first violation (of `verdict`, when given).
fn first_violation(run: &ScenarioRun, verdict: Option<Verdict>) -> Option<EventReport> {
    run.result.report.violations().find(|e| verdict.is_none_or(|v| e.verdict == v)).cloned()
}

/// 32 seed bytes for proptest's ChaCha from the search's seed and a case number:
/// splitmix64 of the two, so neighbouring seeds and numbers share nothing.
fn case_seed(seed: u64, number: u32) -> [u8; 32] {
    let mut mixed = seed;
    let mut state = splitmix(&mut mixed) ^ u64::from(number).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&splitmix(&mut state).to_le_bytes());
    }
    bytes
}

/// One step of splitmix64.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::StrategyKind;

    #[test]
    fn a_case_depends_only_on_the_seed_and_its_number() {
        let search = Search { seed: 7, ..Search::new(StrategyKind::OUTBOX, 10) };
        let case = |s: &Search, k| case_tree(s, k).unwrap().current();
        assert_eq!(case(&search, 3), case(&search, 3));
        assert_ne!(case(&search, 3), case(&search, 4));
        let other_seed = Search { seed: 8, ..search.clone() };
        assert_ne!(case(&search, 3), case(&other_seed, 3));
        let more_cases = Search { cases: 1000, ..search.clone() };
        assert_eq!(case(&search, 3), case(&more_cases, 3), "the case count does not change case 3");
    }

    #[test]
    fn case_seeds_differ_for_every_seed_and_number() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..20 {
            for number in 1..=20 {
                assert!(seen.insert(case_seed(seed, number)), "seed {seed}, case {number}");
            }
        }
    }

    #[test]
    fn a_passing_case_is_not_shrunk() {
        // The smallest shape: one replica, one plan of one task, no faults.
        let search = Search {
            bounds: super::super::Bounds::exactly(1, 1, 1, 0),
            ..Search::new(StrategyKind::OUTBOX, 1)
        };
        let shrink_runs = std::cell::Cell::new(0);
        let trial = trial(&search, 1, |n| shrink_runs.set(n), || false).unwrap();
        assert!(matches!(trial, Trial::Passed { not_quiet: false }), "{trial:?}");
        assert_eq!(shrink_runs.get(), 0);
    }
}
