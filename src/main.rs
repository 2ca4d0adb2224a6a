//! The `hasim` command line. Parsing and printing only: the work is in the library.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use hasim::cli::{DEFAULT_DATABASE_URL, ResultsArgs, StoreArgs};
use hasim::cluster::Database;
use hasim::interrupt::{self, Signal};
use hasim::report::{html, text};
use hasim::results::{ResultsDir, TraceFile, VerdictsFile};
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::scenario::Scenario;
use hasim::strategy::StrategyKind;

/// hasim: does this webhook delivery design keep its promise when replicas crash,
/// links break and endpoints fail?
///
/// Replicas of a rollout server share one Postgres and must announce each failed
/// or completed plan by webhook exactly once. hasim runs scripted scenarios of
/// such a cluster, with faults, and judges every announcement against the
/// notification contract.
///
/// Start with: hasim run scenarios/
#[derive(Debug, Parser)]
#[command(name = "hasim", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenario files and report, per event, whether the delivery strategy kept
    /// the notification contract, and whether each file's expectations hold.
    ///
    /// Exit status: 0 when every file's expectations hold, 1 when any does not,
    /// 2 on bad input or a setup error (unreachable database, say).
    Run(RunArgs),
    /// Run every scenario under several strategies (same seed) and print a matrix:
    /// a row per scenario, a column per strategy, each cell the violations the
    /// checker found (`lost 1`, `dup 2`) or `ok`, then totals per strategy.
    ///
    /// Exit status: 0 when every file's expectations hold for every strategy
    /// (a file may expect a weak design to fail), 1 otherwise, 2 on bad input.
    Compare {
        #[command(flatten)]
        run: RunArgs,
        /// The strategies to compare, in column order [default: all]
        #[arg(long, value_delimiter = ',', value_enum)]
        strategies: Vec<StrategyKind>,
    },
    /// Validate scenario files without running them; every bad file is reported with
    /// its line, column and key, and the exit status is 2.
    Check {
        /// Scenario files, or directories of them (their *.toml files).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also write each file's result as JSON ({"version": 1, "files": [{"path",
        /// "ok", "name" or "error": {"line", "column", "key", "message"}}]}); `-`
        /// writes it to stdout (the report then goes to stderr).
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
    },
    /// Measure what the webhook claim costs when replicas race for it (and what the
    /// outbox relays cost), through the store actors, side by side with pgbench
    /// running the same statements.
    ///
    /// Every table row reports duplicate winners (always 0 for a sound claim).
    /// Exit status: 0 on success, 2 on bad arguments, an unreachable server or a
    /// missing pgbench, 1 on other failures.
    Bench(hasim::bench::cli::BenchArgs),
    /// Search for scenarios that break the notification contract under a strategy:
    /// generate random HA scenarios (replicas, plans, retries, skips, cancels, crashes,
    /// DB link faults, endpoint faults), run each, and shrink every failing one to the
    /// smallest scenario that fails the same way.
    ///
    /// Each counterexample is written to --out as a scenario file that replays with
    /// `hasim run FILE` (its seed, and an expectation of the violation, inside).
    /// Cases run on every core (--jobs) with the same results as on one, a search
    /// splits over machines (--shard I/N), and `hasim explore merge` joins the
    /// folders they write.
    /// Exit status: 0 when no counterexample was found, 1 when one was, 2 on bad input.
    Explore(hasim::explore::cli::ExploreArgs),
    /// Check that a Postgres server can host hasim runs: connect, create and migrate a
    /// run schema, race replicas for claims, drop the schema.
    Doctor {
        /// The Postgres server. Default: postgres://postgres@127.0.0.1:5432/postgres.
        #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Leave the schema (hasim_<run id>) in place for inspection.
        #[arg(long)]
        keep_schema: bool,
        /// Replicas racing for each plan's claim.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        replicas: u16,
        /// Plans to race for.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        plans: u32,
        /// Also check that this host can make the primary-standby pair a scenario's
        /// `[database] topology = "primary-standby"` needs: make it from the installed
        /// Postgres binaries, see a commit reach the standby, fail over, delete it.
        #[arg(long, value_enum, default_value = "single")]
        topology: hasim::topology::Topology,
        /// How the pair replicates (with --topology primary-standby).
        #[arg(long, value_enum, default_value = "async")]
        replication: hasim::topology::Replication,
    },
    /// List the run schemas (hasim_*) left on a Postgres server, with their age and
    /// whether a run still uses them, and the primary-standby pairs left on this host;
    /// with --drop, drop the schemas no run uses and stop and delete the pairs whose
    /// process is gone.
    ///
    /// A run drops its schema (and deletes its pair) when it ends; one is left by
    /// --keep-schema, or by a process killed outright (SIGKILL, a second Ctrl-C).
    /// Exit status: 0 on success, 2 when the server cannot be reached.
    Gc(hasim::housekeeping::GcArgs),
    /// List the scenarios built into hasim (those of the source tree's scenarios/),
    /// by name, with what each shows; run one with `hasim run --example NAME`.
    Scenarios,
    /// Print a shell completion script for hasim to stdout, e.g.
    /// `hasim completions bash > ~/.local/share/bash-completion/completions/hasim`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print hasim's man page (roff) to stdout, e.g. `hasim man | man -l -`.
    Man,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Scenario files, or directories of them (their *.toml files, in name order).
    #[arg(required_unless_present = "example")]
    paths: Vec<PathBuf>,
    /// Also run the built-in scenario NAME (`hasim scenarios` lists them); may be
    /// given more than once.
    #[arg(long, value_name = "NAME")]
    example: Vec<String>,
    /// Run every file under this strategy instead of its own (`run` only).
    #[arg(long, value_enum)]
    strategy: Option<StrategyKind>,
    #[command(flatten)]
    store: StoreArgs,
    /// Leave each run's schema (hasim_<run id>) in place for inspection.
    #[arg(long)]
    keep_schema: bool,
    /// Run every file with this seed instead of its own.
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the trace (verdicts, history, receiver log, timings: the versioned
    /// JSON of docs/trace-format.md, as the results folder's trace.json) to PATH; `-`
    /// writes it to stdout (the report then goes to stderr).
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML page with a timeline of every run (lanes per
    /// replica, the receiver and the user; faults, crashes, violations and witnesses).
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    /// Print only scenarios whose expectations fail, and the summary.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    results: ResultsArgs,
    /// Instead of judging, run each file twice on the memory store with the same
    /// seed and check that the histories are identical (`run` only).
    #[arg(long)]
    check_determinism: bool,
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    // Warnings by default (but not the pool's about connections that the scenario's
    // link faults broke on purpose); RUST_LOG says otherwise. Colour only on a
    // terminal, and never with NO_COLOR set (https://no-color.org).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx_core::pool=error"));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .with_writer(std::io::stderr)
        .init();
    listen_for_signals();
    restore_sigpipe();
    let outcome = run(Cli::parse());
    // Stopped by a signal: whatever finished has been reported; exit as the shell
    // expects of a process the signal ended (130 for SIGINT, 143 for SIGTERM).
    if let Some(signal) = interrupt::requested() {
        if let Err(e) = &outcome
            && !is_interrupted(e)
        {
            eprintln!("error: {e:#}");
        }
        eprintln!("stopped by {signal}");
        return ExitCode::from(signal.exit_status());
    }
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Turns the first SIGINT or SIGTERM into a stop request ([`interrupt`]): work in
/// progress ends cleanly and says what it finished. A second one exits at once.
fn listen_for_signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return eprintln!("warning: cannot listen for signals ({e}); Ctrl-C stops hasim at once"),
    };
    // Registered before this returns, so a signal that comes at once is not missed.
    let streams = runtime.block_on(async {
        Ok::<_, std::io::Error>((signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?))
    });
    let (mut int, mut term) = match streams {
        Ok(streams) => streams,
        Err(e) => return eprintln!("warning: cannot listen for signals ({e}); Ctrl-C stops hasim at once"),
    };
    std::thread::spawn(move || {
        runtime.block_on(async move {
            loop {
                let signal = tokio::select! {
                    _ = int.recv() => Signal::Interrupt,
                    _ = term.recv() => Signal::Terminate,
                };
                if interrupt::request(signal) {
                    eprintln!("{signal}: stopping cleanly (again to exit at once)");
                } else {
                    std::process::exit(signal.exit_status().into());
                }
            }
        });
    });
}

