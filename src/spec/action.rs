//! The users' actions a run is scripted with: what a user can do to a plan, and the
//! timeline's actions, each at a moment.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::ReplicaId;

/// What a user can do to a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Create the rollout (first time) or BatchRunTasks (retry).
    Run,
    /// BatchSkipTasks.
    Skip,
    /// BatchCancelTaskRuns.
    Cancel,
}

impl ActionKind {
    /// The name scenario files use.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Run => "run",
            ActionKind::Skip => "skip",
            ActionKind::Cancel => "cancel",
        }
    }
}

/// A user action at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimedAction {
    /// When, from the start of the run.
    pub at: Duration,
    /// The plan, by index.
    pub plan: usize,
    /// What to do.
    pub action: ActionKind,
    /// Which tasks, by position; `None` for all.
    pub tasks: Option<Vec<usize>>,
    /// The replica that serves it; `None` for round-robin.
    pub via: Option<ReplicaId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_through_serde_as_the_file_spells_them() {
        for action in [ActionKind::Run, ActionKind::Skip, ActionKind::Cancel] {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
            assert_eq!(serde_json::from_str::<ActionKind>(&json).unwrap(), action);
        }
    }
}
