//! Joining the counterexample folders of several searches (shards, seeds, machines)
//! into one, one file per distinct violation.
//!
//! Two counterexample files show the same violation when they have the same
//! strategy, the same verdict and the same **shape**: the file's lines, trimmed,
//! without blank lines, comments and the top-level `name`, `description` and `seed`
//! keys. What is left is the cluster, the plans and their attempts, the timeline, the
//! faults and the `[[expect]]` (plan, event, episode, verdict): the scenario that
//! fails, less the names that say where it was found and the seed that draws only
//! what the case does not script (a search itself keeps one of two shrunk cases that
//! differ only in their seed). Files already in the output folder count first, then
//! the folders in the order given, each file in name order; the first file of each
//! violation is kept, under its own name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::check::Verdict;
use crate::strategy::StrategyKind;

/// Why folders could not be merged. Nothing is written when there is one.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A folder to merge is not there.
    #[error("{0}: no such directory")]
    MissingDir(PathBuf),
    /// A path to merge is a file, not a folder.
    #[error("{0}: not a directory (merge takes the folders that explore --out wrote)")]
    NotADir(PathBuf),
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A `*.toml` file that explore did not write.
    #[error("{path} is not a counterexample file: {why}")]
    NotACounterexample {
        /// Which file.
        path: PathBuf,
        /// What is missing or wrong.
        why: String,
    },
    /// Two files of one name show different violations.
    #[error("{0} and {1} have the same name but show different violations: rename one and merge again")]
    NameClash(PathBuf, PathBuf),
}

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    /// Files that were in the output folder already, each a distinct violation.
    pub present: Vec<PathBuf>,
    /// Files copied into the output folder: (from, to).
    pub written: Vec<(PathBuf, PathBuf)>,
    /// Files left out: (the file, the file in the output folder that shows its
    /// violation).
    pub duplicates: Vec<(PathBuf, PathBuf)>,
}

/// A counterexample file, read.
struct Entry {
    path: PathBuf,
    text: String,
    key: (StrategyKind, Verdict, String),
}

/// Merges the counterexample files (`*.toml`; other files are left alone) of `dirs`
/// into `out` (created when missing), one per distinct violation.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged, MergeError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| MergeError::Io { path, source }
    };
    let mut merged = Merged::default();
    let mut kept: HashMap<(StrategyKind, Verdict, String), PathBuf> = HashMap::new();
    let mut names: HashMap<PathBuf, PathBuf> = HashMap::new();
    if out.is_dir() {
        for entry in read_dir(out)? {
            names.insert(entry.path.clone(), entry.path.clone());
            kept.insert(entry.key, entry.path.clone());
            merged.present.push(entry.path);
        }
    }
    let out_dir = out.canonicalize().ok();
    let mut writes: Vec<(PathBuf, String)> = Vec::new();
    for dir in dirs {
        if !dir.exists() {
            return Err(MergeError::MissingDir(dir.clone()));
        }
        if out_dir.is_some() && dir.canonicalize().ok() == out_dir {
            continue;
        }
        for entry in read_dir(dir)? {
            if let Some(same) = kept.get(&entry.key) {
                merged.duplicates.push((entry.path, same.clone()));
                continue;
            }
            let to = out.join(entry.path.file_name().unwrap_or_default());
            if let Some(first) = names.get(&to) {
                return Err(MergeError::NameClash(first.clone(), entry.path));
            }
            names.insert(to.clone(), entry.path.clone());
            kept.insert(entry.key, to.clone());
            writes.push((to.clone(), entry.text));
            merged.written.push((entry.path, to));
        }
    }
    if !writes.is_empty() {
        std::fs::create_dir_all(out).map_err(io(out))?;
    }
    for (to, text) in writes {
        std::fs::write(&to, text).map_err(io(&to))?;
    }
    Ok(merged)
}

/// The counterexample files of `dir`, in name order.
fn read_dir(dir: &Path) -> Result<Vec<Entry>, MergeError> {
    if !dir.is_dir() {
        return Err(if dir.exists() {
            MergeError::NotADir(dir.to_owned())
        } else {
            MergeError::MissingDir(dir.to_owned())
        });
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| MergeError::Io { path, source }
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            match key(&path, &text) {
                Ok(key) => Ok(Entry { path, text, key }),
                Err(why) => Err(MergeError::NotACounterexample { path, why }),
            }
        })
        .collect()
}

