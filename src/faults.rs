//! Faults as data: the points inside a replica where a fault can strike, and the
//! registry that decides, each time a replica passes a point, whether a fault (a
//! crash, or a reset or partition of its DB link) strikes there.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::ReplicaId;
use crate::store::CommitOp;
use crate::webhook::EndpointFault;

/// A named point inside a replica where a scenario can strike it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashPoint {
    /// Just before claiming the right to send an event.
    BeforeClaim,
    /// Right after winning a claim, before sending.
    AfterClaim,
    /// Right after a run's DONE/FAILED status committed, before anything acts on it.
    AfterStatusWrite,
    /// A webhook request was written and reached the endpoint; its answer not read.
    DuringSend,
    /// Right after a claim row was reset.
    AfterReset,
    /// A write of this kind committed on the server and its reply has not reached
    /// the replica yet (a claim that won, a run's status write, an outbox insert, a
    /// lease). Only writes that changed something pass it.
    AfterCommit(CommitOp),
}

impl CrashPoint {
    /// Every point.
    pub const ALL: [CrashPoint; 9] = [
        CrashPoint::BeforeClaim,
        CrashPoint::AfterClaim,
        CrashPoint::AfterStatusWrite,
        CrashPoint::DuringSend,
        CrashPoint::AfterReset,
        CrashPoint::AfterCommit(CommitOp::Claim),
        CrashPoint::AfterCommit(CommitOp::StatusWrite),
        CrashPoint::AfterCommit(CommitOp::OutboxInsert),
        CrashPoint::AfterCommit(CommitOp::Lease),
    ];

    /// The name scenario files use for `point` (`after-commit` also takes an `op`).
    pub fn as_str(self) -> &'static str {
        match self {
            CrashPoint::BeforeClaim => "before-claim",
            CrashPoint::AfterClaim => "after-claim",
            CrashPoint::AfterStatusWrite => "after-status-write",
            CrashPoint::DuringSend => "during-send",
            CrashPoint::AfterReset => "after-reset",
            CrashPoint::AfterCommit(_) => "after-commit",
        }
    }

    /// The point as a `when` table names it: `point = "after-claim"`, or
    /// `point = "after-commit", op = "claim"`.
    pub fn when_keys(self) -> String {
        match self {
            CrashPoint::AfterCommit(op) => format!("point = \"after-commit\", op = \"{op}\""),
            point => format!("point = \"{}\"", point.as_str()),
        }
    }
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrashPoint::AfterCommit(op) => write!(f, "after-commit of {op}"),
            point => f.write_str(point.as_str()),
        }
    }
}

/// One fault of a scenario, validated: what it does and when it strikes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// Its position in the scenario's fault list (0-based), for the history.
    pub index: usize,
    /// What it does.
    pub kind: FaultKind,
    /// When it strikes.
    pub trigger: Trigger,
}

