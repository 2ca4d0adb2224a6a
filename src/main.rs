//! The `hasim` command line. Parsing and printing only: the work is in the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// The default server: the local one, with trust auth.
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// hasim: does this webhook delivery design keep its promise when replicas crash,
/// links break and endpoints fail?
///
/// Replicas of a rollout server share one Postgres and must announce each failed
/// or completed plan by webhook exactly once. hasim simulates them.
#[derive(Debug, Parser)]
#[command(name = "hasim", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that a Postgres server can host hasim runs: connect, create and migrate a
    /// run schema, race replicas for claims, drop the schema.
    Doctor {
        /// The server [env: DATABASE_URL] [default: postgres://postgres@127.0.0.1:5432/postgres]
        #[arg(long)]
        database_url: Option<String>,
        /// Replicas racing for each plan's claim.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        replicas: u16,
        /// Plans to race for.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        plans: u32,
        /// Leave the run schema in place for inspection instead of dropping it.
        #[arg(long)]
        keep_schema: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `--database-url`, else `DATABASE_URL`, else the local default.
fn database_url(flag: Option<String>) -> String {
    flag.or_else(|| std::env::var("DATABASE_URL").ok()).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Doctor { database_url: url, replicas, plans, keep_schema } => {
            let url = database_url(url);
            let report = actix::System::new()
                .block_on(hasim::doctor::doctor(&url, replicas.into(), plans as usize, keep_schema))
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
                println!(
                    "schema {} kept (drop it with: DROP SCHEMA {} CASCADE)",
                    report.schema, report.schema
                );
            } else {
                println!("schema dropped");
            }
            Ok(if report.winners == report.plans { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
