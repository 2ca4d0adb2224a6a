//! Fault windows as bands over the lanes they hit. A band runs from the history's
//! `FaultStarted` to its `FaultEnded`; a fault without an end lasts as its kind says:
//! a crash or a connection reset is an instant, a partition, latency or endpoint window
//! without `until` lasts to the end of the run, and an endpoint fault on the next N
//! requests lasts until the N-th of them arrives (counted from the requests that
//! arrived after it struck, as the receiver counts them). A fault on the database
//! server (a failover, a restart, a replication lag) hits every replica's lane.

use std::collections::HashMap;
use std::time::Duration;

use super::model::{RECEIVER, lane_of};
use crate::faults::{Fault, FaultKind};
use crate::history::{Entry, Event, Seq};
use crate::judge::RunResult;
use crate::webhook::Scope;

/// One fault window.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// The fault's index in the scenario.
    pub fault: usize,
    /// `crash`, `db-partition`, `db-latency`, `db-reset`, `endpoint` (or `fault` for
    /// one the scenario does not list).
    pub kind: &'static str,
    /// The fault, for people.
    pub description: String,
    /// When it struck.
    pub from: Duration,
    /// When it stopped acting (equal to `from` for an instant).
    pub until: Duration,
    /// The lanes it hits: its replica's, the receiver's, or every replica's.
    pub lanes: Vec<String>,
    /// Its `FaultStarted` and `FaultEnded` entries.
    pub entries: Vec<Seq>,
    /// The violations whose witness names it.
    pub violations: Vec<usize>,
}

/// The bands of the faults that struck in `result`, in the order they struck.
pub fn build(faults: &[Fault], result: &RunResult) -> Vec<Band> {
    // Each fault (the first listed with its index) and its ends, in log order.
    let mut by_index: HashMap<usize, &Fault> = HashMap::new();
    for f in faults {
        by_index.entry(f.index).or_insert(f);
    }
    let mut ends: HashMap<usize, Vec<&Entry>> = HashMap::new();
    for e in &result.history {
        if let Event::FaultEnded { fault } = e.event {
            ends.entry(fault).or_default().push(e);
        }
    }
    // Every replica lane of the run, for the faults on the database they all share.
    let mut replicas: Vec<String> =
        result.history.iter().filter_map(|e| e.by.as_ref()).map(|r| lane_of(r).to_owned()).collect();
    replicas.sort();
    replicas.dedup();
    let mut bands = Vec::new();
    for entry in &result.history {
        let Event::FaultStarted { fault: index, description } = &entry.event else { continue };
        let fault = by_index.get(index).copied();
        let ended = ends.get(index).and_then(|ends| ends.iter().find(|e| e.seq > entry.seq)).copied();
        let until = match (ended, fault) {
            (Some(end), _) => end.at,
            (None, Some(fault)) => lasts_until(fault, entry.at, result),
            (None, None) => result.elapsed,
        };
        let lane = match fault.map(|f| &f.kind) {
            Some(FaultKind::Endpoint(_)) => RECEIVER.to_owned(),
            // A fault at a point for whichever replica gets there strikes the one that did.
            Some(_) => match fault.and_then(Fault::replica).filter(|r| !r.is_any()) {
                Some(replica) => lane_of(replica).to_owned(),
                None => entry.by.as_ref().map_or(RECEIVER, lane_of).to_owned(),
            },
            None => entry.by.as_ref().map_or(RECEIVER, lane_of).to_owned(),
        };
        let lanes = match fault {
            Some(f) if f.on_the_database() && !replicas.is_empty() => replicas.clone(),
            _ => vec![lane],
        };
        bands.push(Band {
            fault: *index,
            kind: fault.map_or("fault", |f| kind_name(&f.kind)),
            description: description.clone(),
            from: entry.at,
            until: until.max(entry.at),
            lanes,
            entries: std::iter::once(entry.seq).chain(ended.map(|e| e.seq)).collect(),
            violations: Vec::new(),
        });
    }
    bands
}

/// When a fault that struck at `from` and logged no end stops acting.
fn lasts_until(fault: &Fault, from: Duration, result: &RunResult) -> Duration {
    match &fault.kind {
        FaultKind::Crash { .. }
        | FaultKind::DbReset { .. }
        | FaultKind::DbFailover
        | FaultKind::DbRestart => from,
        FaultKind::Endpoint(endpoint) => match endpoint.scope {
            Scope::NextRequests(0) => from,
            Scope::NextRequests(n) => {
                let first = result.requests.iter().filter(|r| r.at < from).count();
                result.requests.get(first + n as usize - 1).map_or(result.elapsed, |r| r.at)
            }
            Scope::Window { .. } => result.elapsed,
        },
        FaultKind::DbPartition { .. } | FaultKind::DbLatency { .. } | FaultKind::ReplicationLag => {
            result.elapsed
        }
    }
}