/// A counterexample file's strategy, verdict and shape, or why it is not one.
fn key(path: &Path, text: &str) -> Result<(StrategyKind, Verdict, String), String> {
    if !text.trim_start().starts_with("# Found by `hasim explore") {
        return Err(
            "it does not begin with the `# Found by `hasim explore ...` line that explore writes".into()
        );
    }
    let scenario = crate::scenario::parse(&path.display().to_string(), text)
        .map_err(|e| format!("it is not a valid scenario: {e}"))?;
    let expect = match scenario.expectations.as_slice() {
        [e] if e.pass == Some(false) && e.strategies.len() == 1 => e,
        _ => return Err("it needs exactly one [[expect]], of one strategy, with pass = false".into()),
    };
    let verdict = match expect.verdicts.first() {
        Some((_, verdict)) => *verdict,
        None => {
            witness_verdict(text).ok_or("it names no verdict, in its [[expect]] or its witness comment")?
        }
    };
    Ok((expect.strategies[0], verdict, shape(text)))
}

/// The verdict of the witness comment, `# lost PIPELINE_FAILED#1: ...`.
fn witness_verdict(text: &str) -> Option<Verdict> {
    text.lines().filter_map(|l| l.strip_prefix("# ")).find_map(|comment| {
        let (word, rest) = comment.split_once(' ')?;
        let event = rest.split_once(':')?.0;
        event.contains('#').then(|| Verdict::ALL.into_iter().find(|v| v.as_str() == word))?
    })
}

