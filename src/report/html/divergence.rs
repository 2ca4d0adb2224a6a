//! Where two runs of one scenario part ways: the first moment at which they did
//! different things. Runs of the same scenario and seed under two strategies do the
//! same things up to the first moment a strategy acts differently, so this is the
//! moment the designs diverge.
//!
//! Histories are compared instant by instant: at each time, the entries each run
//! logged, as (replica, what happened), regardless of their order within the instant
//! and of their sequence numbers (two writes of one instant may be logged in either
//! order, and every later `seq` and `invoked` shifts with them).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::history::{Entry, Seq};

/// The first instant at which `other` did something `first` did not, or the reverse,
/// with the first entry of `other` there that `first` lacks (`None` when `other` only
/// lacks entries there); `None` when the two did the same things throughout.
pub fn divergence(first: &[Entry], other: &[Entry]) -> Option<(Duration, Option<Seq>)> {
    let (a, b) = (instants(first), instants(other));
    let times: std::collections::BTreeSet<Duration> = a.keys().chain(b.keys()).copied().collect();
    let none = Vec::new();
    for t in times {
        let (mut left, right) = (a.get(&t).unwrap_or(&none).clone(), b.get(&t).unwrap_or(&none));
        let mut unmatched = None;
        for (seq, key) in right {
            match left.iter().position(|(_, k)| k == key) {
                Some(i) => drop(left.remove(i)),
                None => {
                    unmatched = Some(*seq);
                    break;
                }
            }
        }
        if unmatched.is_some() || !left.is_empty() {
            return Some((t, unmatched));
        }
    }
    None
}

/// Each instant's entries, as (seq, what happened without positions), in log order.
fn instants(history: &[Entry]) -> BTreeMap<Duration, Vec<(Seq, String)>> {
    let mut out: BTreeMap<Duration, Vec<(Seq, String)>> = BTreeMap::new();
    for entry in history {
        let mut value = serde_json::to_value(entry).expect("history entries serialize");
        if let Some(fields) = value.as_object_mut() {
            fields.remove("seq");
            fields.remove("invoked");
        }
        out.entry(entry.at).or_default().push((entry.seq, value.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Event;
    use crate::model::{EventType, PlanId, ReplicaId};
    use crate::store::Claim;

    fn claim(seq: Seq, ms: u64, invoked: Seq) -> Entry {
        let event = Event::ClaimAttempted {
            plan: PlanId(1),
            event: EventType::PipelineFailed,
            claim: Claim::Won,
            invoked,
        };
        Entry { seq, at: Duration::from_millis(ms), by: Some(ReplicaId::nth(1)), event }
    }

    fn crash(seq: Seq, ms: u64) -> Entry {
        let event = Event::Crashed { replica: ReplicaId::nth(1), point: None };
        Entry { seq, at: Duration::from_millis(ms), by: Some(ReplicaId::nth(1)), event }
    }

    #[test]
    fn the_first_instant_that_differs_is_the_divergence_and_names_the_entry_there() {
        let a = [claim(0, 10, 0), claim(1, 20, 1), crash(2, 30)];
        let b = [claim(0, 10, 0), crash(1, 20), claim(2, 40, 2)];
        assert_eq!(divergence(&a, &b), Some((Duration::from_millis(20), Some(1))));
        let shorter = [claim(0, 10, 0)];
        assert_eq!(divergence(&a, &shorter), Some((Duration::from_millis(20), None)), "only lacks entries");
        assert_eq!(divergence(&shorter, &a), Some((Duration::from_millis(20), Some(1))));
    }

    #[test]
    fn the_order_within_an_instant_and_shifted_positions_do_not_count() {
        let a = [claim(0, 10, 0), crash(1, 10), claim(2, 50, 2)];
        let b = [crash(0, 10), claim(1, 10, 1), claim(2, 50, 2)];
        assert_eq!(divergence(&a, &b), None);
        assert_eq!(divergence(&[], &[]), None);
    }
}
