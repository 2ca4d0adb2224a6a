//! A generated scenario, in the terms that shrinking works on.
//!
//! A [`Case`] is valid by construction, whatever shrinking does to it: references to
//! replicas and tasks are taken modulo what exists (a fault of replica 4 in a
//! two-replica case is a fault of `r1`), a plan's later actions live inside the plan
//! (removing the plan removes them) and come strictly after its first run, and every
//! time is a small count of milliseconds. [`Case::to_toml`] renders it as a normal
//! scenario file, so what a search runs is exactly what it writes.

use serde::{Deserialize, Serialize};

use crate::faults::CrashPoint;

/// One generated scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// The run's seed (drawn task outcomes past the scripted ones, the secret).
    pub seed: u64,
    /// Replicas, `r1` ... `rN`.
    pub replicas: u8,
    /// The plans, each with its tasks and its user's actions.
    pub plans: Vec<PlanCase>,
    /// The faults, in file order.
    pub faults: Vec<FaultCase>,
    /// How the database replicates, when a fault makes it a primary-standby pair
    /// (`db-failover`, `replication-lag`).
    #[serde(default)]
    pub replication: crate::topology::Replication,
}

/// A plan: created and run at `start`, then acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCase {
    /// When the user creates and runs it, in ms.
    pub start: u16,
    /// The replica serving the first run (modulo the replicas); `None`: round-robin.
    pub via: Option<u8>,
    /// Its tasks, at least one.
    pub tasks: Vec<TaskCase>,
    /// What the user does afterwards.
    pub actions: Vec<ActionCase>,
}

/// A task: its scripted attempts; attempts past them are done after 40 ms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCase {
    /// The scripted attempts, in order.
    pub attempts: Vec<AttemptCase>,
}

/// One scripted attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptCase {
    /// Whether it fails (else it is done).
    pub failed: bool,
    /// How long it runs, in ms (at least 1).
    pub after: u16,
}

/// A user action after the plan's first run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionCase {
    /// How long after the plan's start, in ms (at least 1).
    pub after: u16,
    /// What the user does.
    pub kind: ActionCaseKind,
    /// Which tasks, by position modulo the plan's tasks (repeats dropped); empty: all.
    pub tasks: Vec<u8>,
    /// The replica serving it (modulo the replicas); `None`: round-robin.
    pub via: Option<u8>,
}

/// The actions a user takes on a running plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionCaseKind {
    /// BatchRunTasks again.
    Retry,
    /// BatchSkipTasks.
    Skip,
    /// BatchCancelTaskRuns.
    Cancel,
}

/// A fault. Replicas are taken modulo the case's replicas. Windows are short and
/// crashes of `r1` always restart, so some replica can always reach the database
/// and the endpoint again: a violation is the design's, not the cluster's death.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultCase {
    /// The replica crashes at a time or a crash point.
    Crash {
        /// Whose process.
        replica: u8,
        /// When.
        when: CrashWhen,
        /// Restart this long after, in ms.
        restart_after: u16,
        /// Stay down instead (ignored for `r1`, which always comes back, and for a
        /// crash of whichever replica reaches a point, which may be `r1`).
        stays_down: bool,
    },
    /// The replica's DB link blackholes for `len` ms from `at`.
    DbPartition {
        /// Whose link.
        replica: u8,
        /// From, in ms.
        at: u16,
        /// For how long, in ms (at least 1).
        len: u16,
    },
    /// The replica's DB link adds `latency` ms each way for `len` ms from `at`.
    DbLatency {
        /// Whose link.
        replica: u8,
        /// From, in ms.
        at: u16,
        /// For how long, in ms (at least 1).
        len: u16,
        /// Added one-way delay, in ms.
        latency: u16,
    },
    /// The replica's DB connections are reset at `at`.
    DbReset {
        /// Whose link.
        replica: u8,
        /// When, in ms.
        at: u16,
    },
    /// The DB connections of the replica that reaches a point are reset.
    DbResetAt {
        /// Whose link (unless the point is for whichever replica).
        replica: u8,
        /// Where it strikes.
        when: PointCase,
    },
    /// The DB link of the replica that reaches a point blackholes for `len` ms.
    DbPartitionAt {
        /// Whose link (unless the point is for whichever replica).
        replica: u8,
        /// Where it strikes.
        when: PointCase,
        /// For how long, in ms (at least 1).
        len: u16,
    },
    /// The database's primary fails and its standby takes over at `at`.
    DbFailover {
        /// When, in ms.
        at: u16,
    },
    /// The standby hears nothing of the primary for `len` ms from `at`.
    ReplicationLag {
        /// From, in ms.
        at: u16,
        /// For how long, in ms (at least 1).
        len: u16,
    },
    /// The endpoint misbehaves.
    Endpoint {
        /// How.
        behaviour: EndpointCase,
        /// For which requests.
        span: SpanCase,
    },
}

