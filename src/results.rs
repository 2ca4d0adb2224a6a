//! A folder of results per command, kept as Jepsen keeps its store: everything a run
//! produced, in one place, named by when it started and what it ran.
//!
//! `hasim run`, `compare` and `explore` each write `results/<time>-<label>/` (the
//! time in UTC, `20261201T132508Z`; the label the scenario's name, or what the
//! command ran) and point `results/latest` at it. [`TraceFile`] is the versioned
//! JSON of the runs, as `trace.json` and `--json` hold it; `docs/trace-format.md`
//! documents it and `docs/trace.schema.json` is its JSON Schema.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::runner::ScenarioRun;
use crate::{Error, Result};

/// The folder results go under when no other is given.
pub const DEFAULT_ROOT: &str = "results";

/// The name of the link to the newest results folder.
pub const LATEST: &str = "latest";

/// The version of the trace format. It changes when a field changes meaning or goes
/// away; new fields may appear within a version.
pub const TRACE_VERSION: u32 = 1;

/// The runs of one command as JSON: `{"format": "hasim-trace", "version": 1, ...}`.
#[derive(Debug, Serialize)]
pub struct TraceFile<'a> {
    /// Always `hasim-trace`: what this file is.
    pub format: &'static str,
    /// [`TRACE_VERSION`].
    pub version: u32,
    /// The hasim version that wrote it.
    pub hasim: &'static str,
    /// The command that ran: `run`, `compare` or `explore` (its counterexamples' replays).
    pub command: &'a str,
    /// Every run, in the order it ran.
    pub runs: Vec<&'a ScenarioRun>,
}

impl<'a> TraceFile<'a> {
    /// The trace of `runs`, made by `command`.
    pub fn new(command: &'a str, runs: impl IntoIterator<Item = &'a ScenarioRun>) -> Self {
        TraceFile {
            format: "hasim-trace",
            version: TRACE_VERSION,
            hasim: env!("CARGO_PKG_VERSION"),
            command,
            runs: runs.into_iter().collect(),
        }
    }
}

/// The verdicts of one command's runs, without their histories: what a tool reads
/// to know which runs held (`jq '.runs[] | select(.ok | not)' verdicts.json`).
#[derive(Debug, Serialize)]
pub struct VerdictsFile<'a> {
    /// Always `hasim-verdicts`.
    pub format: &'static str,
    /// [`TRACE_VERSION`]: the verdicts are the trace's, versioned with it.
    pub version: u32,
    /// One entry per run, in the order they ran.
    pub runs: Vec<RunVerdicts<'a>>,
}

/// One run's verdicts and checked expectations.
#[derive(Debug, Serialize)]
pub struct RunVerdicts<'a> {
    /// The scenario's name.
    pub name: &'a str,
    /// The strategy it ran.
    pub strategy: crate::strategy::StrategyKind,
    /// `memory` or `postgres`.
    pub store: &'a str,
    /// The seed it ran with.
    pub seed: u64,
    /// Whether every expectation held.
    pub ok: bool,
    /// The expectations, checked.
    pub checks: &'a [crate::runner::Check],
    /// The checker's verdict for every event, as the trace has it.
    pub report: &'a crate::check::Report,
}

impl<'a> VerdictsFile<'a> {
    /// The verdicts of `runs`.
    pub fn new(runs: impl IntoIterator<Item = &'a ScenarioRun>) -> Self {
        let runs = runs
            .into_iter()
            .map(|r| RunVerdicts {
                name: &r.name,
                strategy: r.strategy,
                store: r.store,
                seed: r.seed,
                ok: r.ok,
                checks: &r.checks,
                report: &r.result.report,
            })
            .collect();
        VerdictsFile { format: "hasim-verdicts", version: TRACE_VERSION, runs }
    }
}

/// One command's results folder, created empty when the command starts (so a root
/// that cannot be written fails it before any run) and written when it ends; a folder
/// still empty when dropped (the command failed) is removed.
#[derive(Debug)]
pub struct ResultsDir {
    root: PathBuf,
    path: PathBuf,
}

impl ResultsDir {
    /// Creates `<root>/<time>-<label>/` for a command started at `started`; a folder of
    /// that name already there (two commands in the same second) gets `-2`, `-3`, ...
    pub fn create(root: &Path, label: &str, started: SystemTime) -> Result<ResultsDir> {
        std::fs::create_dir_all(root).map_err(|e| failed(root, e))?;
        let base = folder_name(started, label);
        for n in 1.. {
            let name = if n == 1 { base.clone() } else { format!("{base}-{n}") };
            let path = root.join(name);
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(ResultsDir { root: root.to_owned(), path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(failed(&path, e)),
            }
        }
        unreachable!("some suffix is free")
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to the file `name` (which may name a subfolder) in the folder.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> Result<PathBuf> {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| failed(parent, e))?;
        }
        std::fs::write(&path, contents).map_err(|e| failed(&path, e))?;
        Ok(path)
    }

