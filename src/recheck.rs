//! Judging saved runs again: `hasim check-trace FILE.json`.
//!
//! A trace file (what `hasim run --json` writes, or a results folder's `trace.json`,
//! `docs/trace-format.md`) keeps each run's [`Trace`] and what its scenario expected
//! ([`Expected`]). [`recheck_file`] reads them back, checks every trace with the
//! current checker ([`crate::check::check_trace`]) and judges the verdicts against
//! the expectations again, giving the same [`ScenarioRun`]s `hasim run` gives, so
//! they print the same way. The verdicts the file held are not read: they are what
//! an older checker said.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::judge::{Expected, RunResult};
use crate::results::TRACE_VERSION;
use crate::runner::ScenarioRun;
use crate::store::StatusWrite;
use crate::strategy::StrategyKind;
use crate::trace::Trace;
use crate::{Error, Result};

/// What is wrong with a trace file that cannot be judged again. Each says all it
/// knows in its message ([`Error::Trace`] names the file).
#[derive(Debug, thiserror::Error)]
pub enum TraceProblem {
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Read(std::io::Error),
    /// The file is not JSON, or not JSON of the shape a trace has.
    #[error("not a trace file: {0}")]
    Json(serde_json::Error),
    /// A JSON document of another kind.
    #[error("its format is {found:?}, not \"hasim-trace\"{}", format_hint(found))]
    Format {
        /// The `format` the file names.
        found: String,
    },
    /// A trace of a version this hasim does not read.
    #[error("it is a version {found} trace; this hasim reads version {TRACE_VERSION}")]
    Version {
        /// The `version` the file names.
        found: u32,
    },
    /// One run of the file is not a run as the format describes it.
    #[error("run {index} ({name}): {cause}")]
    Run {
        /// The run's position in `runs`, from 0.
        index: usize,
        /// The run's scenario, as the file names it.
        name: String,
        /// What is wrong with it.
        cause: serde_json::Error,
    },
    /// A run saved without something judging needs: a trace written before hasim kept
    /// it (`deadline_us`, `expected`).
    #[error("run {index} ({name}) has no `{field}`: it was written by a hasim that did not keep it")]
    Missing {
        /// The run's position in `runs`, from 0.
        index: usize,
        /// The run's scenario, as the file names it.
        name: String,
        /// The field it lacks.
        field: &'static str,
    },
}

fn format_hint(found: &str) -> &'static str {
    match found {
        "hasim-verdicts" => " (verdicts.json holds no histories: give the trace.json beside it)",
        _ => "",
    }
}

/// Reads the trace file at `path` and judges every run in it again, in the file's
/// order: each trace checked by the current checker, its verdicts judged against the
/// expectations the file kept. Fails with [`Error::Trace`], naming the file and what
/// is wrong with it.
pub fn recheck_file(path: &Path) -> Result<Vec<ScenarioRun>> {
    let failed = |problem| Error::Trace { path: path.to_owned(), problem };
    let text = std::fs::read_to_string(path).map_err(|e| failed(TraceProblem::Read(e)))?;
    recheck_str(&text).map_err(failed)
}

/// [`recheck_file`] of a trace file's text.
pub fn recheck_str(text: &str) -> std::result::Result<Vec<ScenarioRun>, TraceProblem> {
    let file: SavedFile = serde_json::from_str(text).map_err(TraceProblem::Json)?;
    if file.format != "hasim-trace" {
        return Err(TraceProblem::Format { found: file.format });
    }
    if file.version != TRACE_VERSION {
        return Err(TraceProblem::Version { found: file.version });
    }
    file.runs.into_iter().enumerate().map(|(index, run)| recheck_run(index, run)).collect()
}

/// The top of a trace file, its runs left as JSON to read one by one.
#[derive(Deserialize)]
struct SavedFile {
    format: String,
    version: u32,
    runs: Vec<Value>,
}

/// A run as a trace file keeps it, without the verdicts and checks it was given.
#[derive(Deserialize)]
struct SavedRun {
    strategy: StrategyKind,
    status_write: StatusWrite,
    seed: u64,
    store: String,
    #[serde(rename = "wall_us", with = "crate::history::micros")]
    wall: Duration,
    result: Value,
    expected: Option<Expected>,
}

/// Judges the `index`-th run of a file again.
fn recheck_run(index: usize, run: Value) -> std::result::Result<ScenarioRun, TraceProblem> {
    let name = run.get("name").and_then(Value::as_str).unwrap_or("?").to_owned();
    let problem = |cause| TraceProblem::Run { index, name: name.clone(), cause };
    let missing = |field| TraceProblem::Missing { index, name: name.clone(), field };
    let saved: SavedRun = serde_json::from_value(run.clone()).map_err(problem)?;
    if saved.result.get("deadline_us").is_none() {
        return Err(missing("deadline_us"));
    }
    let expected = saved.expected.ok_or_else(|| missing("expected"))?;
    let trace: Trace = serde_json::from_value(saved.result).map_err(problem)?;
    let store = match saved.store.as_str() {
        "memory" => "memory",
        "postgres" => "postgres",
        _ => return Err(problem(serde::de::Error::custom(format!("unknown store {:?}", saved.store)))),
    };
    let result = RunResult::checked(trace);
    let checks = expected.judge(saved.strategy, &result);
    Ok(ScenarioRun {
        name,
        strategy: saved.strategy,
        status_write: saved.status_write,
        seed: saved.seed,
        store,
        wall: saved.wall,
        ok: checks.iter().all(|c| c.ok),
        checks,
        result,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_of_another_kind_or_version_is_refused_saying_which() {
        let verdicts = r#"{"format": "hasim-verdicts", "version": 1, "runs": []}"#;
        let err = recheck_str(verdicts).unwrap_err().to_string();
        assert!(err.contains("hasim-verdicts") && err.contains("trace.json"), "{err}");
        let newer = r#"{"format": "hasim-trace", "version": 9, "runs": []}"#;
        assert!(matches!(recheck_str(newer), Err(TraceProblem::Version { found: 9 })));
        assert!(matches!(recheck_str("[1, 2"), Err(TraceProblem::Json(_))));
    }

    #[test]
    fn a_run_without_a_deadline_names_the_run_and_the_field() {
        let old = r#"{"format": "hasim-trace", "version": 1, "runs": [{"name": "old", "strategy":
            "outbox", "status_write": "fenced", "seed": 1, "store": "memory", "wall_us": 5,
            "result": {"quiesced": true}, "expected": null}]}"#;
        let err = recheck_str(old).unwrap_err();
        assert!(matches!(err, TraceProblem::Missing { index: 0, field: "deadline_us", .. }), "{err}");
        assert!(err.to_string().contains("run 0 (old)"), "{err}");
    }

    #[test]
    fn an_empty_trace_file_has_no_runs_to_judge() {
        let empty =
            r#"{"format": "hasim-trace", "version": 1, "hasim": "0.1.0", "command": "run", "runs": []}"#;
        assert!(recheck_str(empty).unwrap().is_empty());
    }
}
