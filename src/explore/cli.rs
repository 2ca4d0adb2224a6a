//! `hasim explore`: the arguments, and the words the command prints, for the binary.
//!
//! ```text
//! hasim explore --strategy S [--cases N] [--seed N] [--jobs N] [--shard I/N]
//!               [--store memory|postgres] [--out DIR]
//! hasim explore merge DIR... [--out DIR]
//! ```

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use crate::args::StoreArgs;
use crate::strategy::StrategyKind;

use super::{Bounds, Counterexample, Merged, Outcome, Progress, Search, Shard};

/// Search for scenarios that break the notification contract under a strategy.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ExploreArgs {
    /// Something else than a search.
    #[command(subcommand)]
    pub command: Option<ExploreCommand>,

    /// The delivery design to search.
    #[arg(long, required = true, value_parser = crate::args::strategy_parser())]
    pub strategy: Option<StrategyKind>,

    /// Generated cases to run (shrinking runs come on top); with --shard, the cases
    /// of the whole search, which the shards split.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub cases: u32,

    /// Drives the generation: the same seed searches the same cases. Default: drawn
    /// from the clock, and printed so the search can be repeated.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Cases run at once, each on a thread of its own. The counterexamples, their files
    /// and the report are the same for any N. Default: the machine's cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,

    /// Run only shard I of N of the search (I from 1 to N): the cases k with
    /// (k - 1) % N == I - 1. The N shards of a search (same seed, cases and bounds),
    /// run on N machines, run exactly its cases between them; `hasim explore merge`
    /// joins what they found.
    #[arg(long, value_name = "I/N", default_value = "1/1")]
    pub shard: Shard,

    /// Where the runs' database is.
    #[command(flatten)]
    pub store: StoreArgs,

    /// Write each counterexample here as a scenario file (the directory is created).
    #[arg(long, value_name = "DIR", default_value = "counterexamples")]
    pub out: PathBuf,

    /// Also write the search's outcome as JSON: the search (strategy, store, seed,
    /// shard, jobs), its counts, and each counterexample's file, violation and
    /// whether it replays. `-` writes it to stdout (the report then goes to stderr).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    #[command(flatten)]
    pub results: crate::args::ResultsArgs,

    /// Stop after this many distinct counterexamples.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_counterexamples: u32,

    /// Runs spent shrinking each counterexample, at most.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub shrink_runs: u32,

    /// Replicas per case: N or A-B, within 1-32.
    #[arg(long, value_name = "RANGE", default_value = "1-5", value_parser = range::<1, 32>)]
    pub replicas: RangeInclusive<usize>,

    /// Plans per case: N or A-B, within 1-20.
    #[arg(long, value_name = "RANGE", default_value = "1-4", value_parser = range::<1, 20>)]
    pub plans: RangeInclusive<usize>,

    /// Tasks per plan: N or A-B, within 1-20.
    #[arg(long, value_name = "RANGE", default_value = "1-6", value_parser = range::<1, 20>)]
    pub tasks: RangeInclusive<usize>,

    /// Faults per case: N or A-B, within 0-20.
    #[arg(long, value_name = "RANGE", default_value = "0-4", value_parser = range::<0, 20>)]
    pub faults: RangeInclusive<usize>,

    /// Let half the cases run on a primary-standby pair replicating this way, with a
    /// db-failover and a replication-lag window among their faults (a real pair on
    /// Postgres, the model on the memory store). Default: one database server.
    #[arg(long, value_enum, value_name = "REPLICATION")]
    pub failover: Option<crate::topology::Replication>,
}

/// What `hasim explore` does besides searching.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ExploreCommand {
    /// Join the counterexample folders of several searches (shards, seeds, machines)
    /// into one, one file per distinct violation: same strategy, same verdict, same
    /// scenario once comments, name, description and seed are left out. Files
    /// already in --out count first; then the folders in the order given, each in
    /// file-name order (case9 before case10); the first file of a violation is kept under its own name.
    ///
    /// Exit status: 0 when merged, 2 when a folder is missing or a *.toml file in one
    /// is not a counterexample (nothing is written then).
    Merge(MergeArgs),
}

/// `hasim explore merge DIR... [--out DIR]`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// Folders written by `hasim explore --out` (their *.toml files; others are ignored).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,

    /// The merged folder (created when missing).
    #[arg(long, value_name = "DIR", default_value = "counterexamples")]
    pub out: PathBuf,
}

