//! The lanes of a timeline as they fill: the user's first, then one per replica
//! (created for any replica the history names beyond the scenario's), the receiver's
//! last; and each replica's down time, from its crash to its restart.

use std::collections::HashMap;
use std::time::Duration;

use super::model::{Item, Lane, LaneKind, RECEIVER, USER};
use crate::model::ReplicaId;

/// The lanes as they fill.
pub(super) struct Lanes {
    /// The lanes so far.
    pub(super) lanes: Vec<Lane>,
    /// Replicas down since a crash, by lane.
    pub(super) down_since: HashMap<String, Duration>,
}

impl Lanes {
    /// The user's lane, `replicas` replica lanes and the receiver's, all empty.
    pub(super) fn new(replicas: usize) -> Self {
        let mut lanes = vec![Lane::new(USER, LaneKind::User)];
        lanes.extend((1..=replicas).map(|n| Lane::new(ReplicaId::nth(n).as_str(), LaneKind::Replica)));
        lanes.push(Lane::new(RECEIVER, LaneKind::Receiver));
        Lanes { lanes, down_since: HashMap::new() }
    }

    /// Lane `id`, made (as a replica's) if there is none yet.
    pub(super) fn lane(&mut self, id: &str) -> &mut Lane {
        let i = match self.lanes.iter().position(|l| l.id == id) {
            Some(i) => i,
            None => {
                self.lanes.push(Lane::new(id, LaneKind::Replica));
                self.lanes.len() - 1
            }
        };
        &mut self.lanes[i]
    }

    /// Adds `item` to lane `id`; returns where it is.
    pub(super) fn push(&mut self, id: &str, item: Item) -> (String, usize) {
        let lane = self.lane(id);
        lane.items.push(item);
        (lane.id.clone(), lane.items.len() - 1)
    }

    /// The item at a place [`Lanes::push`] returned.
    pub(super) fn item(&mut self, (lane, i): &(String, usize)) -> &mut Item {
        &mut self.lane(lane).items[*i]
    }

    /// Ends the down time of replicas never restarted at the end of the run.
    pub(super) fn close_down_spans(&mut self) {
        for (id, since) in std::mem::take(&mut self.down_since) {
            self.lane(&id).down.push((since, None));
        }
        for lane in &mut self.lanes {
            lane.down.sort_by_key(|(from, _)| *from);
        }
    }

    /// User first, replicas by number (`r2` before `r10`), receiver last.
    pub(super) fn ordered(mut self) -> Vec<Lane> {
        let rank = |l: &Lane| match l.kind {
            LaneKind::User => (0, 0, String::new()),
            LaneKind::Replica => {
                (1, l.id.strip_prefix('r').and_then(|n| n.parse().ok()).unwrap_or(u64::MAX), l.id.clone())
            }
            LaneKind::Receiver => (2, 0, String::new()),
        };
        self.lanes.sort_by_key(rank);
        self.lanes
    }
}

impl Lane {
    /// An empty lane.
    fn new(id: &str, kind: LaneKind) -> Self {
        Lane { id: id.to_owned(), kind, items: Vec::new(), down: Vec::new() }
    }
}
