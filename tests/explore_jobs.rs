//! A search on several jobs, split in shards, and its counterexample folders merged:
//! the same results as one job on one machine.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::hasim;
use hasim::explore::{Outcome, Progress, Search, Shard, explore};
use hasim::strategy::StrategyKind;

/// Everything a search reports, less its timing and its discarded work.
fn report(o: &Outcome) -> Vec<String> {
    let mut lines = vec![format!("{} cases, {} runs, {} not quiet", o.cases, o.runs, o.not_quiet)];
    lines.push(format!("failing {:?}", o.failing));
    for c in &o.counterexamples {
        lines.push(format!(
            "{} case {} after {} shrink runs: {:?}",
            c.name, c.case_number, c.shrink_runs, c.violation
        ));
        lines.push(c.file.clone());
        lines.push(format!("replays: {}", c.replays()));
    }
    lines
}

/// A search's outcome and the case counts of its progress reports (between runs).
fn search(search: &Search) -> (Outcome, Vec<u32>) {
    let mut cases = Vec::new();
    let outcome = explore(search, |p: &Progress| {
        if p.shrinking.is_none() {
            cases.push(p.cases);
        }
    })
    .expect("the search runs");
    (outcome, cases)
}

#[test]
fn several_jobs_find_the_same_counterexamples_in_the_same_order_as_one() {
    let one = Search { seed: 1, max_counterexamples: 5, ..Search::new(StrategyKind::SEED_CLAIM, 200) };
    let (a, progress) = search(&one);
    assert_eq!(a.counterexamples.len(), 5, "seed-claim survived: {:?}", report(&a));
    assert!(a.cases < 200, "the search stops at its 5th counterexample: {:?}", report(&a));
    assert_eq!(a.discarded, 0, "one job discards nothing");
    assert_eq!(progress, (1..=a.cases).collect::<Vec<_>>(), "a report after every case, in order");
    for jobs in [2, 3] {
        let (b, progress_b) = search(&Search { jobs, ..one.clone() });
        assert_eq!(report(&b), report(&a), "{jobs} jobs");
        assert_eq!(progress_b, progress, "{jobs} jobs: progress");
    }
}