impl ExploreArgs {
    /// The search these arguments ask for, with `seed` when none was given and
    /// `jobs` when --jobs was not; `None` without --strategy (only a subcommand may
    /// leave it out). The store is chosen as every command chooses it
    /// ([`crate::args::choose`]).
    pub fn search(&self, seed: u64, jobs: usize) -> Option<Search> {
        let database = self.store.choose().database(false);
        let as_u8 = |r: &RangeInclusive<usize>| (*r.start() as u8)..=(*r.end() as u8);
        Some(Search {
            strategy: self.strategy?,
            database,
            cases: self.cases,
            seed: self.seed.unwrap_or(seed),
            bounds: Bounds {
                replicas: as_u8(&self.replicas),
                plans: self.plans.clone(),
                tasks: self.tasks.clone(),
                actions: Bounds::default().actions,
                faults: self.faults.clone(),
                pair: self.failover,
            },
            max_counterexamples: self.max_counterexamples as usize,
            max_shrink_runs: self.shrink_runs,
            jobs: self.jobs.map_or(jobs, |n| n as usize),
            shard: self.shard,
        })
    }
}

/// `N` or `A-B` with `MIN <= A <= B <= MAX`.
fn range<const MIN: usize, const MAX: usize>(text: &str) -> Result<RangeInclusive<usize>, String> {
    let number = |s: &str| s.trim().parse::<usize>().map_err(|_| format!("`{s}` is not a whole number"));
    let (low, high) = match text.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let n = number(text)?;
            (n, n)
        }
    };
    if low > high {
        return Err(format!("{low}-{high} is backwards: write the smaller bound first"));
    }
    if low < MIN || high > MAX {
        return Err(format!("must be within {MIN}-{MAX}"));
    }
    Ok(low..=high)
}

/// The progress line, `elapsed` into the search:
/// `412/2000 cases, 1 counterexample, 85 cases/s, about 19s left (shrinking: 37 runs)`.
/// The time left assumes the cases to come run at the rate so far, and the search
/// does not stop early.
pub fn progress_line(p: &Progress, elapsed: std::time::Duration) -> String {
    let shrinking = p.shrinking.map(|n| format!(" (shrinking: {n} runs)")).unwrap_or_default();
    let secs = elapsed.as_secs_f64();
    let pace = if p.cases > 0 && secs > 0.0 {
        let per_second = f64::from(p.cases) / secs;
        let left = f64::from(p.of.saturating_sub(p.cases)) / per_second;
        format!(", {} cases/s, about {} left", rate(per_second), duration_words(left))
    } else {
        String::new()
    };
    format!("{}/{} cases, {} counterexample{}{pace}{shrinking}", p.cases, p.of, p.found, plural(p.found))
}

/// A span of seconds as `45s`, `12m 5s` or `3h 20m`.
fn duration_words(secs: f64) -> String {
    let secs = secs.round() as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        _ => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
    }
}

/// Where a counterexample's file goes in `dir`.
pub fn file_path(dir: &Path, c: &Counterexample) -> PathBuf {
    dir.join(format!("{}.toml", c.name))
}

/// The closing summary: cases, rates (cases, and runs with shrinking), what was found.
pub fn summary(search: &Search, outcome: &Outcome) -> String {
    let secs = outcome.elapsed.as_secs_f64().max(1e-9);
    let shard = if search.shard.is_whole() { String::new() } else { format!(", shard {}", search.shard) };
    let mut text = format!(
        "explored {} case{} of {} (seed {}{shard}) in {:.2}s with {} job{}: {} cases/s; {} runs with shrinking, {} runs/s; {} counterexample{}",
        outcome.cases,
        plural(outcome.cases as usize),
        search.strategy,
        search.seed,
        secs,
        search.jobs,
        plural(search.jobs),
        rate(f64::from(outcome.cases) / secs),
        outcome.runs,
        rate(f64::from(outcome.runs) / secs),
        outcome.counterexamples.len(),
        plural(outcome.counterexamples.len()),
    );
    if outcome.discarded > 0 {
        text.push_str(&format!(
            "; {} run{} on cases past the last one needed, discarded",
            outcome.discarded,
            plural(outcome.discarded as usize)
        ));
    }
    if outcome.not_quiet > 0 {
        text.push_str(&format!("; {} case(s) never went quiet before max_duration", outcome.not_quiet));
    }
    if let Some(signal) = outcome.interrupted {
        text.push_str(&format!(
            "; stopped by {signal} after {} of {} case{}",
            outcome.cases,
            search.case_numbers().count(),
            plural(search.case_numbers().count())
        ));
    }
    text
}

