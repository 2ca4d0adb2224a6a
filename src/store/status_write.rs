//! How a replica's status write of its own run (DONE, FAILED, CANCELED) is guarded:
//! which rows the `UPDATE task_run ... WHERE` may touch.
//!
//! - [`StatusWrite::Fenced`]: `WHERE id = $1 AND status = 'RUNNING' AND replica_id =
//!   $2`. Only the replica holding the RUNNING run ends it; a run the cleaner already
//!   failed stays failed. hasim's own design.
//! - [`StatusWrite::StatusGuarded`]: `WHERE id = $1 AND status = 'RUNNING'`, whoever
//!   holds the run. The real system's newest store adds an optional `AND status =
//!   ANY(allowed statuses)`; for a write that ends a run the allowed set is RUNNING,
//!   the only status a run is executed in.
//! - [`StatusWrite::Unfenced`]: `WHERE id = $1`, as the real system's store did in
//!   the HA era (and before): a late write overwrites whatever the run holds, a FAILED
//!   the cleaner wrote or a CANCELED.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::{ReplicaId, RunStatus};

/// How a run's status write is guarded (`[cluster] status_write`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusWrite {
    /// The run must be RUNNING and held by the writing replica.
    Fenced,
    /// The run must be RUNNING, held by any replica.
    StatusGuarded,
    /// Any run, whatever its status: the write may overwrite an ended run.
    Unfenced,
}

impl StatusWrite {
    /// Every mode, in the order the docs list them.
    pub const ALL: [StatusWrite; 3] =
        [StatusWrite::Fenced, StatusWrite::StatusGuarded, StatusWrite::Unfenced];

    /// The name scenario files use.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusWrite::Fenced => "fenced",
            StatusWrite::StatusGuarded => "status-guarded",
            StatusWrite::Unfenced => "unfenced",
        }
    }

    /// Whether the write of `writer` may end a run that is `status` and held by
    /// `holder` (the run's `replica_id`, `None` before a replica took it). The memory
    /// store asks this; the Postgres store spells it in its `WHERE` clause.
    pub fn allows(self, status: RunStatus, holder: Option<&ReplicaId>, writer: &ReplicaId) -> bool {
        match self {
            StatusWrite::Fenced => status == RunStatus::Running && holder == Some(writer),
            StatusWrite::StatusGuarded => status == RunStatus::Running,
            StatusWrite::Unfenced => true,
        }
    }
}

impl fmt::Display for StatusWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StatusWrite {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        StatusWrite::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            let known: Vec<String> = StatusWrite::ALL.iter().map(|m| format!("{:?}", m.as_str())).collect();
            format!("unknown status write {s:?}: one of {}", known.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for mode in StatusWrite::ALL {
            assert_eq!(mode.as_str().parse::<StatusWrite>(), Ok(mode));
            assert_eq!(serde_json::to_string(&mode).unwrap(), format!("\"{mode}\""));
        }
        let err = "loose".parse::<StatusWrite>().unwrap_err();
        assert_eq!(
            err,
            "unknown status write \"loose\": one of \"fenced\", \"status-guarded\", \"unfenced\""
        );
    }

    #[test]
    fn each_mode_allows_what_its_where_clause_says() {
        let (r1, r2) = (ReplicaId::nth(1), ReplicaId::nth(2));
        let cases = [
            (RunStatus::Running, Some(&r1), [true, true, true]),
            (RunStatus::Running, Some(&r2), [false, true, true]),
            (RunStatus::Failed, Some(&r1), [false, false, true]),
            (RunStatus::Canceled, Some(&r1), [false, false, true]),
            (RunStatus::Done, Some(&r1), [false, false, true]),
            (RunStatus::Available, None, [false, false, true]),
        ];
        for (status, holder, allowed) in cases {
            for (mode, want) in StatusWrite::ALL.into_iter().zip(allowed) {
                assert_eq!(mode.allows(status, holder, &r1), want, "{mode} on {status} held by {holder:?}");
            }
        }
    }
}