/// When a crash strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrashWhen {
    /// At a time, in ms.
    At(u16),
    /// The `nth` (from 1) time the replica passes the point.
    Point(CrashPoint, u8),
    /// The `nth` (from 1) passage of any replica through the point: it strikes the
    /// replica that makes it.
    AnyPoint(CrashPoint, u8),
}

/// A point where a DB link fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointCase {
    /// Whichever replica gets there (else the fault's replica).
    pub any: bool,
    /// The point.
    pub point: CrashPoint,
    /// Which passage (from 1), of the replica or of the cluster for `any`.
    pub nth: u8,
}

/// What the endpoint does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndpointCase {
    /// Answers this status.
    Status(u16),
    /// Answers this status with a `Retry-After` of so many ms.
    RetryAfter(u16, u16),
    /// Never answers.
    Hang,
    /// Closes the connection without an answer.
    Reset,
    /// Accepts (200), and answers only after so many ms: a sender whose timeout is
    /// shorter tries again though the request was accepted.
    Late(u16),
}

/// Which requests an endpoint fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpanCase {
    /// The next N requests from the start (at least 1).
    Requests(u8),
    /// Requests from `at` for `len` ms.
    Window {
        /// From, in ms.
        at: u16,
        /// For how long, in ms (at least 1).
        len: u16,
    },
}

impl Case {
    /// How many faults, actions, plans and tasks it has: a rough size for reports.
    /// Whether a fault acts on the database server, which makes it a pair.
    pub fn has_a_pair(&self) -> bool {
        self.faults
            .iter()
            .any(|f| matches!(f, FaultCase::DbFailover { .. } | FaultCase::ReplicationLag { .. }))
    }

    pub fn size(&self) -> usize {
        let plans: usize = self.plans.iter().map(|p| 1 + p.tasks.len() + p.actions.len()).sum();
        plans + self.faults.len() + usize::from(self.replicas)
    }

    /// Whether `other` is this case but for its seed (which only draws what the
    /// case does not script): two such counterexamples are one.
    pub fn same_but_seed(&self, other: &Case) -> bool {
        Case { seed: other.seed, ..self.clone() } == *other
    }

    /// The replica name for a generated reference.
    pub(crate) fn replica(&self, r: u8) -> String {
        format!("r{}", r % self.replicas.max(1) + 1)
    }
}

impl PlanCase {
    /// The plan's task positions an action names: modulo the tasks, in order, no
    /// repeats; `None` (every task) when it names none.
    pub(crate) fn task_positions(&self, refs: &[u8]) -> Option<Vec<usize>> {
        let mut positions: Vec<usize> = Vec::new();
        for &r in refs {
            let p = usize::from(r) % self.tasks.len().max(1);
            if !positions.contains(&p) {
                positions.push(p);
            }
        }
        (!positions.is_empty()).then_some(positions)
    }
}

impl ActionCaseKind {
    /// The action's name in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionCaseKind::Retry => "retry",
            ActionCaseKind::Skip => "skip",
            ActionCaseKind::Cancel => "cancel",
        }
    }
}
