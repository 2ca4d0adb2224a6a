//! Pairs left behind: a `hasim` process killed outright (SIGKILL, a second Ctrl-C)
//! cannot stop its pair's servers or delete their directory. `hasim gc` finds them by
//! their directory, `<temp>/hasim-pair-<pid>-<n>`, and stops and deletes those whose
//! process is gone.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::server::{Binaries, pair_error};
use crate::Result;

/// The start of every pair's directory name, before `<pid>-<n>`.
pub const PREFIX: &str = "hasim-pair-";

/// A pair's directory found on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftPair {
    /// Its directory.
    pub dir: PathBuf,
    /// The process that made it.
    pub owner: u32,
    /// When the directory was made, if the file system says.
    pub created: Option<SystemTime>,
}

impl LeftPair {
    /// Its directory's name, as `hasim gc` lists it.
    pub fn name(&self) -> String {
        self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Whether the process that made it still runs (then its run may be going on).
    pub fn in_use(&self) -> bool {
        Path::new("/proc").join(self.owner.to_string()).exists()
    }

    /// How old it is at `now`.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        self.created.map(|created| now.duration_since(created).unwrap_or(Duration::ZERO))
    }
}

/// Every pair directory in the temporary directory, by name.
pub fn left_pairs() -> Vec<LeftPair> {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return Vec::new() };
    let mut pairs: Vec<LeftPair> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let (owner, _) = name.strip_prefix(PREFIX)?.split_once('-')?;
            let created = e.metadata().ok().and_then(|m| m.modified().ok());
            Some(LeftPair { dir: e.path(), owner: owner.parse().ok()?, created })
        })
        .collect();
    pairs.sort_by(|a, b| a.dir.cmp(&b.dir));
    pairs
}

/// Stops the servers of `pair` at once and deletes its directory.
pub fn drop_pair(pair: &LeftPair) -> Result<()> {
    let bin = Binaries::find()?;
    for server in ["primary", "standby"] {
        let data = pair.dir.join(server);
        if data.join("postmaster.pid").exists() {
            let data = data.display().to_string();
            // A server already stopped says so; the directory goes all the same.
            let _ = bin.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
    }
    std::fs::remove_dir_all(&pair.dir)
        .map_err(|e| pair_error(format!("cannot delete {}: {e}", pair.dir.display())))
}
