//! `hasim run` and `hasim compare`: scenarios run, reported as they finish, kept in
//! the command's results folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::ResultsArgs;
use super::app::RunArgs;
use super::files::{load_run, write_html, write_json};
use crate::interrupt;
use crate::report::{html, text};
use crate::results::{ResultsDir, TraceFile, VerdictsFile};
use crate::runner::{RunOptions, ScenarioRun, run_scenario};
use crate::scenario::Scenario;
use crate::sim::Database;
use crate::strategy::StrategyKind;

/// The database `args` ask for, saying so when it falls back to the memory store.
pub(super) fn database(args: &RunArgs) -> Database {
    let choice = args.store.choose();
    if choice.defaulted {
        eprintln!(
            "no DATABASE_URL or --database-url: running on the memory store (--store postgres for Postgres)"
        );
    }
    choice.database(args.keep_schema)
}

/// The human report: written to stdout as it goes (stderr when `--json -` takes
/// stdout), and kept for the results folder's `summary.txt`.
pub(super) struct Report {
    out: Box<dyn Write>,
    pub(super) kept: Vec<u8>,
}

impl Report {
    pub(super) fn new(json: Option<&Path>) -> Report {
        let out: Box<dyn Write> = if json == Some(Path::new("-")) {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        };
        Report { out, kept: Vec::new() }
    }
}

impl Write for Report {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write_all(buf)?;
        self.kept.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A scenario to run: where it came from, its text as read, and what it says.
pub(super) struct Loaded {
    pub(super) path: PathBuf,
    pub(super) text: String,
    pub(super) scenario: Scenario,
}

/// The results folder of `command` about to run `scenarios` (`None` with
/// `--no-results`), made now so that a root that cannot be written stops the command
/// before it runs anything.
pub(super) fn results_folder(
    args: &ResultsArgs,
    command: &str,
    scenarios: &[Loaded],
) -> anyhow::Result<Option<ResultsDir>> {
    let what = match scenarios {
        [one] => one.scenario.name.clone(),
        _ => format!("{}-scenarios", scenarios.len()),
    };
    let label = if command == "run" { what } else { format!("{command}-{what}") };
    args.folder(&label, std::time::SystemTime::now()).context("the results folder")
}

/// Keeps what `command` ran in its results folder (the scenarios as run, the trace,
/// the verdicts, the HTML report, the report as printed) and says where on `report`.
pub(super) fn keep_results(
    dir: Option<ResultsDir>,
    command: &str,
    ran: &[Loaded],
    runs: &[&ScenarioRun],
    page: impl FnOnce() -> String,
    report: &mut Report,
) -> anyhow::Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    let mut names = std::collections::HashSet::new();
    for (i, loaded) in ran.iter().enumerate() {
        let mut name = format!("{}.toml", loaded.scenario.name);
        if !names.insert(name.clone()) {
            name = format!("{}-{name}", i + 1);
        }
        dir.write(&format!("scenarios/{name}"), &loaded.text)?;
    }
    dir.write_json("trace.json", &TraceFile::new(command, runs.iter().copied()))?;
    dir.write_json("verdicts.json", &VerdictsFile::new(runs.iter().copied()))?;
    dir.write("report.html", page())?;
    dir.write("summary.txt", &report.kept)?;
    dir.mark_latest()?;
    writeln!(report, "results: {}", dir.path().display())?;
    Ok(())
}