/// When a fault strikes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "trigger", rename_all = "kebab-case")]
pub enum Trigger {
    /// At a time on the run's clock, acting until `until` (for faults with a window;
    /// `None`: to the end of the run).
    At {
        /// When it starts.
        at: Duration,
        /// When it stops, for window faults.
        until: Option<Duration>,
    },
    /// When `replica` reaches `point` for the `nth` time (crashes, DB resets and
    /// partitions).
    When {
        /// The replica, by scenario name; [`ReplicaId::any`] for whichever replica
        /// gets there (passages are then counted across the cluster).
        replica: ReplicaId,
        /// The crash point.
        point: CrashPoint,
        /// Which passage (1-based).
        nth: u32,
    },
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FaultKind {
    /// The replica crashes: it and everything it owns stop at once.
    Crash {
        /// Which replica (for `When` triggers, the trigger's replica).
        replica: ReplicaId,
        /// Start a fresh incarnation this long after.
        restart_after: Option<Duration>,
    },
    /// The replica's DB link blackholes: its queries hang until the window ends (or
    /// its pool gives up).
    DbPartition {
        /// Whose link.
        replica: ReplicaId,
        /// For a partition struck at a point: how long it lasts (`None`: to the end).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heal_after: Option<Duration>,
    },
    /// The replica's DB link adds latency to every round trip.
    DbLatency {
        /// Whose link.
        replica: ReplicaId,
        /// Added one-way delay.
        latency: Duration,
    },
    /// The replica's DB connections are reset at once (their backends killed).
    DbReset {
        /// Whose link.
        replica: ReplicaId,
    },
    /// The webhook endpoint misbehaves (its scope is part of the fault).
    Endpoint(EndpointFault),
    /// The database's primary fails and its standby takes over: every connection
    /// breaks, and what had not reached the standby is gone (a primary-standby pair).
    DbFailover,
    /// The database's primary crashes and restarts on its own data: every connection
    /// breaks, no commit is lost (a primary-standby pair, whose primary hasim runs).
    DbRestart,
    /// The standby stops receiving the primary's WAL for the fault's window, so a
    /// failover in it loses every commit since it began (a primary-standby pair; with
    /// synchronous replication, commits wait instead).
    ReplicationLag,
}

impl Fault {
    /// One line for people: `db-partition r1 300ms..900ms`.
    pub fn describe(&self) -> String {
        let what = match &self.kind {
            FaultKind::Crash { replica, restart_after } => match restart_after {
                Some(after) => format!("crash {replica}, restart after {after:?}"),
                None => format!("crash {replica}"),
            },
            FaultKind::DbPartition { replica, heal_after: Some(after) } => {
                format!("db-partition {replica}, healing after {after:?}")
            }
            FaultKind::DbPartition { replica, .. } => format!("db-partition {replica}"),
            FaultKind::DbLatency { replica, latency } => format!("db-latency {replica} +{latency:?}"),
            FaultKind::DbReset { replica } => format!("db-reset {replica}"),
            FaultKind::Endpoint(fault) => format!("endpoint {}", fault.describe()),
            FaultKind::DbFailover => "db-failover".to_owned(),
            FaultKind::DbRestart => "db-restart".to_owned(),
            FaultKind::ReplicationLag => "replication-lag".to_owned(),
        };
        let when = match &self.trigger {
            Trigger::At { at, until: Some(until) } => format!("{at:?}..{until:?}"),
            Trigger::At { at, until: None } => format!("at {at:?}"),
            Trigger::When { replica, point, nth } => format!("when {replica} reaches {point} #{nth}"),
        };
        format!("{what} {when}")
    }

    /// Whether the fault acts on `replica`'s connections to the database, which must
    /// then pass through a link proxy: a fault on its link, or any fault struck at a
    /// crash point it reaches (the strike holds the replies of the write it catches
    /// until it acts). A crash at a time needs none: the replica's connections close
    /// with it.
    pub fn acts_on_link(&self, replica: &ReplicaId) -> bool {
        match (&self.trigger, &self.kind) {
            (Trigger::When { replica: at, .. }, _) => at == replica || at.is_any(),
            (
                Trigger::At { .. },
                FaultKind::Crash { .. }
                | FaultKind::Endpoint(_)
                | FaultKind::DbFailover
                | FaultKind::DbRestart
                | FaultKind::ReplicationLag,
            ) => false,
            (Trigger::At { .. }, _) => self.replica() == Some(replica),
        }
    }

    /// The replica whose link or process the fault strikes, if any.
    pub fn replica(&self) -> Option<&ReplicaId> {
        match &self.kind {
            FaultKind::Crash { replica, .. }
            | FaultKind::DbPartition { replica, .. }
            | FaultKind::DbLatency { replica, .. }
            | FaultKind::DbReset { replica } => Some(replica),
            FaultKind::Endpoint(_)
            | FaultKind::DbFailover
            | FaultKind::DbRestart
            | FaultKind::ReplicationLag => None,
        }
    }

    /// Whether the fault acts on the database server itself (a primary-standby pair).
    pub fn on_the_database(&self) -> bool {
        matches!(self.kind, FaultKind::DbFailover | FaultKind::DbRestart | FaultKind::ReplicationLag)
    }
}

/// What a fault struck at a point does to the replica that passed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PointAction {
    /// The replica crashes, and restarts this long after if given.
    Crash {
        /// Start it again this long after the crash.
        restart_after: Option<Duration>,
    },
    /// Its DB connections are reset.
    DbReset,
    /// Its DB link is partitioned, healing this long after if given.
    DbPartition {
        /// When the link heals.
        heal_after: Option<Duration>,
    },
}

/// A fault that strikes when a replica reaches a point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointTrigger {
    /// The fault's index in the scenario (for the history).
    pub fault: usize,
    /// The replica, by its scenario name (`r2`), whatever its incarnation; or
    /// [`ReplicaId::any`].
    pub replica: ReplicaId,
    /// The point.
    pub point: CrashPoint,
    /// Which passage strikes (counted per replica, or across the cluster for `any`).
    pub nth: u32,
    /// What it does.
    pub action: PointAction,
}