#[test]
fn shards_are_disjoint_and_together_run_the_whole_search() {
    // Every case counts (no stop at a counterexample), and little shrinking.
    let whole = Search {
        seed: 3,
        max_counterexamples: usize::MAX,
        max_shrink_runs: 5,
        jobs: 2,
        ..Search::new(StrategyKind::IN_MEMORY, 30)
    };
    let (all, _) = search(&whole);
    assert!(all.failing.len() >= 3, "too few failing cases to tell: {:?}", all.failing);
    let mut numbers = BTreeSet::new();
    let mut failing = BTreeSet::new();
    let mut cases = 0;
    for index in 1..=3 {
        let shard = Search { shard: Shard::new(index, 3).unwrap(), ..whole.clone() };
        let mine: Vec<u32> = shard.case_numbers().collect();
        assert!(mine.iter().all(|k| numbers.insert(*k)), "shard {index}/3 repeats a case: {mine:?}");
        let (outcome, _) = search(&shard);
        assert_eq!(outcome.cases as usize, mine.len(), "shard {index}/3 runs its cases");
        assert!(outcome.failing.iter().all(|k| shard.shard.contains(*k)), "{:?}", outcome.failing);
        cases += outcome.cases;
        failing.extend(outcome.failing.iter().copied());
        // What a shard finds at case k is what the whole search finds there.
        for c in &outcome.counterexamples {
            if let Some(same) = all.counterexamples.iter().find(|w| w.case_number == c.case_number) {
                assert_eq!(c.file, same.file, "case {}", c.case_number);
            }
        }
    }
    assert_eq!(numbers, (1..=30).collect(), "the shards' cases are the search's");
    assert_eq!(cases, all.cases);
    assert_eq!(failing, all.failing.iter().copied().collect(), "the same cases fail");
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hasim-explore-jobs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn explore_cli(out: &Path, extra: &[&str]) -> String {
    // Every case counts: no stop at a number of counterexamples.
    let mut args = vec!["explore", "--strategy", "seed-claim", "--cases", "30", "--seed", "4"];
    args.extend(["--max-counterexamples", "100", "--shrink-runs", "100", "--out", out.to_str().unwrap()]);
    // Compared as text: no line naming a results folder of its own.
    args.push("--no-results");
    args.extend(extra);
    let output = hasim(&args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "counterexamples exit 1: {stdout}");
    stdout
}

#[test]
fn hasim_explore_writes_the_same_files_and_report_with_one_job_or_two() {
    let (one, two) = (dir("one-job"), dir("two-jobs"));
    let a = explore_cli(&one, &["--jobs", "1"]);
    let b = explore_cli(&two, &["--jobs", "2"]);
    let same = |text: &str, dir: &Path| {
        // The summary's timing differs; the rest is the same text, folders aside.
        text.lines()
            .filter(|l| !l.starts_with("explored "))
            .map(|l| l.replace(dir.to_str().unwrap(), "OUT"))
            .collect::<Vec<_>>()
    };
    assert_eq!(same(&a, &one), same(&b, &two));
    assert!(a.contains("with 1 job:") && b.contains("with 2 jobs:"), "{a}\n{b}");
    assert!(!files(&one).is_empty());
    assert_eq!(files(&one), files(&two));
    for name in files(&one) {
        let read = |d: &Path| std::fs::read_to_string(d.join(&name)).unwrap();
        assert_eq!(read(&one), read(&two), "{name}");
    }
    for d in [one, two] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn merging_the_shards_folders_keeps_each_violation_once() {
    let (whole, first, second, merged) = (dir("whole"), dir("shard1"), dir("shard2"), dir("merged"));
    explore_cli(&whole, &[]);
    explore_cli(&first, &["--shard", "1/2"]);
    explore_cli(&second, &["--shard", "2/2"]);
    let out = hasim(&[
        "explore",
        "merge",
        first.to_str().unwrap(),
        second.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let (kept, shards) = (files(&merged), files(&first).len() + files(&second).len());
    let duplicates = stdout.lines().filter(|l| l.starts_with("duplicate ")).count();
    assert!(duplicates >= 1, "the shards found no violation twice; pick another seed:\n{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("merged ")).count(), kept.len(), "{stdout}");
    assert_eq!(kept.len() + duplicates, shards, "{stdout}");
    assert!(stdout.contains(&format!("{} distinct counterexamples", kept.len())), "{stdout}");
    // The shards found what the whole search found, each violation once: as many
    // files, and merging the whole search's folder in adds none.
    assert_eq!(kept.len(), files(&whole).len(), "{stdout}");
    for name in kept.intersection(&files(&whole)) {
        let read = |d: &Path| std::fs::read_to_string(d.join(name)).unwrap();
        assert_eq!(read(&merged), read(&whole), "{name}");
    }
    let again = hasim(&["explore", "merge", whole.to_str().unwrap(), "--out", merged.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains(&format!("(0 new, {} already there)", kept.len())), "{stdout}");
    for d in [whole, first, second, merged] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn merge_refuses_a_missing_folder_and_a_file_that_is_not_a_counterexample() {
    let out = dir("refused");
    let missing = hasim(&["explore", "merge", "/no/such/folder", "--out", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/no/such/folder: no such directory"), "{stderr}");

    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let stranger = hasim(&["explore", "merge", scenarios.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&stranger.stderr);
    assert_eq!(stranger.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not a counterexample file: it does not begin with"), "{stderr}");
    assert!(
        stderr.contains(&format!("scenarios/{}", common::shipped_scenarios()[0])),
        "names the file: {stderr}"
    );
    assert!(!out.exists(), "nothing written");
}

#[test]
fn bad_jobs_and_shards_are_refused_and_say_why() {
    for (value, says) in [
        ("0/4", "shards count from 1"),
        ("5/4", "there are only 4 shards"),
        ("x/y", "write i/n with whole numbers"),
        ("1/0", "at least 1 shard"),
    ] {
        let out = hasim(&["explore", "--strategy", "outbox", "--cases", "4", "--shard", value]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--shard {value}: {stderr}");
        assert!(stderr.contains(says) && stderr.contains("--shard"), "--shard {value}: {stderr}");
    }
    let out = hasim(&["explore", "--strategy", "outbox", "--jobs", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--jobs"));
}

#[test]
fn help_documents_jobs_shards_and_merge() {
    let help = String::from_utf8_lossy(&hasim(&["explore", "--help"]).stdout).into_owned();
    for flag in
        ["--jobs <N>", "Default: the machine's cores", "--shard <I/N>", "(k - 1) % N == I - 1", "merge"]
    {
        assert!(help.contains(flag), "explore --help lacks {flag}:\n{help}");
    }
    let help = String::from_utf8_lossy(&hasim(&["explore", "merge", "--help"]).stdout).into_owned();
    for text in ["<DIR>...", "--out <DIR>", "one file per distinct violation", "same verdict"] {
        assert!(help.contains(text), "explore merge --help lacks {text}:\n{help}");
    }
}
