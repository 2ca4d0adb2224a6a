//! Scenario files: TOML that scripts an HA run (replicas, plans, user actions,
//! faults) and says what the run must end with.
//!
//! A file is read into raw types that mirror it (`raw`), then validated into a
//! [`Scenario`] before anything runs: unknown keys, unknown replicas or plans,
//! impossible times and negative durations are rejected with the file, line and key
//! ([`ScenarioError`]). [`load`] reads a file, [`parse`] a text. The format is
//! documented in `docs/scenario-format.md`.

mod duration;
mod error;
mod raw;
mod validate;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use duration::{Humane, parse as parse_duration};
pub use error::ScenarioError;
use error::Source;

use crate::check::Verdict;
use crate::model::EventType;
use crate::spec::ClusterSpec;
pub use crate::spec::Target;
use crate::strategy::StrategyKind;
use crate::webhook::Secret;

/// A validated scenario, ready to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// What it shows, for people.
    pub description: String,
    /// The cluster run: seed, strategy, timing, plans, timeline, faults (in file
    /// order: `Fault::index` is the position), deadline, and the claim-check moments.
    pub spec: ClusterSpec,
    /// Where webhooks go.
    pub target: Target,
    /// The signing secret (`None`: derived from the seed).
    #[serde(skip)]
    pub secret: Option<Secret>,
    /// The built-in receiver's answer when no fault applies.
    pub default_status: u16,
    /// What the run must end with.
    pub expectations: Vec<Expectation>,
    /// Checks of the claim table during the run.
    pub claim_checks: Vec<ClaimCheck>,
}

/// An event named in an expectation: a type and, optionally, an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    /// The event type.
    pub event: EventType,
    /// The episode; `None` matches any.
    pub episode: Option<u32>,
}

/// What a run must end with. Applies to the strategies listed (all when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// The strategies it applies to; empty for every strategy.
    pub strategies: Vec<StrategyKind>,
    /// The plan (index into `spec.plans`); `None` for the whole run.
    pub plan: Option<usize>,
    /// Whether the run passes the contract (no lost, duplicate, unexpected or late).
    pub pass: Option<bool>,
    /// The distinct deliveries the receiver must end with for the plan, exactly.
    pub deliveries: Option<Vec<EventRef>>,
    /// Verdicts the checker must give events of the plan.
    pub verdicts: Vec<(EventRef, Verdict)>,
}

/// A check of the claim table at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimCheck {
    /// When, on the run's clock.
    #[serde(rename = "at_us", with = "crate::history::micros")]
    pub at: Duration,
    /// The strategies it applies to; empty for every strategy.
    pub strategies: Vec<StrategyKind>,
    /// The rows that must be there: (plan index, event type). Plans not listed must
    /// hold no row.
    pub rows: Vec<(usize, EventType)>,
}

/// Reads and validates the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    read(path).map(|(scenario, _)| scenario)
}

/// Reads and validates the scenario file at `path`, and gives its text back beside
/// it (what a results folder keeps as the scenario that ran).
pub fn read(path: &Path) -> Result<(Scenario, String), ScenarioError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: name.clone(),
        line: 0,
        column: 0,
        key: String::new(),
        message: format!("cannot read the file: {e}"),
    })?;
    Ok((parse(&name, &text)?, text))
}

/// Reads and validates a scenario from `text`; errors name `path_for_messages`.
pub fn parse(path_for_messages: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let src = Source { file: path_for_messages, text };
    let raw: raw::RawScenario = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    validate::validate(src, raw)
}
