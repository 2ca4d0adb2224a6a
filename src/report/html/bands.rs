//! Fault windows as bands over the lanes they hit. A band runs from the history's
//! `FaultStarted` to its `FaultEnded`; a fault without an end lasts as its kind says:
//! a crash or a connection reset is an instant, a partition, latency or endpoint window
//! without `until` lasts to the end of the run, and an endpoint fault on the next N
//! requests lasts until the N-th of them arrives (counted from the requests that
//! arrived after it struck, as the receiver counts them).

use std::time::Duration;

use super::model::{RECEIVER, lane_of};
use crate::cluster::RunResult;
use crate::faults::{Fault, FaultKind};
use crate::history::{Event, Seq};
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
    /// The lanes it hits: its replica's, or the receiver's.
    pub lanes: Vec<String>,
    /// Its `FaultStarted` and `FaultEnded` entries.
    pub entries: Vec<Seq>,
    /// The violations whose witness names it.
    pub violations: Vec<usize>,
}

/// The bands of the faults that struck in `result`, in the order they struck.
pub fn build(faults: &[Fault], result: &RunResult) -> Vec<Band> {
    let mut bands = Vec::new();
    for entry in &result.history {
        let Event::FaultStarted { fault: index, description } = &entry.event else { continue };
        let fault = faults.iter().find(|f| f.index == *index);
        let ended = result
            .history
            .iter()
            .find(|e| e.seq > entry.seq && matches!(e.event, Event::FaultEnded { fault } if fault == *index));
        let until = match (ended, fault) {
            (Some(end), _) => end.at,
            (None, Some(fault)) => lasts_until(fault, entry.at, result),
            (None, None) => result.elapsed,
        };
        let lane = match fault.map(|f| &f.kind) {
            Some(FaultKind::Endpoint(_)) => RECEIVER.to_owned(),
            Some(_) => fault.and_then(Fault::replica).map_or(RECEIVER, lane_of).to_owned(),
            None => entry.by.as_ref().map_or(RECEIVER, lane_of).to_owned(),
        };
        bands.push(Band {
            fault: *index,
            kind: fault.map_or("fault", |f| kind_name(&f.kind)),
            description: description.clone(),
            from: entry.at,
            until: until.max(entry.at),
            lanes: vec![lane],
            entries: std::iter::once(entry.seq).chain(ended.map(|e| e.seq)).collect(),
            violations: Vec::new(),
        });
    }
    bands
}

/// When a fault that struck at `from` and logged no end stops acting.
fn lasts_until(fault: &Fault, from: Duration, result: &RunResult) -> Duration {
    match &fault.kind {
        FaultKind::Crash { .. } | FaultKind::DbReset { .. } => from,
        FaultKind::Endpoint(endpoint) => match endpoint.scope {
            Scope::NextRequests(0) => from,
            Scope::NextRequests(n) => {
                let first = result.requests.iter().filter(|r| r.at < from).count();
                result.requests.get(first + n as usize - 1).map_or(result.elapsed, |r| r.at)
            }
            Scope::Window { .. } => result.elapsed,
        },
        FaultKind::DbPartition { .. } | FaultKind::DbLatency { .. } => result.elapsed,
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
    }
}
