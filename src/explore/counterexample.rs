//! A counterexample: the shrunk case that breaks the contract, the scenario file that
//! shows it (how it was found, how to replay it, its witness, and an expectation of
//! its violation for the strategy searched), and that file's own run.

use crate::check::{EventReport, Verdict};
use crate::runner::{RunOptions, ScenarioRun, run_scenario};
use crate::{Error, Result};

use super::case::Case;
use super::render::{Annotations, ExpectedVerdict};
use super::search::Search;

/// A case that breaks the contract, shrunk.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// Its number in the search (1-based).
    pub case_number: u32,
    /// The case as generated.
    pub original: Case,
    /// The smallest case found that fails the same way.
    pub case: Case,
    /// Runs spent shrinking.
    pub shrink_runs: u32,
    /// The violation the shrunk case shows.
    pub violation: EventReport,
    /// The written file's run, judged against the file's own expectations.
    pub replay: ScenarioRun,
    /// The file's scenario name (`explore-<strategy>-seed<S>-case<N>`).
    pub name: String,
    /// The shrunk case as a scenario file that expects the violation.
    pub file: String,
}

impl Counterexample {
    /// Whether the file, read back and run, showed the violation again (always on
    /// the memory store; on Postgres only where it does not depend on timing).
    pub fn replays(&self) -> bool {
        self.replay.ok
    }
}

/// `file` read back as a scenario and run.
pub(super) fn replay(search: &Search, name: &str, file: &str) -> Result<ScenarioRun> {
    let scenario = crate::scenario::parse(name, file)
        .map_err(|e| Error::Explore(format!("a counterexample file does not read back: {e}")))?;
    let options = RunOptions { database: search.database.clone(), strategy: None, seed: None };
    run_scenario(&scenario, &options)
}

/// The scenario file of a counterexample: how it was found, how to replay it, its
/// witness, and an expectation of its violation for the strategy searched.
pub(super) fn counterexample_file(
    search: &Search,
    name: &str,
    number: u32,
    case: &Case,
    run: &ScenarioRun,
    violation: &EventReport,
) -> String {
    // Plans are titled by their file names, `p1`, `p2`, ...
    let plan = crate::store::plan_titles(&run.result.final_state)
        .get(&violation.plan)
        .and_then(|title| title.strip_prefix('p')?.parse::<usize>().ok())
        .map(|n| n - 1);
    let comments = vec![
        format!(
            "Found by `hasim explore --strategy {} --seed {} --cases {}{}` (case {number}), then shrunk.",
            search.strategy,
            search.seed,
            search.cases,
            search.bounds.pair.map_or(String::new(), |r| format!(" --failover {}", r.as_str()))
        ),
        format!("Replay: `hasim run {name}.toml`."),
        format!(
            "{} {}#{}: {}",
            violation.verdict,
            violation.event.as_str(),
            violation.episode,
            violation.witness.summary
        ),
    ];
    let notes = Annotations {
        description: format!(
            "{} {} {} (episode {}) of p{}: a generated case, shrunk.",
            search.strategy,
            verdict_phrase(violation.verdict),
            violation.event.as_str(),
            violation.episode,
            plan.map_or(0, |p| p + 1)
        ),
        name: name.to_owned(),
        comments,
        expect: Some(ExpectedVerdict {
            strategy: search.strategy,
            plan,
            event: violation.event,
            episode: violation.episode,
            verdict: violation.verdict,
        }),
    };
    case.to_toml(search.strategy, &notes)
}

fn verdict_phrase(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Lost => "loses",
        Verdict::Duplicate => "duplicates",
        Verdict::Unexpected => "sends an unexpected",
        Verdict::Late => "is late with",
        _ => "mishandles",
    }
}
