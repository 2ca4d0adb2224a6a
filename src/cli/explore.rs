//! `hasim explore`: the search, its progress on stderr, its counterexample files.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::files::write_json;
use super::run::Report;
use crate::report::text;
use crate::results::TraceFile;
use crate::sim::Database;

pub(super) fn explore(args: &crate::explore::cli::ExploreArgs) -> anyhow::Result<ExitCode> {
    use crate::explore::cli;
    use std::io::IsTerminal;
    if let Some(cli::ExploreCommand::Merge(merge)) = &args.command {
        let merged = crate::explore::merge(&merge.dirs, &merge.out).context("nothing was merged")?;
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
    let outcome = crate::explore::explore(&search, |p| {
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
