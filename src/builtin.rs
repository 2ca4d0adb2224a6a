//! The scenarios shipped in `scenarios/`, built into the library, so that an
//! installed `hasim` has stories to run without the source tree: `hasim scenarios`
//! lists them and `hasim run --example NAME` runs one. A test holds this list equal
//! to the directory.

use crate::scenario::{self, Scenario, ScenarioError};

/// Each shipped file's path under `scenarios/` and its text.
macro_rules! shipped {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../scenarios/", $path)))),*]
    };
}

/// Every shipped scenario file: its path under `scenarios/` and its text, in path
/// order.
pub static SCENARIOS: &[(&str, &str)] = shipped![
    "abandoned-run.toml",
    "cancel-then-retry.toml",
    "claim-reply-lost.toml",
    "claim-reply-reset.toml",
    "concurrent-failures.toml",
    "crash-after-claim.toml",
    "crash-around-claims-and-resets.toml",
    "crash-before-completion-check.toml",
    "crash-during-send.toml",
    "db-connection-reset.toml",
    "db-partition-of-the-sender.toml",
    "design-plan-manual-test.toml",
    "empty-batches.toml",
    "endpoint-accepts-late.toml",
    "endpoint-down-then-back.toml",
    "endpoint-slower-than-timeout.toml",
    "fail-retry-complete.toml",
    "ha/db-restart-while-tasks-run.toml",
    "ha/failover-after-claim-async.toml",
    "ha/failover-after-claim-sync.toml",
    "happy-path.toml",
    "lease-reply-held.toml",
    "load/day-in-the-life.toml",
    "many-plans-under-load.toml",
    "per-strategy-webhook-policy.toml",
    "skip-failed-task.toml",
    "skip-last-open-tasks.toml",
    "skip-on-completed-plan.toml",
    "slow-db-link.toml",
    "status-write-reply-lost.toml",
    "unfenced-status-write.toml",
    "user-retries-failures.toml",
];

/// A built-in scenario's name: its file name without the directory and `.toml`.
pub fn name_of(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".toml").unwrap_or(file)
}

/// The names of the built-in scenarios, in path order.
pub fn names() -> impl Iterator<Item = &'static str> {
    SCENARIOS.iter().map(|(path, _)| name_of(path))
}

/// The built-in scenario `name`, parsed; its messages name it `builtin:<path>`.
/// `None` when there is none of that name.
pub fn load(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    let (path, text) = SCENARIOS.iter().find(|(path, _)| name_of(path) == name)?;
    Some(scenario::parse(&format!("builtin:{path}"), text))
}

/// The text of the built-in scenario `name`, as its file in `scenarios/` has it.
pub fn text(name: &str) -> Option<&'static str> {
    SCENARIOS.iter().find(|(path, _)| name_of(path) == name).map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Every `*.toml` under `dir`, as a path relative to `root`.
    fn tomls(root: &Path, dir: &Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                tomls(root, &path, found);
            } else if path.extension().is_some_and(|e| e == "toml") {
                found.insert(path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn the_built_in_list_is_every_file_of_the_scenarios_directory() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut on_disk = BTreeSet::new();
        tomls(&root, &root, &mut on_disk);
        let built_in: BTreeSet<String> = SCENARIOS.iter().map(|(p, _)| (*p).to_owned()).collect();
        assert_eq!(built_in, on_disk);
        assert_eq!(SCENARIOS.len(), on_disk.len(), "a file is listed twice");
    }

    #[test]
    fn every_built_in_scenario_parses_under_a_name_of_its_own() {
        let names: BTreeSet<&str> = names().collect();
        assert_eq!(names.len(), SCENARIOS.len(), "two files share a name");
        for name in names {
            let scenario = load(name).expect("a built-in of that name").unwrap_or_else(|e| panic!("{e}"));
            assert!(!scenario.description.is_empty(), "{name} has no description");
        }
    }

    #[test]
    fn a_name_that_is_not_built_in_finds_nothing() {
        assert!(load("no-such-scenario").is_none());
        assert_eq!(name_of("load/day-in-the-life.toml"), "day-in-the-life");
    }
}
