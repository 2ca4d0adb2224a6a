//! A run saved and judged again: runs the shipped scenario `fail-retry-complete` on the
//! memory store through the library, saves its trace as `hasim run --json` does, and
//! judges the saved file again with the current checker (`hasim::recheck`), as
//! `hasim check-trace FILE.json` does.
//!
//! ```sh
//! cargo run --example recheck_saved_trace
//! ```

use std::path::Path;

use hasim::results::TraceFile;
use hasim::runner::{RunOptions, run_scenario};
use hasim::sim::Database;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/fail-retry-complete.toml");
    let scenario = hasim::scenario::load(&file)?;
    let options = RunOptions { database: Database::Memory, strategy: None, seed: None };
    let run = run_scenario(&scenario, &options)?;

    let saved = std::env::temp_dir().join(format!("hasim-recheck-example-{}.json", std::process::id()));
    std::fs::write(&saved, serde_json::to_vec_pretty(&TraceFile::new("run", [&run]))?)?;
    println!("ran {} under {}; saved its trace to {}", run.name, run.strategy, saved.display());

    let again = hasim::recheck::recheck_file(&saved)?;
    std::fs::remove_file(&saved)?;
    for rechecked in &again {
        println!("\n{} (checked again from the file):", rechecked.name);
        for event in &rechecked.result.report.events {
            println!("  plan {} {}#{}: {}", event.plan, event.event, event.episode, event.verdict);
        }
        for check in &rechecked.checks {
            println!("  [{}] {}", if check.ok { "ok" } else { "FAILED" }, check.what);
        }
        let same = rechecked.result.report == run.result.report;
        println!("  verdicts {} those of the run", if same { "are" } else { "differ from" });
    }
    Ok(())
}
