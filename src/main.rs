//! The `hasim` command line. Parsing and printing only: the work is in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use hasim::cluster::Database;
use hasim::report::{html, text};
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::scenario::Scenario;
use hasim::strategy::StrategyKind;

/// The default server: the local one, with trust auth.
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

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
        #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(StrategyKind))]
        strategies: Vec<StrategyKind>,
    },
    /// Validate scenario files without running them; every bad file is reported with
    /// its line, column and key, and the exit status is 2.
    Check {
        /// Scenario files, or directories of them (their *.toml files).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
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
        #[command(flatten)]
        db: DbArgs,
        /// Replicas racing for each plan's claim.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        replicas: u16,
        /// Plans to race for.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        plans: u32,
    },
}

#[derive(Debug, Args)]
struct DbArgs {
    /// The Postgres server [env: DATABASE_URL] [default: postgres://postgres@127.0.0.1:5432/postgres]
    #[arg(long)]
    database_url: Option<String>,
    /// Leave each run's schema (hasim_<run id>) in place for inspection.
    #[arg(long)]
    keep_schema: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Scenario files, or directories of them (their *.toml files, in name order).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Run every file under this strategy instead of its own (`run` only).
    #[arg(long, value_parser = clap::value_parser!(StrategyKind))]
    strategy: Option<StrategyKind>,
    /// Where the replicas' database is. Default: postgres when DATABASE_URL or
    /// --database-url is set, else the memory store (fast and deterministic).
    #[arg(long, value_enum)]
    store: Option<StoreArg>,
    #[command(flatten)]
    db: DbArgs,
    /// Run every file with this seed instead of its own.
    #[arg(long)]
    seed: Option<u64>,
    /// Write the full results (verdicts, history, receiver log, timings) as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML page with a timeline of every run (lanes per
    /// replica, the receiver and the user; faults, crashes, violations and witnesses).
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    /// Print only scenarios whose expectations fail, and the summary.
    #[arg(long)]
    quiet: bool,
    /// Instead of judging, run each file twice on the memory store with the same
    /// seed and check that the histories are identical (`run` only).
    #[arg(long)]
    check_determinism: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreArg {
    /// The in-process model of the database.
    Memory,
    /// A real Postgres server.
    Postgres,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run_files(args),
        Command::Compare { run, strategies } => compare(run, strategies),
        Command::Check { paths } => {
            let scenarios = load_all(&paths)?;
            for (path, scenario) in &scenarios {
                println!("{}: ok ({})", path.display(), scenario.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor { db, replicas, plans } => doctor(db, replicas, plans),
        Command::Explore(args) => explore(&args),
        Command::Bench(args) => match hasim::bench::cli::run(args) {
            Ok(table) => {
                print!("{table}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                Ok(ExitCode::from(hasim::bench::cli::exit_code(&e)))
            }
        },
    }
}

/// The database `args` ask for, saying so when it falls back to the memory store.
fn database(args: &RunArgs) -> Database {
    let url = args.db.database_url.clone().or_else(|| std::env::var("DATABASE_URL").ok());
    match (args.store, url) {
        (Some(StoreArg::Memory), _) => Database::Memory,
        (None, None) => {
            eprintln!(
                "no DATABASE_URL or --database-url: running on the memory store (--store postgres for Postgres)"
            );
            Database::Memory
        }
        (Some(StoreArg::Postgres) | None, url) => Database::Postgres {
            url: url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            keep_schema: args.db.keep_schema,
        },
    }
}

fn run_files(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenarios = load_all(&args.paths)?;
    if args.check_determinism {
        if args.html.is_some() {
            bail!("--html draws runs; --check-determinism does not judge any: use one or the other");
        }
        return determinism(&scenarios, &args);
    }
    let options = RunOptions { database: database(&args), strategy: args.strategy, seed: args.seed };
    let mut runs: Vec<ScenarioRun> = Vec::with_capacity(scenarios.len());
    for (i, (path, scenario)) in scenarios.iter().enumerate() {
        if !args.quiet && scenarios.len() > 1 {
            eprintln!("[{}/{}] {}", i + 1, scenarios.len(), path.display());
        }
        let run = run_scenario(scenario, &options).with_context(|| format!("running {}", path.display()))?;
        if !args.quiet || !run.ok {
            println!("{}", text::scenario(&run));
        }
        runs.push(run);
    }
    println!("{}", text::summary(&runs));
    write_json(args.json.as_deref(), &runs)?;
    let sections = scenarios
        .iter()
        .zip(&runs)
        .map(|((_, s), r)| html::Section { scenario: s, runs: std::slice::from_ref(r) });
    write_html(args.html.as_deref(), "hasim run", &sections.collect::<Vec<_>>())?;
    Ok(if runs.iter().all(|r| r.ok) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn determinism(scenarios: &[(PathBuf, Scenario)], args: &RunArgs) -> anyhow::Result<ExitCode> {
    let options = RunOptions { database: Database::Memory, strategy: args.strategy, seed: args.seed };
    let mut differ = 0;
    for (path, scenario) in scenarios {
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
    let scenarios = load_all(&args.paths)?;
    let database = database(&args);
    let mut rows = Vec::with_capacity(scenarios.len());
    for (i, (path, scenario)) in scenarios.iter().enumerate() {
        if !args.quiet {
            eprintln!("[{}/{}] {}", i + 1, scenarios.len(), path.display());
        }
        let mut runs = Vec::with_capacity(strategies.len());
        for &strategy in &strategies {
            let options =
                RunOptions { database: database.clone(), strategy: Some(strategy), seed: args.seed };
            let run = run_scenario(scenario, &options)
                .with_context(|| format!("running {} under {strategy}", path.display()))?;
            if !run.ok && !args.quiet {
                println!("{}", text::scenario(&run));
            }
            runs.push(run);
        }
        rows.push((scenario.name.clone(), runs));
    }
    print!("{}", text::matrix(&rows));
    let all: Vec<&ScenarioRun> = rows.iter().flat_map(|(_, runs)| runs).collect();
    if let Some(lag) = text::host_lag(all.iter().copied()) {
        println!("{lag}");
    }
    write_json(args.json.as_deref(), &all)?;
    let sections = scenarios.iter().zip(&rows).map(|((_, s), (_, runs))| html::Section { scenario: s, runs });
    write_html(args.html.as_deref(), "hasim compare", &sections.collect::<Vec<_>>())?;
    Ok(if all.iter().all(|r| r.ok) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn write_json(path: Option<&Path>, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    serde_json::to_writer_pretty(std::io::BufWriter::new(file), value)
        .with_context(|| format!("writing {}", path.display()))
}

fn write_html(path: Option<&Path>, title: &str, sections: &[html::Section<'_>]) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    std::fs::write(path, html::render(title, sections))
        .with_context(|| format!("writing the HTML report {}", path.display()))
}

/// Every scenario named, directories expanded to their *.toml files in name order;
/// all are validated before any runs, and every bad one is reported.
fn load_all(paths: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, Scenario)>> {
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
    let mut scenarios = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for file in files {
        match load(&file) {
            Ok(scenario) => scenarios.push((file, scenario)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.iter().map(|e| format!("{e:#}")).collect::<Vec<_>>().join("\nerror: "));
    }
    Ok(scenarios)
}

fn load(path: &Path) -> anyhow::Result<Scenario> {
    Ok(hasim::scenario::load(path)?)
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
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let search = args.search(clock_seed % 1_000_000_000, cores, &url).context("--strategy is required")?;
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
    let terminal = std::io::stderr().is_terminal();
    let mut shown = std::time::Instant::now();
    let outcome = hasim::explore::explore(&search, |p| {
        let step = (p.of / 10).max(1);
        if terminal && shown.elapsed().as_millis() >= 100 {
            eprint!("\r{}\x1b[K", cli::progress_line(p));
            shown = std::time::Instant::now();
        } else if !terminal && p.shrinking.is_none() && p.cases % step == 0 {
            eprintln!("{}", cli::progress_line(p));
        }
    })
    .context("the search stopped")?;
    if terminal {
        eprint!("\r\x1b[K");
    }
    if !outcome.counterexamples.is_empty() {
        std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    }
    for c in &outcome.counterexamples {
        let path = cli::file_path(&args.out, c);
        std::fs::write(&path, &c.file).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "counterexample: case {} shrunk in {} runs to {} (a scenario of {} lines){}",
            c.case_number,
            c.shrink_runs,
            path.display(),
            c.file.lines().count(),
            if c.replays() { "" } else { "; it did NOT replay to the same violation (timing-dependent)" }
        );
        println!("{}", text::scenario(&c.replay));
    }
    println!("{}", cli::summary(&search, &outcome));
    Ok(if outcome.counterexamples.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn doctor(db: DbArgs, replicas: u16, plans: u32) -> anyhow::Result<ExitCode> {
    let url =
        db.database_url.or_else(|| std::env::var("DATABASE_URL").ok()).unwrap_or(DEFAULT_DATABASE_URL.into());
    let report = actix::System::new()
        .block_on(hasim::doctor::doctor(&url, replicas.into(), plans as usize, db.keep_schema))
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
