//! The builder's sends and the receiver's requests, and how the checker pairs tries with answers.

use super::{F, H, STEP};
use crate::check::Request;
use crate::check::sends::Sends;
use crate::history::Event;
use crate::model::{EventType, PlanId};

impl H {
    /// A `SendStarted` of `id` announcing (plan, event, episode).
    pub(super) fn send(&mut self, id: &str, plan: i64, event: EventType, episode: u32) -> &mut Self {
        let slot = self.sent.entry(id.into()).or_insert((PlanId(plan), event, episode, 0));
        slot.3 += 1;
        let attempt = slot.3;
        let id_omitted = self.omit_ids;
        self.push(Event::SendStarted {
            plan: PlanId(plan),
            event,
            episode,
            webhook_id: id.into(),
            attempt,
            id_omitted,
        });
        self
    }

    /// A `SendStarted` of an id already sent, numbered `attempt` whatever the tries
    /// before it (a sender that numbers its own tries: `1` starts afresh, a higher
    /// number continues another sender's numbering).
    pub(super) fn send_numbered(&mut self, id: &str, attempt: u32) -> &mut Self {
        let (plan, event, episode, _) = self.sent[id];
        self.sent.get_mut(id).expect("sent before").3 = attempt;
        self.push(Event::SendStarted {
            plan,
            event,
            episode,
            webhook_id: id.into(),
            attempt,
            id_omitted: self.omit_ids,
        });
        self
    }

    /// Another `SendStarted` of an id already sent.
    pub(super) fn resend(&mut self, id: &str) -> &mut Self {
        let (plan, event, episode, _) = self.sent[id];
        self.send(id, plan.0, event, episode)
    }

    pub(super) fn finish(&mut self, id: &str, accepted: bool, outcome: &str) -> &mut Self {
        let attempt = self.sent[id].3;
        self.push(Event::SendFinished { webhook_id: id.into(), attempt, accepted, outcome: outcome.into() });
        self
    }

    pub(super) fn abandon(&mut self, id: &str) -> &mut Self {
        let attempts = self.sent[id].3;
        self.push(Event::SendAbandoned { webhook_id: id.into(), attempts, reason: "out of tries".into() });
        self
    }

    /// From here on, requests go without `webhook-id` (`id` only names the delivery
    /// in the history).
    pub(super) fn without_ids(&mut self) -> &mut Self {
        self.omit_ids = true;
        self
    }

    /// The receiver gets a request of `id`, with the payload its send announced.
    pub(super) fn receive(&mut self, id: &str, accepted: bool) -> &mut Self {
        let (plan, event, episode, _) = self.sent[id];
        let failed_tasks = if event == F {
            self.failed.get(&(plan, episode)).cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        self.now += STEP;
        self.requests.push(Request {
            at: self.now,
            webhook_id: (!self.omit_ids).then(|| id.into()),
            plan: Some(plan),
            event: Some(event),
            episode: Some(episode),
            failed_tasks,
            accepted,
            signature_ok: true,
        });
        self
    }

    /// Send, accepted by the receiver, success recorded.
    pub(super) fn deliver(&mut self, id: &str, plan: i64, event: EventType, episode: u32) -> &mut Self {
        self.send(id, plan, event, episode).receive(id, true).finish(id, true, "204")
    }

    /// Another attempt of `id`, refused by the receiver.
    pub(super) fn refused(&mut self, id: &str) -> &mut Self {
        self.resend(id).receive(id, false).finish(id, false, "503")
    }

    /// The last request, changed.
    pub(super) fn tweak(&mut self, f: impl FnOnce(&mut Request)) -> &mut Self {
        f(self.requests.last_mut().expect("a request"));
        self
    }
}

/// A try is answered only by a later answer of its own attempt number.
#[test]
fn a_try_is_answered_only_by_a_later_answer_of_its_attempt() {
    let mut h = H::new();
    // r1's first try is answered at #1; r2 starts afresh (attempt 1 again) at #2 and
    // gets no answer; r1's second try is answered at #4.
    h.on("r1").send("x", 1, F, 1).finish("x", true, "204");
    h.on("r2").send_numbered("x", 1);
    h.on("r1").send_numbered("x", 2).finish("x", true, "204");
    let sends = Sends::index(&h.entries);
    let answer = |i: usize| sends.answer(&h.entries[i]).map(|f| f.seq);
    assert_eq!(answer(0), Some(1));
    assert_eq!(answer(2), None, "the earlier answer of attempt 1 was r1's, before this try");
    assert_eq!(answer(3), Some(4));
}
