//! Where two runs of one scenario part ways: the first history entry at which they
//! differ in time, replica or what happened. Runs of the same scenario and seed under
//! two strategies share every entry up to the first moment a strategy acts
//! differently, so this is the moment the designs diverge.

use std::time::Duration;

use crate::history::{Entry, Seq};

/// The first entry where `other` differs from `first`, as (when, its position); `None`
/// when the two histories are the same.
pub fn divergence(first: &[Entry], other: &[Entry]) -> Option<(Duration, Seq)> {
    let same = |a: &Entry, b: &Entry| a.at == b.at && a.by == b.by && a.event == b.event;
    match first.iter().zip(other).position(|(a, b)| !same(a, b)) {
        Some(i) => Some((first[i].at.min(other[i].at), i as Seq)),
        None => {
            let common = first.len().min(other.len());
            let longer = if first.len() > common { first } else { other };
            longer.get(common).map(|e| (e.at, common as Seq))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Event;
    use crate::model::{EventType, PlanId, ReplicaId};
    use crate::store::Claim;

    fn entry(seq: Seq, ms: u64, event: Event) -> Entry {
        Entry { seq, at: Duration::from_millis(ms), by: Some(ReplicaId::nth(1)), event }
    }

    fn claim(seq: Seq, ms: u64) -> Entry {
        let event = Event::ClaimAttempted {
            plan: PlanId(1),
            event: EventType::PipelineFailed,
            claim: Claim::Won,
            invoked: seq,
        };
        entry(seq, ms, event)
    }

    fn crash(seq: Seq, ms: u64) -> Entry {
        entry(seq, ms, Event::Crashed { replica: ReplicaId::nth(1), point: None })
    }

    #[test]
    fn the_first_differing_entry_marks_the_divergence_at_the_earlier_time() {
        let a = [claim(0, 10), claim(1, 20), crash(2, 30)];
        let b = [claim(0, 10), crash(1, 25), claim(2, 40)];
        assert_eq!(divergence(&a, &b), Some((Duration::from_millis(20), 1)));
        assert_eq!(divergence(&b, &a), Some((Duration::from_millis(20), 1)));
    }

    #[test]
    fn a_history_that_goes_on_diverges_where_the_other_stops() {
        let a = [claim(0, 10), claim(1, 20)];
        let b = [claim(0, 10), claim(1, 20), crash(2, 35)];
        assert_eq!(divergence(&a, &b), Some((Duration::from_millis(35), 2)));
        assert_eq!(divergence(&b, &a), Some((Duration::from_millis(35), 2)));
    }

    #[test]
    fn identical_histories_do_not_diverge() {
        let a = [claim(0, 10), crash(1, 20)];
        assert_eq!(divergence(&a, &a.clone()), None);
        assert_eq!(divergence(&[], &[]), None);
    }
}
