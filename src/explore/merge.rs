//! Joining the counterexample folders of several searches (shards, seeds, machines)
//! into one, one file per distinct violation ([`Identity`]: same strategy, same
//! verdict, same shape). Files already in the output folder count first, then the
//! folders in the order given, each file in name order (`case9` before `case10`); the first file of each
//! violation is kept, under its own name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::identity::Identity;

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
    key: Identity,
}

/// Merges the counterexample files (`*.toml`; other files are left alone) of `dirs`
/// into `out` (created when missing), one per distinct violation.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged, MergeError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| MergeError::Io { path, source }
    };
    let mut merged = Merged::default();
    let mut kept: HashMap<Identity, PathBuf> = HashMap::new();
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

/// The counterexample files of `dir`, in name order (numbers by value).
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
    paths.sort_by_cached_key(|p| natural(p));
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            match Identity::read(&path, &text) {
                Ok(key) => Ok(Entry { path, text, key }),
                Err(why) => Err(MergeError::NotACounterexample { path, why }),
            }
        })
        .collect()
}

/// A file name as a sort key whose trailing number counts by value: `case9` before
/// `case10`.
fn natural(path: &Path) -> (String, u64, String) {
    let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let stem = name.strip_suffix(".toml").unwrap_or(&name);
    let prefix = stem.trim_end_matches(|c: char| c.is_ascii_digit());
    let number = stem[prefix.len()..].parse().unwrap_or(0);
    (prefix.to_owned(), number, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Verdict;
    use crate::explore::identity::sample as file;
    use crate::strategy::StrategyKind;

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
    fn merge_keeps_one_file_per_violation_and_says_which_were_duplicates() {
        let one = folder(
            "one",
            &[
                file(1, 1, StrategyKind::SEED_CLAIM, Verdict::Lost, 1),
                file(1, 4, StrategyKind::SEED_CLAIM, Verdict::Duplicate, 1),
            ],
        );
        let two = folder(
            "two",
            &[
                file(2, 2, StrategyKind::SEED_CLAIM, Verdict::Lost, 1), // one's case 1, another seed
                file(2, 5, StrategyKind::SEED_CLAIM, Verdict::Lost, 2), // another shape
                file(2, 6, StrategyKind::SHIPPED_CLAIM, Verdict::Lost, 1), // another strategy
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
            file(1, 1, StrategyKind::SEED_CLAIM, Verdict::Lost, 1).1
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
    fn files_sort_by_name_with_their_case_numbers_by_value() {
        let mut names = ["x-case10.toml", "x-case9.toml", "w-case20.toml", "x-case1.toml"].map(PathBuf::from);
        names.sort_by_cached_key(|p| natural(p));
        assert_eq!(
            names.map(|p| p.display().to_string()),
            ["w-case20.toml", "x-case1.toml", "x-case9.toml", "x-case10.toml"]
        );
    }

    #[test]
    fn merge_refuses_a_missing_folder_and_a_file_explore_did_not_write() {
        let out = std::env::temp_dir().join(format!("hasim-merge-{}-never", std::process::id()));
        let missing = PathBuf::from("/no/such/counterexamples");
        let error = merge(std::slice::from_ref(&missing), &out).unwrap_err();
        assert_eq!(error.to_string(), "/no/such/counterexamples: no such directory");

        let good = file(1, 1, StrategyKind::OUTBOX, Verdict::Lost, 0);
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
        let (name, text) = file(1, 1, StrategyKind::OUTBOX, Verdict::Lost, 0);
        let one = folder("clash-one", &[(name.clone(), text)]);
        let two = folder("clash-two", &[(name, file(1, 1, StrategyKind::OUTBOX, Verdict::Lost, 3).1)]);
        let out = std::env::temp_dir().join(format!("hasim-merge-{}-clash", std::process::id()));
        let error = merge(&[one.clone(), two.clone()], &out).unwrap_err();
        assert!(matches!(error, MergeError::NameClash(..)), "{error}");
        assert!(error.to_string().contains("same name but show different violations"), "{error}");
        for dir in [one, two] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