/// The file's lines, trimmed, without blank lines, comments and the top-level
/// `name`, `description` and `seed`.
pub(super) fn shape(text: &str) -> String {
    let mut top = true;
    let mut lines = Vec::new();
    for line in text.lines().map(str::trim) {
        top &= !line.starts_with('[');
        let key = line.split('=').next().unwrap_or_default().trim();
        let naming = top && matches!(key, "name" | "description" | "seed");
        if !(line.is_empty() || line.starts_with('#') || naming) {
            lines.push(line);
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::{Annotations, AttemptCase, Case, ExpectedVerdict, FaultCase, PlanCase, TaskCase};
    use crate::model::EventType;

    /// A counterexample file as explore writes one, with `faults` resets.
    fn file(
        seed: u64,
        number: u32,
        strategy: StrategyKind,
        verdict: Verdict,
        faults: u16,
    ) -> (String, String) {
        let case = Case {
            seed,
            replicas: 2,
            plans: vec![PlanCase {
                start: 0,
                via: None,
                tasks: vec![TaskCase { attempts: vec![AttemptCase { failed: true, after: 5 }] }],
                actions: vec![],
            }],
            faults: (0..faults).map(|at| FaultCase::DbReset { replica: 1, at }).collect(),
        };
        let name = format!("explore-{strategy}-seed{seed}-case{number}");
        let notes = Annotations {
            name: name.clone(),
            description: format!("{strategy} mishandles PIPELINE_FAILED: a generated case, shrunk."),
            comments: vec![
                format!(
                    "Found by `hasim explore --strategy {strategy} --seed {seed} --cases 9` (case {number})."
                ),
                format!("Replay: `hasim run {name}.toml`."),
                format!("{verdict} PIPELINE_FAILED#1: a witness"),
            ],
            expect: Some(ExpectedVerdict {
                strategy,
                plan: Some(0),
                event: EventType::PipelineFailed,
                episode: 1,
                verdict,
            }),
        };
        (format!("{name}.toml"), case.to_toml(strategy, &notes))
    }

    fn folder(name: &str, files: &[(String, String)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hasim-merge-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir
    }

    fn names(paths: impl IntoIterator<Item = PathBuf>) -> Vec<String> {
        paths.into_iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn the_shape_leaves_out_comments_names_and_the_seed_only() {
        let (_, a) = file(1, 3, StrategyKind::SeedClaim, Verdict::Lost, 1);
        let (_, b) = file(2, 8, StrategyKind::SeedClaim, Verdict::Lost, 1);
        assert_ne!(a, b);
        assert_eq!(shape(&a), shape(&b));
        assert!(shape(&a).contains("name = \"p1\""), "plan names stay: {}", shape(&a));
        assert!(!shape(&a).contains("seed ="), "{}", shape(&a));
        let (_, c) = file(1, 3, StrategyKind::SeedClaim, Verdict::Lost, 2);
        assert_ne!(shape(&a), shape(&c));
    }

    #[test]
    fn merge_keeps_one_file_per_violation_and_says_which_were_duplicates() {
        let one = folder(
            "one",
            &[
                file(1, 1, StrategyKind::SeedClaim, Verdict::Lost, 1),
                file(1, 4, StrategyKind::SeedClaim, Verdict::Duplicate, 1),
            ],
        );
        let two = folder(
            "two",
            &[
                file(2, 2, StrategyKind::SeedClaim, Verdict::Lost, 1), // one's case 1, another seed
                file(2, 5, StrategyKind::SeedClaim, Verdict::Lost, 2), // another shape
                file(2, 6, StrategyKind::ShippedClaim, Verdict::Lost, 1), // another strategy
            ],
        );
        let out = std::env::temp_dir().join(format!("hasim-merge-{}-out", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let merged = merge(&[one.clone(), two.clone()], &out).unwrap();
        let written = names(merged.written.iter().map(|(_, to)| to.clone()));
        assert_eq!(
            written,
            [
                "explore-seed-claim-seed1-case1.toml",
                "explore-seed-claim-seed1-case4.toml",
                "explore-seed-claim-seed2-case5.toml",
                "explore-shipped-claim-seed2-case6.toml"
            ]
        );
        assert_eq!(
            merged.duplicates,
            vec![(
                two.join("explore-seed-claim-seed2-case2.toml"),
                out.join("explore-seed-claim-seed1-case1.toml")
            )]
        );
        let mut on_disk = names(std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()));
        on_disk.sort();
        assert_eq!(on_disk, written);
        assert_eq!(
            std::fs::read_to_string(out.join("explore-seed-claim-seed1-case1.toml")).unwrap(),
            file(1, 1, StrategyKind::SeedClaim, Verdict::Lost, 1).1
        );
        // Merging again adds nothing: the output folder counts first.
        let again = merge(&[one.clone(), two.clone()], &out).unwrap();
        assert!(again.written.is_empty(), "{again:?}");
        assert_eq!(again.present.len(), 4);
        assert_eq!(again.duplicates.len(), 5);
        for dir in [one, two, out] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn merge_refuses_a_missing_folder_and_a_file_explore_did_not_write() {
        let out = std::env::temp_dir().join(format!("hasim-merge-{}-never", std::process::id()));
        let missing = PathBuf::from("/no/such/counterexamples");
        let error = merge(std::slice::from_ref(&missing), &out).unwrap_err();
        assert_eq!(error.to_string(), "/no/such/counterexamples: no such directory");

        let good = file(1, 1, StrategyKind::Outbox, Verdict::Lost, 0);
        let stranger = ("plain.toml".to_owned(), "name = \"x\"\n".to_owned());
        let dir = folder("stranger", &[good.clone(), stranger]);
        let error = merge(std::slice::from_ref(&dir), &out).unwrap_err().to_string();
        assert!(error.contains("plain.toml is not a counterexample file"), "{error}");
        assert!(error.contains("# Found by `hasim explore"), "{error}");

        let broken = ("broken.toml".to_owned(), good.1.replace("[[expect]]", "[[expectations]]"));
        let dir = folder("broken", &[broken]);
        let error = merge(std::slice::from_ref(&dir), &out).unwrap_err().to_string();
        assert!(
            error.contains("broken.toml is not a counterexample file: it is not a valid scenario"),
            "{error}"
        );
        assert!(!out.exists(), "nothing is written when a merge fails");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn two_files_of_one_name_and_different_violations_are_refused() {
        let (name, text) = file(1, 1, StrategyKind::Outbox, Verdict::Lost, 0);
        let one = folder("clash-one", &[(name.clone(), text)]);
        let two = folder("clash-two", &[(name, file(1, 1, StrategyKind::Outbox, Verdict::Lost, 3).1)]);
        let out = std::env::temp_dir().join(format!("hasim-merge-{}-clash", std::process::id()));
        let error = merge(&[one.clone(), two.clone()], &out).unwrap_err();
        assert!(matches!(error, MergeError::NameClash(..)), "{error}");
        assert!(error.to_string().contains("same name but show different violations"), "{error}");
        for dir in [one, two] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn the_verdict_comes_from_the_witness_when_the_expect_names_none() {
        assert_eq!(
            witness_verdict("# Found by x\n# wrong-payload PIPELINE_FAILED#2: names t1\n"),
            Some(Verdict::WrongPayload)
        );
        assert_eq!(witness_verdict("# Replay: `hasim run x.toml`.\n"), None);
    }
}
