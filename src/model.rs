//! Plain domain types shared by every module: identifiers, run statuses, event types.
//! No I/O lives here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A plan (rollout) id, as the `plan.id` column holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlanId(pub i64);

/// A task id, as the `task.id` column holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub i64);

/// A task run id, as the `task_run.id` column holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

/// A position in a run's history. Entries are numbered 0, 1, 2, ... in the order
/// they were appended (`crate::history::History`).
pub type Seq = u64;

/// A store write's number in its run, in invocation order (0, 1, 2, ...): the key
/// the store's commit log keeps a write's result under.
pub type OpId = u64;

/// The name scenario files give whichever replica reaches a point first.
const ANY: &str = "any";

/// A replica's name: `r1`, `r2`, ...
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReplicaId(pub String);

impl ReplicaId {
    /// The conventional name of the `n`-th replica (1-based): `r1`, `r2`, ...
    pub fn nth(n: usize) -> Self {
        ReplicaId(format!("r{n}"))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whichever replica: what a fault triggered at a point by `replica = "any"`
    /// names (it strikes the first replica to get there).
    pub fn any() -> Self {
        ReplicaId(ANY.to_owned())
    }

    /// Whether this is [`ReplicaId::any`].
    pub fn is_any(&self) -> bool {
        self.0 == ANY
    }
}

macro_rules! display_inner {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    )*};
}
display_inner!(PlanId, TaskId, RunId, ReplicaId);

/// Declares a string-backed enum whose spelling is the database's (`PENDING`, ...).
macro_rules! sql_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The spelling stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(UnknownValue { kind: stringify!($name), value: other.to_owned() }),
                }
            }
        }
    };
}

/// A string that names no value of an enum (e.g. a status column holding garbage).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    /// The enum's name.
    pub kind: &'static str,
    /// What was found.
    pub value: String,
}

sql_enum! {
    /// The stored status of a task run (`task_run.status`).
    RunStatus {
        /// Created by BatchRunTasks, waiting for the pending scheduler.
        Pending => "PENDING",
        /// Promoted; any replica may take it.
        Available => "AVAILABLE",
        /// Taken by one replica (`replica_id`).
        Running => "RUNNING",
        /// Finished successfully.
        Done => "DONE",
        /// Finished with an error, or abandoned by a dead replica.
        Failed => "FAILED",
        /// Canceled by the user.
        Canceled => "CANCELED",
    }
}

impl RunStatus {
    /// Whether the run still counts as work in progress (PENDING, AVAILABLE, RUNNING).
    pub fn is_open(self) -> bool {
        matches!(self, RunStatus::Pending | RunStatus::Available | RunStatus::Running)
    }
}

sql_enum! {
    /// The two pipeline events a plan announces (`plan_webhook_delivery.event_type`).
    EventType {
        /// A task run of the plan failed.
        PipelineFailed => "PIPELINE_FAILED",
        /// Every task of the plan is done or skipped.
        PipelineCompleted => "PIPELINE_COMPLETED",
    }
}

/// A task's state, derived from its latest run and its skip flag (the contract's terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// No run yet, or the latest run is PENDING, AVAILABLE or RUNNING.
    Open,
    /// The latest run is DONE.
    Done,
    /// The latest run is FAILED.
    Failed,
    /// The latest run is CANCELED.
    Canceled,
    /// The skip flag is set, whatever the runs.
    Skipped,
}

impl TaskState {
    /// Derives the state from the skip flag and the latest run's status.
    pub fn derive(skipped: bool, latest: Option<RunStatus>) -> Self {
        match (skipped, latest) {
            (true, _) => TaskState::Skipped,
            (false, None) => TaskState::Open,
            (false, Some(s)) if s.is_open() => TaskState::Open,
            (false, Some(RunStatus::Done)) => TaskState::Done,
            (false, Some(RunStatus::Failed)) => TaskState::Failed,
            (false, Some(_)) => TaskState::Canceled,
        }
    }

    /// Whether this task lets the plan be complete (`done` or `skipped`).
    pub fn is_complete(self) -> bool {
        matches!(self, TaskState::Done | TaskState::Skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_database_spelling() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(*s));
        }
        for e in EventType::ALL {
            assert_eq!(e.as_str().parse::<EventType>(), Ok(*e));
        }
        assert!("SKIPPED".parse::<RunStatus>().is_err());
    }

    #[test]
    fn task_state_follows_the_contract() {
        use RunStatus::*;
        assert_eq!(TaskState::derive(false, None), TaskState::Open);
        assert_eq!(TaskState::derive(false, Some(Running)), TaskState::Open);
        assert_eq!(TaskState::derive(false, Some(Done)), TaskState::Done);
        assert_eq!(TaskState::derive(false, Some(Failed)), TaskState::Failed);
        assert_eq!(TaskState::derive(false, Some(Canceled)), TaskState::Canceled);
        assert_eq!(TaskState::derive(true, Some(Failed)), TaskState::Skipped);
        assert!(TaskState::Skipped.is_complete() && TaskState::Done.is_complete());
        assert!(!TaskState::Failed.is_complete() && !TaskState::Open.is_complete());
    }
}
