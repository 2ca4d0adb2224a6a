//! Faults as data: where a replica can be made to crash, and the registry that
//! decides, each time a replica passes a crash point, whether it crashes there.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::ReplicaId;
use crate::webhook::EndpointFault;

/// A named point inside a replica where a scenario can crash it.
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
}

impl CrashPoint {
    /// Every crash point.
    pub const ALL: [CrashPoint; 5] = [
        CrashPoint::BeforeClaim,
        CrashPoint::AfterClaim,
        CrashPoint::AfterStatusWrite,
        CrashPoint::DuringSend,
        CrashPoint::AfterReset,
    ];

    /// The name scenario files use.
    pub fn as_str(self) -> &'static str {
        match self {
            CrashPoint::BeforeClaim => "before-claim",
            CrashPoint::AfterClaim => "after-claim",
            CrashPoint::AfterStatusWrite => "after-status-write",
            CrashPoint::DuringSend => "during-send",
            CrashPoint::AfterReset => "after-reset",
        }
    }
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// When `replica` reaches `point` for the `nth` time (crashes only).
    When {
        /// The replica, by scenario name.
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
}

impl Fault {
    /// One line for people: `db-partition r1 300ms..900ms`.
    pub fn describe(&self) -> String {
        let what = match &self.kind {
            FaultKind::Crash { replica, restart_after } => match restart_after {
                Some(after) => format!("crash {replica}, restart after {after:?}"),
                None => format!("crash {replica}"),
            },
            FaultKind::DbPartition { replica } => format!("db-partition {replica}"),
            FaultKind::DbLatency { replica, latency } => format!("db-latency {replica} +{latency:?}"),
            FaultKind::DbReset { replica } => format!("db-reset {replica}"),
            FaultKind::Endpoint(fault) => format!("endpoint {}", fault.describe()),
        };
        let when = match &self.trigger {
            Trigger::At { at, until: Some(until) } => format!("{at:?}..{until:?}"),
            Trigger::At { at, until: None } => format!("at {at:?}"),
            Trigger::When { replica, point, nth } => format!("when {replica} reaches {point} #{nth}"),
        };
        format!("{what} {when}")
    }

    /// The replica whose link or process the fault strikes, if any.
    pub fn replica(&self) -> Option<&ReplicaId> {
        match &self.kind {
            FaultKind::Crash { replica, .. }
            | FaultKind::DbPartition { replica }
            | FaultKind::DbLatency { replica, .. }
            | FaultKind::DbReset { replica } => Some(replica),
            FaultKind::Endpoint(_) => None,
        }
    }
}

/// Crash `replica` the `nth` time (1-based) it reaches `point`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashTrigger {
    /// The fault's index in the scenario (for the history).
    pub fault: usize,
    /// The replica, by its scenario name (`r2`), whatever its incarnation.
    pub replica: ReplicaId,
    /// The point.
    pub point: CrashPoint,
    /// Which passage crashes it.
    pub nth: u32,
    /// Start it again this long after the crash.
    pub restart_after: Option<Duration>,
}

/// What a replica that reached a crash point must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// The fault that fired.
    pub fault: usize,
    /// The point it fired at.
    pub point: CrashPoint,
    /// When to restart, if ever.
    pub restart_after: Option<Duration>,
}

/// The crash triggers of a run, shared by every replica; counts passages per replica
/// and point across incarnations.
#[derive(Debug, Clone, Default)]
pub struct CrashPoints {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    triggers: Vec<CrashTrigger>,
    passages: HashMap<(ReplicaId, CrashPoint), u32>,
}

impl CrashPoints {
    /// A registry armed with `triggers`.
    pub fn new(triggers: Vec<CrashTrigger>) -> Self {
        CrashPoints { inner: Arc::new(Mutex::new(Inner { triggers, passages: HashMap::new() })) }
    }

    /// Counts a passage of `replica` (its scenario name) through `point`; says whether
    /// it crashes there.
    pub fn pass(&self, replica: &ReplicaId, point: CrashPoint) -> Option<Crash> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let passages = inner.passages.entry((replica.clone(), point)).or_default();
        *passages += 1;
        let n = *passages;
        inner
            .triggers
            .iter()
            .find(|t| &t.replica == replica && t.point == point && t.nth == n)
            .map(|t| Crash { fault: t.fault, point, restart_after: t.restart_after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_fires_on_the_nth_passage_of_its_replica_only() {
        let r1 = ReplicaId::nth(1);
        let points = CrashPoints::new(vec![CrashTrigger {
            fault: 0,
            replica: r1.clone(),
            point: CrashPoint::AfterClaim,
            nth: 2,
            restart_after: None,
        }]);
        assert_eq!(points.pass(&ReplicaId::nth(2), CrashPoint::AfterClaim), None);
        assert_eq!(points.pass(&r1, CrashPoint::BeforeClaim), None);
        assert_eq!(points.pass(&r1, CrashPoint::AfterClaim), None);
        let crash = points.pass(&r1, CrashPoint::AfterClaim).expect("second passage");
        assert_eq!((crash.fault, crash.point), (0, CrashPoint::AfterClaim));
        assert_eq!(points.pass(&r1, CrashPoint::AfterClaim), None, "fires once");
    }

    #[test]
    fn crash_points_use_the_scenario_spelling() {
        for point in CrashPoint::ALL {
            let json = serde_json::to_string(&point).unwrap();
            assert_eq!(json, format!("\"{point}\""));
        }
    }
}
