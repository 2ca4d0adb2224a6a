//! The `hasim` command line, as a library: [`run_with`] is the whole binary, so a
//! team that writes its own delivery design builds its own `hasim` in which scenario
//! files, `compare`, `explore` and the reports know that design too:
//!
//! ```no_run
//! use hasim::strategy::Design;
//! # use hasim::strategy::{Hook, ReplicaCtx, Strategy};
//! # use hasim::model::{PlanId, TaskId};
//! # use hasim::store::{Batch, EndedRun, NewRun};
//! # struct MyDesign;
//! # impl Strategy for MyDesign {
//! #   fn run_ended(&self, _r: ReplicaCtx, _run: EndedRun) -> Hook { Box::pin(async { Ok(()) }) }
//! #   fn check_completion(&self, _r: ReplicaCtx, _plan: PlanId) -> Hook { Box::pin(async { Ok(()) }) }
//! #   fn batch_run(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<NewRun>> {
//! #       Box::pin(async move { r.create_runs(plan, tasks).await })
//! #   }
//! #   fn batch_skip(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<TaskId>> {
//! #       Box::pin(async move { r.skip_tasks(plan, tasks).await })
//! #   }
//! # }
//! fn main() -> std::process::ExitCode {
//!     hasim::cli::run_with([Design::new("my-design", || MyDesign)])
//! }
//! ```
//!
//! This module is the one part of the library that prints: it is the binary's front
//! end. The rest of the crate returns values and errors. What the commands share on
//! their command lines (the store, chosen one way: [`StoreArgs`]; the results folder:
//! [`ResultsArgs`]; a strategy's name: [`strategy_parser`]) is here too.

mod app;
mod doctor;
mod explore;
mod files;
mod run;
mod signals;

use std::process::ExitCode;

use clap::Parser;

pub use crate::args::*;

use crate::interrupt;
use crate::strategy::{Design, register};

/// Runs the `hasim` command line with the shipped strategies and `designs` known by
/// name, and returns the exit status: 0 when every expectation held, 1 when one did
/// not (or a search found a counterexample), 2 on bad input, 130 or 143 when stopped
/// by SIGINT or SIGTERM.
pub fn run_with(designs: impl IntoIterator<Item = Design>) -> ExitCode {
    use std::io::IsTerminal;
    // Warnings by default, but not sqlx's about connections the scenario's link faults
    // broke or slowed on purpose (a pool's slow or failed acquire, a slow statement:
    // the run's own host-lag probe times the database); RUST_LOG says otherwise.
    // Colour only on a terminal, and never with NO_COLOR set (https://no-color.org).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,sqlx_core::pool=error,sqlx::pool=error,sqlx::query=error")
    });
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .with_writer(std::io::stderr)
        .init();
    for design in designs {
        if let Err(e) = register(design) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    signals::listen_for_signals();
    signals::restore_sigpipe();
    let outcome = app::run(app::Cli::parse());
    // Stopped by a signal: whatever finished has been reported; exit as the shell
    // expects of a process the signal ended (130 for SIGINT, 143 for SIGTERM).
    if let Some(signal) = interrupt::requested() {
        if let Err(e) = &outcome
            && !signals::is_interrupted(e)
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