impl PointTrigger {
    /// The point trigger of `fault`, if it strikes at a point.
    pub fn of(fault: &Fault) -> Option<PointTrigger> {
        let Trigger::When { replica, point, nth } = &fault.trigger else { return None };
        let action = match &fault.kind {
            FaultKind::Crash { restart_after, .. } => PointAction::Crash { restart_after: *restart_after },
            FaultKind::DbReset { .. } => PointAction::DbReset,
            FaultKind::DbPartition { heal_after, .. } => PointAction::DbPartition { heal_after: *heal_after },
            FaultKind::DbLatency { .. }
            | FaultKind::Endpoint(_)
            | FaultKind::DbFailover
            | FaultKind::DbRestart
            | FaultKind::ReplicationLag => return None,
        };
        Some(PointTrigger { fault: fault.index, replica: replica.clone(), point: *point, nth: *nth, action })
    }
}

/// A fault striking a replica that reached a point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strike {
    /// The fault that fired.
    pub fault: usize,
    /// The point it fired at.
    pub point: CrashPoint,
    /// What it does.
    pub action: PointAction,
}

/// The point triggers of a run, shared by every replica; counts passages per replica
/// and point across incarnations, and per point across the cluster.
#[derive(Debug, Clone, Default)]
pub struct CrashPoints {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    triggers: Vec<PointTrigger>,
    /// Passages by (replica, point); `any` counts the cluster's.
    passages: HashMap<(ReplicaId, CrashPoint), u32>,
}

impl CrashPoints {
    /// A registry armed with `triggers`.
    pub fn new(triggers: Vec<PointTrigger>) -> Self {
        CrashPoints { inner: Arc::new(Mutex::new(Inner { triggers, passages: HashMap::new() })) }
    }

    /// Counts a passage of `replica` (its scenario name) through `point`; says which
    /// fault, if any, strikes it there. Each trigger strikes once.
    pub fn pass(&self, replica: &ReplicaId, point: CrashPoint) -> Option<Strike> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut count = |who: &ReplicaId| {
            let passages = inner.passages.entry((who.clone(), point)).or_default();
            *passages += 1;
            *passages
        };
        let (own, cluster) = (count(replica), count(&ReplicaId::any()));
        inner
            .triggers
            .iter()
            .find(|t| {
                t.point == point
                    && ((t.replica == *replica && t.nth == own) || (t.replica.is_any() && t.nth == cluster))
            })
            .map(|t| Strike { fault: t.fault, point, action: t.action })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(replica: ReplicaId, point: CrashPoint, nth: u32) -> PointTrigger {
        PointTrigger { fault: 0, replica, point, nth, action: PointAction::Crash { restart_after: None } }
    }

    #[test]
    fn a_trigger_fires_on_the_nth_passage_of_its_replica_only() {
        let r1 = ReplicaId::nth(1);
        let points = CrashPoints::new(vec![trigger(r1.clone(), CrashPoint::AfterClaim, 2)]);
        assert_eq!(points.pass(&ReplicaId::nth(2), CrashPoint::AfterClaim), None);
        assert_eq!(points.pass(&r1, CrashPoint::BeforeClaim), None);
        assert_eq!(points.pass(&r1, CrashPoint::AfterClaim), None);
        let crash = points.pass(&r1, CrashPoint::AfterClaim).expect("second passage");
        assert_eq!((crash.fault, crash.point), (0, CrashPoint::AfterClaim));
        assert_eq!(points.pass(&r1, CrashPoint::AfterClaim), None, "fires once");
    }

    #[test]
    fn an_any_trigger_strikes_whichever_replica_makes_the_nth_passage_of_the_cluster() {
        let point = CrashPoint::AfterCommit(CommitOp::Claim);
        let points = CrashPoints::new(vec![trigger(ReplicaId::any(), point, 2)]);
        assert_eq!(points.pass(&ReplicaId::nth(1), point), None);
        assert_eq!(points.pass(&ReplicaId::nth(2), CrashPoint::AfterClaim), None, "another point");
        let strike = points.pass(&ReplicaId::nth(3), point).expect("the cluster's second passage");
        assert_eq!(strike.point, point);
        assert_eq!(points.pass(&ReplicaId::nth(1), point), None, "fires once");
    }

    #[test]
    fn crash_points_use_the_scenario_spelling() {
        for point in CrashPoint::ALL {
            let json = serde_json::to_string(&point).unwrap();
            match point {
                CrashPoint::AfterCommit(op) => assert_eq!(json, format!("{{\"after-commit\":\"{op}\"}}")),
                _ => assert_eq!(json, format!("\"{point}\"")),
            }
        }
    }
}