/// A reader that goes away (`hasim scenarios | head -3`) ends hasim quietly, as it
/// ends any Unix tool, instead of making the next print panic: Rust ignores SIGPIPE
/// unless told otherwise. Prints come between runs, so no run's schema is left.
fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to its default has no preconditions; it
    // runs before any thread of ours could be writing.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Whether `e` is a stop request, not a failure.
fn is_interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| matches!(c.downcast_ref::<hasim::Error>(), Some(hasim::Error::Interrupted(_))))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run_files(args),
        Command::Compare { run, strategies } => compare(run, strategies),
        Command::Check { paths, json } => check_files(&paths, json.as_deref()),
        Command::Doctor { database_url, keep_schema, replicas, plans, topology, replication } => {
            let url = hasim::cli::choose(Some(hasim::cli::StoreKind::Postgres), database_url.as_deref()).url;
            let code = doctor(
                &url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
                keep_schema,
                replicas,
                plans,
            )?;
            if topology == hasim::topology::Topology::PrimaryStandby {
                doctor_pair(replication)?;
            }
            Ok(code)
        }
        Command::Gc(args) => {
            let report = hasim::housekeeping::gc(&args).context("hasim gc")?;
            print!("{}", report.text(std::time::SystemTime::now()));
            Ok(if report.failed() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Explore(args) => explore(&args),
        Command::Scenarios => {
            for name in hasim::builtin::names() {
                let scenario =
                    hasim::builtin::load(name).expect("a listed name").context("a built-in scenario")?;
                println!("{name:<32} {}", scenario.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "hasim", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .context("writing the man page")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            let to_stdout = args.json.as_deref() == Some(Path::new("-"));
            // A sweep of minutes says how far it is: a line per point on stderr.
            let progress =
                |m: hasim::bench::Measured<'_>| eprintln!("{}", hasim::bench::cli::progress_line(m));
            match hasim::bench::cli::run_reporting(args, progress) {
                Ok(output) => {
                    if let Some(json) = output.json.filter(|_| to_stdout) {
                        eprint!("{}", output.table);
                        print!("{json}");
                    } else {
                        print!("{}", output.table);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    Ok(ExitCode::from(hasim::bench::cli::exit_code(&e)))
                }
            }
        }
    }
}

/// The database `args` ask for, saying so when it falls back to the memory store.
fn database(args: &RunArgs) -> Database {
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
struct Report {
    out: Box<dyn Write>,
    kept: Vec<u8>,
}

impl Report {
    fn new(json: Option<&Path>) -> Report {
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
struct Loaded {
    path: PathBuf,
    text: String,
    scenario: Scenario,
}

/// The results folder of `command` about to run `scenarios` (`None` with
/// `--no-results`), made now so that a root that cannot be written stops the command
/// before it runs anything.
fn results_folder(
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
fn keep_results(
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

fn run_files(args: RunArgs) -> anyhow::Result<ExitCode> {
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
            Err(hasim::Error::Interrupted(_)) => break,
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
fn stopped_after(out: &mut dyn Write, done: usize, of: usize, what: &str) -> std::io::Result<()> {
    match interrupt::requested() {
        Some(signal) => writeln!(out, "stopped by {signal}: {done} of {of} {what}s run; the rest were not"),
        None => Ok(()),
    }
}

fn determinism(scenarios: &[Loaded], args: &RunArgs) -> anyhow::Result<ExitCode> {
    let options = RunOptions { database: Database::Memory, strategy: args.strategy, seed: args.seed };
    let mut differ = 0;
    for Loaded { path, scenario, .. } in scenarios {
        match hasim::runner::check_determinism(scenario, &options)? {
            None => println!("{}: deterministic", path.display()),
            Some(difference) => {
                differ += 1;
                println!("{}: NOT deterministic: {difference}", path.display());
            }
        }
    }
    Ok(if differ == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn compare(args: RunArgs, strategies: Vec<StrategyKind>) -> anyhow::Result<ExitCode> {
    if args.strategy.is_some() {
        bail!("compare runs several strategies: use --strategies a,b,c instead of --strategy");
    }
    let strategies = if strategies.is_empty() { StrategyKind::ALL.to_vec() } else { strategies };
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
                Err(hasim::Error::Interrupted(_)) => break 'scenarios,
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

/// Writes `value` as JSON to `path`; `-` is stdout.
fn write_json(path: Option<&Path>, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    if path == Path::new("-") {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, value).context("writing the JSON to stdout")?;
        return Ok(writeln!(stdout)?);
    }
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    serde_json::to_writer_pretty(std::io::BufWriter::new(file), value)
        .with_context(|| format!("writing {}", path.display()))
}

fn write_html(path: Option<&Path>, page: impl FnOnce() -> String) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    std::fs::write(path, page()).with_context(|| format!("writing the HTML report {}", path.display()))
}

/// Every scenario named, directories expanded to their *.toml files in name order;
/// all are validated before any runs, and every bad one is reported.
/// `hasim check`: every file's verdict, as text (the errors alone when there are
/// any, exit 2) and, when asked, as JSON.
fn check_files(paths: &[PathBuf], json: Option<&Path>) -> anyhow::Result<ExitCode> {
    #[derive(serde::Serialize)]
    struct Checked {
        path: PathBuf,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<hasim::scenario::ScenarioError>,
    }
    let mut checked = Vec::new();
    for path in scenario_files(paths)? {
        let (name, error) = match hasim::scenario::load(&path) {
            Ok(scenario) => (Some(scenario.name), None),
            Err(e) => (None, Some(e)),
        };
        checked.push(Checked { ok: error.is_none(), path, name, error });
    }
    let mut out = Report::new(json);
    let errors: Vec<_> = checked.iter().filter_map(|c| c.error.as_ref()).collect();
    for error in &errors {
        eprintln!("error: {error:#}");
    }
    if errors.is_empty() {
        for c in &checked {
            writeln!(out, "{}: ok ({})", c.path.display(), c.name.as_deref().unwrap_or_default())?;
        }
    }
    write_json(json, &serde_json::json!({ "version": 1, "files": checked }))?;
    Ok(if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// The scenario files `paths` name: each file, and each directory's *.toml files in
/// name order.
fn scenario_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            if found.is_empty() {
                bail!("{}: no *.toml scenario files in this directory", path.display());
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn load_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Loaded>> {
    let files = scenario_files(paths)?;
    let mut scenarios = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for path in files {
        match hasim::scenario::read(&path) {
            Ok((scenario, text)) => scenarios.push(Loaded { path, text, scenario }),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.iter().map(|e| format!("{e:#}")).collect::<Vec<_>>().join("\nerror: "));
    }
    Ok(scenarios)
}

/// The scenarios `args` name: their files, then their built-in examples.
fn load_run(args: &RunArgs) -> anyhow::Result<Vec<Loaded>> {
    let mut scenarios = if args.paths.is_empty() { Vec::new() } else { load_all(&args.paths)? };
    for name in &args.example {
        let (Some(scenario), Some(text)) = (hasim::builtin::load(name), hasim::builtin::text(name)) else {
            bail!("no built-in scenario named `{name}`: `hasim scenarios` lists them");
        };
        let path = PathBuf::from(format!("builtin:{name}"));
        scenarios.push(Loaded { path, text: text.to_owned(), scenario: scenario? });
    }
    Ok(scenarios)
}

fn explore(args: &hasim::explore::cli::ExploreArgs) -> anyhow::Result<ExitCode> {
    use hasim::explore::cli;
    use std::io::IsTerminal;
    if let Some(cli::ExploreCommand::Merge(merge)) = &args.command {
        let merged = hasim::explore::merge(&merge.dirs, &merge.out).context("nothing was merged")?;
        println!("{}", cli::merge_report(&merged, &merge.out));
        return Ok(ExitCode::SUCCESS);
    }
    let clock_seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let search = args.search(clock_seed % 1_000_000_000, cores).context("--strategy is required")?;
    let shard = if search.shard.is_whole() { String::new() } else { format!(", shard {}", search.shard) };
    eprintln!(
        "exploring {} on the {} store, seed {}{shard}, {} job{} (--seed {} repeats this search)",
        search.strategy,
        if matches!(search.database, Database::Memory) { "memory" } else { "postgres" },
        search.seed,
        search.jobs,
        if search.jobs == 1 { "" } else { "s" },
        search.seed
    );
    let results = args.results.folder(&format!("explore-{}", search.strategy), std::time::SystemTime::now());
    let results = results.context("the results folder")?;
    let terminal = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let mut shown = started;
    let outcome = hasim::explore::explore(&search, |p| {
        let step = (p.of / 10).max(1);
        if terminal && shown.elapsed().as_millis() >= 100 {
            eprint!("\r{}\x1b[K", cli::progress_line(p, started.elapsed()));
            shown = std::time::Instant::now();
        } else if !terminal && p.shrinking.is_none() && p.cases % step == 0 {
            eprintln!("{}", cli::progress_line(p, started.elapsed()));
        }
    })
    .context("the search stopped")?;
    if terminal {
        eprint!("\r\x1b[K");
    }
    if !outcome.counterexamples.is_empty() {
        std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    }
    let mut out = Report::new(args.json.as_deref());
    let mut found = Vec::new();
    for c in &outcome.counterexamples {
        let path = cli::file_path(&args.out, c);
        std::fs::write(&path, &c.file).with_context(|| format!("writing {}", path.display()))?;
        found.push(serde_json::json!({
            "case_number": c.case_number,
            "path": path,
            "name": c.name,
            "lines": c.file.lines().count(),
            "shrink_runs": c.shrink_runs,
            "violation": c.violation,
            "replays": c.replays(),
        }));
        writeln!(
            out,
            "counterexample: case {} shrunk in {} runs to {} (a scenario of {} lines){}",
            c.case_number,
            c.shrink_runs,
            path.display(),
            c.file.lines().count(),
            if c.replays() { "" } else { "; it did NOT replay to the same violation (timing-dependent)" }
        )?;
        writeln!(out, "{}", text::scenario(&c.replay))?;
    }
    writeln!(out, "{}", cli::summary(&search, &outcome))?;
    let store = if matches!(search.database, Database::Memory) { "memory" } else { "postgres" };
    let json = serde_json::json!({
        "version": 1,
        "strategy": search.strategy,
        "store": store,
        "seed": search.seed,
        "shard": search.shard.to_string(),
        "jobs": search.jobs,
        "cases": outcome.cases,
        "runs": outcome.runs,
        "not_quiet": outcome.not_quiet,
        "failing_cases": outcome.failing,
        "elapsed_us": u64::try_from(outcome.elapsed.as_micros()).unwrap_or(u64::MAX),
        "interrupted": outcome.interrupted.map(|s| s.to_string()),
        "counterexamples": found,
    });
    write_json(args.json.as_deref(), &json)?;
    if let Some(dir) = results {
        for c in &outcome.counterexamples {
            let path = cli::file_path(Path::new("counterexamples"), c);
            dir.write(&path.to_string_lossy(), &c.file)?;
        }
        dir.write_json("explore.json", &json)?;
        let replays = outcome.counterexamples.iter().map(|c| &c.replay);
        dir.write_json("trace.json", &TraceFile::new("explore", replays))?;
        dir.write("summary.txt", &out.kept)?;
        dir.mark_latest()?;
        writeln!(out, "results: {}", dir.path().display())?;
    }
    Ok(if outcome.counterexamples.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `hasim doctor --topology primary-standby`: the pair's check, printed.
fn doctor_pair(replication: hasim::topology::Replication) -> anyhow::Result<()> {
    let report = hasim::topology::check(replication).context("the primary-standby pair check failed")?;
    let user = if report.as_postgres_user { " (run as the postgres user)" } else { "" };
    println!("Postgres binaries: {}{user}", report.binaries.display());
    println!("primary-standby pair ({} replication): {}", replication.as_str(), report.server_version);
    println!("pair made and streaming in {}", hasim::lag::human(report.started));
    println!("a commit reached the standby in {}", hasim::lag::human(report.replicated));
    println!(
        "failover: the standby took writes {} after the primary died",
        hasim::lag::human(report.failover)
    );
    println!("pair stopped and deleted");
    Ok(())
}

fn doctor(url: &str, keep_schema: bool, replicas: u16, plans: u32) -> anyhow::Result<ExitCode> {
    let report = actix::System::new()
        .block_on(hasim::doctor::doctor(url, replicas.into(), plans as usize, keep_schema))
        .context("the Postgres check failed")?;
    println!("Postgres at {}: {}", report.url, report.server_version);
    println!("schema {} created and migrated", report.schema);
    println!(
        "{} replicas raced for {} plans: {} winners, {} duplicates",
        report.replicas,
        report.plans,
        report.winners,
        report.winners.saturating_sub(report.plans)
    );
    if report.kept {
        println!("schema {} kept (drop it with: DROP SCHEMA {} CASCADE)", report.schema, report.schema);
    } else {
        println!("schema dropped");
    }
    Ok(if report.winners == report.plans { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