/// The page's name for a fault kind.
fn kind_name(kind: &FaultKind) -> &'static str {
    match kind {
        FaultKind::Crash { .. } => "crash",
        FaultKind::DbPartition { .. } => "db-partition",
        FaultKind::DbLatency { .. } => "db-latency",
        FaultKind::DbReset { .. } => "db-reset",
        FaultKind::Endpoint(_) => "endpoint",
        FaultKind::DbFailover => "db-failover",
        FaultKind::DbRestart => "db-restart",
        FaultKind::ReplicationLag => "replication-lag",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Trigger;
    use crate::model::ReplicaId;
    use crate::report::html::fixtures::{Log, ms, request, result};
    use crate::webhook::{Answer, EndpointFault};

    fn fault(index: usize, kind: FaultKind) -> Fault {
        Fault { index, kind, trigger: Trigger::At { at: ms(0), until: None } }
    }

    fn started(log: &mut Log, at_ms: u64, by: Option<&str>, fault: usize) -> Seq {
        log.add(at_ms, by, Event::FaultStarted { fault, description: format!("fault {fault}") })
    }

    #[test]
    fn a_window_runs_from_its_start_to_its_end_over_its_replica_lane() {
        let mut log = Log::default();
        let from = started(&mut log, 100, Some("r3"), 0);
        let to = log.add(400, Some("r3"), Event::FaultEnded { fault: 0 });
        let faults = [fault(0, FaultKind::DbPartition { replica: ReplicaId::nth(3), heal_after: None })];
        let bands = build(&faults, &result(log, vec![], 900));
        assert_eq!(bands.len(), 1);
        let band = &bands[0];
        assert_eq!((band.kind, band.from, band.until), ("db-partition", ms(100), ms(400)));
        assert_eq!((band.lanes.clone(), band.entries.clone()), (vec!["r3".to_owned()], vec![from, to]));
    }

    #[test]
    fn faults_without_an_end_last_as_their_kind_says() {
        let mut log = Log::default();
        started(&mut log, 100, Some("r1"), 0);
        started(&mut log, 200, Some("r2"), 1);
        started(&mut log, 300, Some("r2"), 2);
        let faults = [
            fault(0, FaultKind::Crash { replica: ReplicaId::nth(1), restart_after: None }),
            fault(1, FaultKind::DbReset { replica: ReplicaId::nth(2) }),
            fault(2, FaultKind::DbLatency { replica: ReplicaId::nth(2), latency: ms(40) }),
        ];
        let spans: Vec<_> =
            build(&faults, &result(log, vec![], 900)).iter().map(|b| (b.fault, b.from, b.until)).collect();
        assert_eq!(spans, [(0, ms(100), ms(100)), (1, ms(200), ms(200)), (2, ms(300), ms(900))]);
    }

    #[test]
    fn an_endpoint_fault_on_the_next_requests_lasts_until_the_last_of_them_arrives() {
        let mut log = Log::default();
        started(&mut log, 100, None, 0);
        let next_two = EndpointFault { behaviour: Answer::Hang, scope: Scope::NextRequests(2) };
        let requests = vec![
            request(0, 50, "a", 200),
            request(1, 120, "b", 200),
            request(2, 170, "c", 200),
            request(3, 300, "d", 200),
        ];
        let bands = build(&[fault(0, FaultKind::Endpoint(next_two))], &result(log, requests, 900));
        assert_eq!((bands[0].from, bands[0].until), (ms(100), ms(170)));
        assert_eq!(bands[0].lanes, [RECEIVER]);
    }

    #[test]
    fn a_fault_on_the_database_hits_every_replicas_lane() {
        let mut log = Log::default();
        log.add(50, Some("r1"), Event::Restarted { replica: ReplicaId("r1".into()) });
        log.add(60, Some("r2.2"), Event::Restarted { replica: ReplicaId("r2.2".into()) });
        started(&mut log, 100, None, 0);
        log.add(300, None, Event::FaultEnded { fault: 0 });
        let bands = build(&[fault(0, FaultKind::DbFailover)], &result(log, vec![], 900));
        assert_eq!((bands[0].kind, bands[0].from, bands[0].until), ("db-failover", ms(100), ms(300)));
        assert_eq!(bands[0].lanes, ["r1", "r2"]);
    }
}
