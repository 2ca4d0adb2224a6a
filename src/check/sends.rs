//! The history's send entries, grouped once by `webhook-id` and by the event they
//! announce, so that judging an event reads its own sends and not every send of the
//! run. Every lookup answers in log order, as a walk of the whole history would.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Request;
use super::matching::MatchedEvent;
use crate::history::{Entry, Event, Seq};
use crate::model::{EventType, PlanId};

/// The history's send entries, indexed.
#[derive(Debug, Default)]
pub(super) struct Sends<'a> {
    /// `SendStarted` entries by the id they carry, in log order.
    started_by_id: HashMap<&'a str, Vec<&'a Entry>>,
    /// `SendStarted` entries by the plan and event type they announce, in log order.
    started_by_event: HashMap<(PlanId, EventType), Vec<&'a Entry>>,
    finished: HashMap<&'a str, Vec<&'a Entry>>,
    abandoned: HashMap<&'a str, Vec<&'a Entry>>,
}

impl<'a> Sends<'a> {
    /// Indexes the send entries of `history`.
    pub(super) fn index(history: &'a [Entry]) -> Self {
        let mut sends = Sends::default();
        for entry in history {
            match &entry.event {
                Event::SendStarted { plan, event, webhook_id, .. } => {
                    sends.started_by_id.entry(webhook_id).or_default().push(entry);
                    sends.started_by_event.entry((*plan, *event)).or_default().push(entry);
                }
                Event::SendFinished { webhook_id, .. } => {
                    sends.finished.entry(webhook_id).or_default().push(entry)
                }
                Event::SendAbandoned { webhook_id, .. } => {
                    sends.abandoned.entry(webhook_id).or_default().push(entry)
                }
                _ => {}
            }
        }
        sends
    }

    /// The `SendStarted` entries announcing `event` of `plan`, any episode, in log order.
    fn announcing(&self, plan: PlanId, event: EventType) -> &[&'a Entry] {
        self.started_by_event.get(&(plan, event)).map_or(&[], Vec::as_slice)
    }

    /// The `SendStarted` entries for `m`: those naming its plan, type and (for
    /// PIPELINE_FAILED) episode, and those carrying the id of a request it matched.
    pub(super) fn for_event(&self, m: &MatchedEvent<'_>) -> Vec<&'a Entry> {
        let ids: BTreeSet<&str> = m.requests.iter().filter_map(|r| r.webhook_id.as_deref()).collect();
        let o = &m.owed;
        let mut found: BTreeMap<Seq, &'a Entry> = BTreeMap::new();
        for id in ids {
            found.extend(self.with_id(id).iter().map(|e| (e.seq, *e)));
        }
        let same_episode = |e: &Entry| match &e.event {
            Event::SendStarted { episode, .. } => {
                o.event == EventType::PipelineCompleted || *episode == o.episode
            }
            _ => false,
        };
        found
            .extend(self.announcing(o.plan, o.event).iter().filter(|e| same_episode(e)).map(|e| (e.seq, *e)));
        found.into_values().collect()
    }

    /// The `SendStarted` entries carrying `id`.
    pub(super) fn with_id(&self, id: &str) -> &[&'a Entry] {
        self.started_by_id.get(id).map_or(&[], Vec::as_slice)
    }

    /// The tries that may have sent `request` ([`Sends::sent`]).
    pub(super) fn for_request(&self, request: &Request) -> Vec<&'a Entry> {
        // Only a try with the request's id, or one that announced what the request
        // names, can have sent it.
        let candidates = match (request.webhook_id.as_deref(), request.plan, request.event) {
            (Some(id), ..) => self.with_id(id),
            (None, Some(plan), Some(event)) => self.announcing(plan, event),
            (None, ..) => &[],
        };
        candidates.iter().copied().filter(|e| self.sent(e, request)).collect()
    }

    /// Whether the try `started` may have sent `request`: the request carries the
    /// try's id; or, the try gone without id, the request carries none, names the
    /// event the try announces and arrived while it was in flight (at or after its
    /// start, and not after its answer, if one was logged).
    pub(super) fn sent(&self, started: &Entry, request: &Request) -> bool {
        let Event::SendStarted { plan, event, episode, webhook_id, id_omitted, .. } = &started.event else {
            return false;
        };
        match request.webhook_id.as_deref() {
            Some(id) => id == webhook_id,
            None => {
                *id_omitted
                    && (request.plan, request.event, request.episode)
                        == (Some(*plan), Some(*event), Some(*episode))
                    && started.at <= request.at
                    && self.answer(started).is_none_or(|answer| request.at <= answer.at)
            }
        }
    }

    /// The `SendFinished` entries for `id`.
    pub(super) fn finished(&self, id: &str) -> &[&'a Entry] {
        self.finished.get(id).map_or(&[], Vec::as_slice)
    }

    /// The `SendFinished` that answers a `SendStarted`: same id and attempt, after it.
    pub(super) fn answer(&self, started: &Entry) -> Option<&'a Entry> {
        let Event::SendStarted { webhook_id, attempt, .. } = &started.event else { return None };
        self.finished(webhook_id).iter().copied().find(|f| {
            f.seq > started.seq && matches!(&f.event, Event::SendFinished { attempt: a, .. } if a == attempt)
        })
    }

    /// The `SendAbandoned` entries for `id`.
    pub(super) fn abandoned(&self, id: &str) -> &[&'a Entry] {
        self.abandoned.get(id).map_or(&[], Vec::as_slice)
    }
}

/// The `webhook-id` a send entry carries.
pub(super) fn webhook_id(entry: &Entry) -> Option<&str> {
    match &entry.event {
        Event::SendStarted { webhook_id, .. }
        | Event::SendFinished { webhook_id, .. }
        | Event::SendAbandoned { webhook_id, .. } => Some(webhook_id),
        _ => None,
    }
}

/// Whether a `SendFinished` entry says the endpoint accepted.
pub(super) fn was_accepted(entry: &Entry) -> bool {
    matches!(entry.event, Event::SendFinished { accepted: true, .. })
}