    /// Writes `value` as indented JSON to the file `name`.
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> Result<PathBuf> {
        let path = self.path.join(name);
        let file = std::fs::File::create(&path).map_err(|e| failed(&path, e))?;
        let mut out = io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, value).map_err(|e| failed(&path, e.into()))?;
        out.write_all(b"\n").and_then(|()| out.flush()).map_err(|e| failed(&path, e))?;
        Ok(path)
    }

    /// Points `<root>/latest` at this folder (a relative symbolic link, replaced in
    /// one step, so a reader never finds it missing).
    pub fn mark_latest(&self) -> Result<()> {
        let name = self.path.file_name().expect("a folder made by create has a name");
        let latest = self.root.join(LATEST);
        let staged = self.root.join(format!(".{LATEST}-{}", std::process::id()));
        let _ = std::fs::remove_file(&staged);
        symlink(Path::new(name), &staged).map_err(|e| failed(&staged, e))?;
        std::fs::rename(&staged, &latest).map_err(|e| failed(&latest, e))
    }
}

impl Drop for ResultsDir {
    fn drop(&mut self) {
        // Removes the folder only if nothing was written to it.
        let _ = std::fs::remove_dir(&self.path);
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "results/latest needs symbolic links"))
}

fn failed(path: &Path, cause: io::Error) -> Error {
    Error::Results { path: path.to_owned(), cause }
}

/// `20261201T132508Z-crash-after-claim`: the UTC second `at`, then `label` with every
/// character other than a letter, digit, `-`, `_` or `.` made `-`.
pub fn folder_name(at: SystemTime, label: &str) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let label: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .collect();
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z-{label}", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_folder_is_named_by_its_utc_second_and_a_clean_label() {
        // 2026-12-01 13:25:08 UTC, worked out by `date -u -d @1796131508`.
        assert_eq!(folder_name(at(1_796_131_508), "crash-after-claim"), "20261201T132508Z-crash-after-claim");
        assert_eq!(folder_name(at(0), "a b/c"), "19700101T000000Z-a-b-c");
        // The leap day of a year divisible by 400, and the last second of a year.
        assert_eq!(folder_name(at(951_782_400), "x"), "20000229T000000Z-x");
        assert_eq!(folder_name(at(1_798_761_599), "x"), "20261231T235959Z-x");
    }

    #[test]
    fn two_commands_in_the_same_second_get_two_folders_and_latest_follows() {
        let root = std::env::temp_dir().join(format!("hasim-results-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let first = ResultsDir::create(&root, "x", at(0)).unwrap();
        let second = ResultsDir::create(&root, "x", at(0)).unwrap();
        assert_eq!(first.path(), root.join("19700101T000000Z-x"));
        assert_eq!(second.path(), root.join("19700101T000000Z-x-2"));
        first.write("sub/a.txt", "a").unwrap();
        first.mark_latest().unwrap();
        assert_eq!(std::fs::read_to_string(root.join("latest/sub/a.txt")).unwrap(), "a");
        second.write_json("b.json", &serde_json::json!({"b": 1})).unwrap();
        second.mark_latest().unwrap();
        assert_eq!(std::fs::read_to_string(root.join("latest/b.json")).unwrap(), "{\n  \"b\": 1\n}\n");
        assert_eq!(std::fs::read_link(root.join("latest")).unwrap(), Path::new("19700101T000000Z-x-2"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_folder_nothing_was_written_to_goes_when_dropped() {
        let root = std::env::temp_dir().join(format!("hasim-results-empty-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let empty = ResultsDir::create(&root, "x", at(0)).unwrap();
        let kept = ResultsDir::create(&root, "y", at(0)).unwrap();
        kept.write("a.txt", "a").unwrap();
        let (empty_path, kept_path) = (empty.path().to_owned(), kept.path().to_owned());
        drop((empty, kept));
        assert!(!empty_path.exists() && kept_path.join("a.txt").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_root_that_cannot_be_made_is_an_error_naming_it() {
        let file = std::env::temp_dir().join(format!("hasim-results-file-{}", std::process::id()));
        std::fs::write(&file, "not a folder").unwrap();
        let err = ResultsDir::create(&file.join("results"), "x", at(0)).unwrap_err();
        assert!(err.to_string().contains(&file.join("results").display().to_string()), "{err}");
        std::fs::remove_file(&file).unwrap();
    }
}