/// What a merge did, a line per file, then a total.
pub fn merge_report(merged: &Merged, out: &Path) -> String {
    let mut text = String::new();
    for (from, to) in &merged.written {
        text.push_str(&format!("merged {} -> {}\n", from.display(), to.display()));
    }
    for (file, same) in &merged.duplicates {
        text.push_str(&format!("duplicate {}: the same violation as {}\n", file.display(), same.display()));
    }
    let distinct = merged.present.len() + merged.written.len();
    text.push_str(&format!(
        "{} distinct counterexample{} in {} ({} new, {} already there); {} duplicate{} left out",
        distinct,
        plural(distinct),
        out.display(),
        merged.written.len(),
        merged.present.len(),
        merged.duplicates.len(),
        plural(merged.duplicates.len()),
    ));
    text
}

/// A rate for people: whole numbers from 10 up, two significant digits below (a
/// Postgres search runs well under one case a second).
/// A rate, never rounded to zero: whole above 10, two decimals down to 0.01, and two
/// significant digits below (`0.0039`).
fn rate(per_second: f64) -> String {
    if per_second >= 10.0 || per_second <= 0.0 {
        format!("{per_second:.0}")
    } else if per_second >= 0.01 {
        format!("{per_second:.2}")
    } else {
        let decimals = (-per_second.log10()).ceil() as usize + 1;
        format!("{per_second:.decimals$}")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_as_one_number_or_two() {
        assert_eq!(range::<1, 5>("3"), Ok(3..=3));
        assert_eq!(range::<1, 5>("1-5"), Ok(1..=5));
        assert_eq!(range::<0, 5>(" 0 - 2 "), Ok(0..=2));
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        assert_eq!(range::<1, 5>("6"), Err("must be within 1-5".to_owned()));
        assert_eq!(range::<1, 5>("0-2"), Err("must be within 1-5".to_owned()));
        assert!(range::<1, 5>("4-2").unwrap_err().contains("backwards"));
        assert!(range::<1, 5>("three").unwrap_err().contains("`three` is not a whole number"));
    }

    #[test]
    fn rates_below_ten_keep_two_decimals() {
        assert_eq!(rate(620.4), "620");
        assert_eq!(rate(0.39), "0.39");
    }

    #[test]
    fn a_slow_rate_is_never_rounded_to_zero() {
        // One case in 256 s, as a search on a loaded Postgres can go.
        assert_eq!(rate(1.0 / 256.0), "0.0039");
        assert_eq!(rate(0.012), "0.01");
        assert_eq!(rate(0.0), "0");
    }

    #[test]
    fn the_progress_line_gives_the_rate_so_far_and_the_time_left_at_it() {
        let p = Progress { cases: 400, of: 2000, found: 1, shrinking: None };
        // 400 cases in 5 s: 80 cases/s, and the 1,600 to come take 20 s at that rate.
        assert_eq!(
            progress_line(&p, std::time::Duration::from_secs(5)),
            "400/2000 cases, 1 counterexample, 80 cases/s, about 20s left"
        );
        let p = Progress { cases: 3, of: 1000, found: 0, shrinking: Some(37) };
        // 3 cases in 60 s: 0.05 cases/s, 997 to come: 19,940 s.
        assert_eq!(
            progress_line(&p, std::time::Duration::from_secs(60)),
            "3/1000 cases, 0 counterexamples, 0.05 cases/s, about 5h 32m left (shrinking: 37 runs)"
        );
        let p = Progress { cases: 0, of: 10, found: 0, shrinking: None };
        assert_eq!(progress_line(&p, std::time::Duration::ZERO), "0/10 cases, 0 counterexamples");
    }

    #[test]
    fn spans_read_in_the_largest_units_that_fit() {
        assert_eq!(duration_words(44.6), "45s");
        assert_eq!(duration_words(725.0), "12m 5s");
        assert_eq!(duration_words(12_000.0), "3h 20m");
    }
}
