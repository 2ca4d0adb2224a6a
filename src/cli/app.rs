//! The command line's words: the commands, their arguments (clap derive; each `///`
//! is the help), and which function does each.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use super::doctor::{doctor, doctor_pair};
use super::explore::explore;
use super::files::check_files;
use super::run::{check_trace, compare, run_files};
use super::{DatabaseArgs, ResultsArgs, StoreArgs};
use crate::strategy::StrategyKind;

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
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
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
        #[arg(long, value_delimiter = ',', value_parser = crate::cli::strategy_parser())]
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
    /// Judge a saved run again with this version's checker and expectations: the
    /// trace.json of a results folder, or a file `run --json` or `compare --json`
    /// wrote. Prints the report as `run` does; exit 0 when every run's expectations
    /// hold, 1 when one does not, 2 when the file cannot be read as a trace.
    CheckTrace {
        /// The trace file.
        path: PathBuf,
        /// Print only the runs that are not as expected, then the summary.
        #[arg(long)]
        quiet: bool,
        /// Also write the runs judged again as a trace (`-`: stdout; the report then
        /// goes to stderr).
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
    Bench(crate::bench::cli::BenchArgs),
    /// Search for scenarios that break the notification contract under a strategy:
    /// generate random HA scenarios (replicas, plans, retries, skips, cancels, crashes,
    /// DB link faults, endpoint faults), run each, and shrink every failing one to the
    /// smallest scenario that fails the same way.
    ///
    /// Each counterexample is written to --out as a scenario file that replays with
    /// `hasim run FILE` (its seed, and an expectation of the violation, inside).
    /// Cases run on every core (--jobs) with the same results as on one, a search
    /// splits over machines (--shard I/N), and `hasim explore merge` joins the
    /// folders they write. A case takes a few milliseconds on the memory store (virtual
    /// time) and about a second on Postgres (real time).
    /// Exit status: 0 when no counterexample was found, 1 when one was, 2 on bad input.
    Explore(crate::explore::cli::ExploreArgs),
    /// Check that a Postgres server can host hasim runs: connect, create and migrate a
    /// run schema, race replicas for claims, drop the schema.
    Doctor {
        /// The server to check.
        #[command(flatten)]
        database: DatabaseArgs,
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
        topology: crate::topology::Topology,
        /// How the pair replicates (with --topology primary-standby).
        #[arg(long, value_enum, default_value = "async")]
        replication: crate::topology::Replication,
    },
    /// List the run schemas (hasim_*) left on a Postgres server, with their age and
    /// whether a run still uses them, and the primary-standby pairs left on this host;
    /// with --drop, drop the schemas no run uses and stop and delete the pairs whose
    /// process is gone.
    ///
    /// A run drops its schema (and deletes its pair) when it ends; one is left by
    /// --keep-schema, or by a process killed outright (SIGKILL, a second Ctrl-C).
    /// Exit status: 0 on success, 2 when the server cannot be reached.
    Gc(crate::housekeeping::GcArgs),
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
pub(super) struct RunArgs {
    /// Scenario files, or directories of them (their *.toml files, in name order).
    #[arg(required_unless_present = "example")]
    pub(super) paths: Vec<PathBuf>,
    /// Also run the built-in scenario NAME (`hasim scenarios` lists them); may be
    /// given more than once.
    #[arg(long, value_name = "NAME")]
    pub(super) example: Vec<String>,
    /// Run every file under this strategy instead of its own (`run` only).
    #[arg(long, value_parser = crate::cli::strategy_parser())]
    pub(super) strategy: Option<StrategyKind>,
    #[command(flatten)]
    pub(super) store: StoreArgs,
    /// Leave each run's schema (hasim_<run id>) in place for inspection.
    #[arg(long)]
    pub(super) keep_schema: bool,
    /// Run every file with this seed instead of its own.
    #[arg(long)]
    pub(super) seed: Option<u64>,
    /// Also write the trace (verdicts, history, receiver log, timings: the versioned
    /// JSON of docs/trace-format.md, as the results folder's trace.json) to PATH; `-`
    /// writes it to stdout (the report then goes to stderr).
    #[arg(long, value_name = "PATH")]
    pub(super) json: Option<PathBuf>,
    /// Write a self-contained HTML page with a timeline of every run (lanes per
    /// replica, the receiver and the user; faults, crashes, violations and witnesses).
    #[arg(long, value_name = "PATH")]
    pub(super) html: Option<PathBuf>,
    /// Print only scenarios whose expectations fail, and the summary.
    #[arg(long)]
    pub(super) quiet: bool,
    #[command(flatten)]
    pub(super) results: ResultsArgs,
    /// Instead of judging, run each file twice on the memory store with the same
    /// seed and check that the histories are identical (`run` only).
    #[arg(long)]
    pub(super) check_determinism: bool,
}

pub(super) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run_files(args),
        Command::Compare { run, strategies } => compare(run, strategies),
        Command::Check { paths, json } => check_files(&paths, json.as_deref()),
        Command::CheckTrace { path, quiet, json } => check_trace(&path, quiet, json.as_deref()),
        Command::Doctor { database, keep_schema, replicas, plans, topology, replication } => {
            let code = doctor(&database.postgres_url(), keep_schema, replicas, plans)?;
            if topology == crate::topology::Topology::PrimaryStandby {
                doctor_pair(replication)?;
            }
            Ok(code)
        }
        Command::Gc(args) => {
            let report = crate::housekeeping::gc(&args).context("hasim gc")?;
            print!("{}", report.text(std::time::SystemTime::now()));
            Ok(if report.failed() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Explore(args) => explore(&args),
        Command::Scenarios => {
            for name in crate::builtin::names() {
                let scenario =
                    crate::builtin::load(name).expect("a listed name").context("a built-in scenario")?;
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
                |m: crate::bench::Measured<'_>| eprintln!("{}", crate::bench::cli::progress_line(m));
            match crate::bench::cli::run_reporting(args, progress) {
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
                    Ok(ExitCode::from(crate::bench::cli::exit_code(&e)))
                }
            }
        }
    }
}