pub(super) fn run_files(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenarios = load_run(&args)?;
    if args.check_determinism {
        if args.html.is_some() {
            bail!("--html draws runs; --check-determinism does not judge any: use one or the other");
        }
        return determinism(&scenarios, &args);
    }
    let results = results_folder(&args.results, "run", &scenarios)?;
    let options = RunOptions { database: database(&args), strategy: args.strategy, seed: args.seed };
    let mut out = Report::new(args.json.as_deref());
    let mut runs: Vec<ScenarioRun> = Vec::with_capacity(scenarios.len());
    for (i, loaded) in scenarios.iter().enumerate() {
        let path = &loaded.path;
        if !args.quiet && scenarios.len() > 1 {
            eprintln!("[{}/{}] {}", i + 1, scenarios.len(), path.display());
        }
        let run = match run_scenario(&loaded.scenario, &options) {
            Err(crate::Error::Interrupted(_)) => break,
            run => run.with_context(|| format!("running {}", path.display()))?,
        };
        if !args.quiet || !run.ok {
            writeln!(out, "{}", text::scenario(&run))?;
        }
        runs.push(run);
    }
    writeln!(out, "{}", text::summary(&runs))?;
    stopped_after(&mut out, runs.len(), scenarios.len(), "scenario")?;
    let ran = &scenarios[..runs.len()];
    let all: Vec<&ScenarioRun> = runs.iter().collect();
    write_json(args.json.as_deref(), &TraceFile::new("run", all.iter().copied()))?;
    let page = || {
        let sections = ran.iter().zip(&runs).map(|(loaded, run)| html::Section {
            scenario: &loaded.scenario,
            runs: std::slice::from_ref(run),
        });
        html::render("hasim run", &sections.collect::<Vec<_>>())
    };
    write_html(args.html.as_deref(), page)?;
    keep_results(results, "run", ran, &all, page, &mut out)?;
    Ok(if runs.iter().all(|r| r.ok) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// After a stop request: how much of the work finished (`2 of 12 scenarios run`).
pub(super) fn stopped_after(out: &mut dyn Write, done: usize, of: usize, what: &str) -> std::io::Result<()> {
    match interrupt::requested() {
        Some(signal) => writeln!(out, "stopped by {signal}: {done} of {of} {what}s run; the rest were not"),
        None => Ok(()),
    }
}

pub(super) fn determinism(scenarios: &[Loaded], args: &RunArgs) -> anyhow::Result<ExitCode> {
    let options = RunOptions { database: Database::Memory, strategy: args.strategy, seed: args.seed };
    let mut differ = 0;
    for Loaded { path, scenario, .. } in scenarios {
        match crate::runner::check_determinism(scenario, &options)? {
            None => println!("{}: deterministic", path.display()),
            Some(difference) => {
                differ += 1;
                println!("{}: NOT deterministic: {difference}", path.display());
            }
        }
    }
    Ok(if differ == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub(super) fn compare(args: RunArgs, strategies: Vec<StrategyKind>) -> anyhow::Result<ExitCode> {
    if args.strategy.is_some() {
        bail!("compare runs several strategies: use --strategies a,b,c instead of --strategy");
    }
    let strategies = if strategies.is_empty() { StrategyKind::all() } else { strategies };
    let scenarios = load_run(&args)?;
    let results = results_folder(&args.results, "compare", &scenarios)?;
    let database = database(&args);
    let mut out = Report::new(args.json.as_deref());
    let mut rows = Vec::with_capacity(scenarios.len());
    'scenarios: for (i, Loaded { path, scenario, .. }) in scenarios.iter().enumerate() {
        if !args.quiet {
            eprintln!("[{}/{}] {}", i + 1, scenarios.len(), path.display());
        }
        let mut runs = Vec::with_capacity(strategies.len());
        for &strategy in &strategies {
            let options =
                RunOptions { database: database.clone(), strategy: Some(strategy), seed: args.seed };
            let run = match run_scenario(scenario, &options) {
                // A row cut short is left out: the matrix has every strategy's cell.
                Err(crate::Error::Interrupted(_)) => break 'scenarios,
                run => run.with_context(|| format!("running {} under {strategy}", path.display()))?,
            };
            if !run.ok && !args.quiet {
                writeln!(out, "{}", text::scenario(&run))?;
            }
            runs.push(run);
        }
        rows.push((scenario.name.clone(), runs));
    }
    write!(out, "{}", text::matrix(&rows))?;
    let all: Vec<&ScenarioRun> = rows.iter().flat_map(|(_, runs)| runs).collect();
    if let Some(lag) = text::host_lag(all.iter().copied()) {
        writeln!(out, "{lag}")?;
    }
    stopped_after(&mut out, rows.len(), scenarios.len(), "scenario")?;
    write_json(args.json.as_deref(), &TraceFile::new("compare", all.iter().copied()))?;
    let ran = &scenarios[..rows.len()];
    let page = || {
        let sections = ran
            .iter()
            .zip(&rows)
            .map(|(loaded, (_, runs))| html::Section { scenario: &loaded.scenario, runs });
        html::render("hasim compare", &sections.collect::<Vec<_>>())
    };
    write_html(args.html.as_deref(), page)?;
    keep_results(results, "compare", ran, &all, page, &mut out)?;
    Ok(if all.iter().all(|r| r.ok) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `hasim check-trace`: the runs of a saved trace judged again, reported as `run`
/// reports them.
pub(super) fn check_trace(path: &Path, quiet: bool, json: Option<&Path>) -> anyhow::Result<ExitCode> {
    let runs = crate::recheck::recheck_file(path)?;
    let mut out = Report::new(json);
    for run in &runs {
        if !quiet || !run.ok {
            writeln!(out, "{}", text::scenario(run))?;
        }
    }
    writeln!(out, "{}", text::summary(&runs))?;
    write_json(json, &TraceFile::new("check-trace", runs.iter()))?;
    Ok(if runs.iter().all(|r| r.ok) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
