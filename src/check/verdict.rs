//! One event's verdict, from the requests that matched it and the send attempts the
//! history recorded for it.
//!
//! - `ambiguous`: the writes that owe it overlapped (decided in `owed`).
//! - `duplicate`: two or more distinct accepted `webhook-id`s (each accepted request
//!   without an id is a delivery of its own: nothing tells it from another), or,
//!   after the history recorded an id's success, a fresh announcement of it (a first
//!   try) or another try by a sender that saw a success of it (one it logged). A
//!   redelivery by a sender that never saw one (it numbers its tries on from the
//!   last) is a retry: receivers dedupe it on the id.
//! - none accepted: `undeliverable` when it was sent, every answer was a refusal
//!   (the last attempt's included) and the endpoint accepted nothing after the last
//!   attempt; otherwise `lost`.
//! - one: `late` past the deadline unless an attempt was refused or timed out inside
//!   the window; else `retried` if it took several attempts; else `delivered`.

use std::collections::BTreeSet;
use std::time::Duration;

use super::matching::MatchedEvent;
use super::sends::{Sends, was_accepted, webhook_id};
use super::{EventReport, Request, Verdict, Witness};
use crate::history::{Entry, Event, Seq};

/// Whether a `SendStarted` entry is the first try of an announcement.
fn first_try(entry: &Entry) -> bool {
    matches!(entry.event, Event::SendStarted { attempt: 1, .. })
}

/// One event, judged.
#[derive(Debug)]
pub(super) struct Judged<'a> {
    /// The verdict.
    pub(super) verdict: Verdict,
    /// Its `SendStarted` entries, in log order.
    pub(super) started: Vec<&'a Entry>,
    /// Each distinct accepted delivery: the first accepted request of each id, and
    /// every accepted request without one.
    pub(super) accepted: Vec<&'a Request>,
    /// A send after the history recorded that id's success: (success, re-send).
    pub(super) resend: Option<(Seq, Seq)>,
    /// Refused or timed-out attempts inside the deadline window (excusing lateness).
    pub(super) excused: bool,
    /// Matched requests whose signature did not verify.
    pub(super) bad_signatures: usize,
}

/// Judges `m`, given when the receiver last accepted a request, of any event (for
/// `undeliverable`).
pub(super) fn judge<'a>(
    m: &MatchedEvent<'a>,
    sends: &Sends<'a>,
    last_accepted: Option<Duration>,
    deadline: Duration,
) -> Judged<'a> {
    let started = sends.for_event(m);
    let ids: BTreeSet<&str> = started
        .iter()
        .filter_map(|e| webhook_id(e))
        .chain(m.requests.iter().filter_map(|r| r.webhook_id.as_deref()))
        .collect();

    let mut accepted: Vec<&'a Request> = Vec::new();
    for r in m.requests.iter().copied().filter(|r| r.accepted) {
        let id = r.webhook_id.as_deref();
        if id.is_none() || !accepted.iter().any(|seen| seen.webhook_id.as_deref() == id) {
            accepted.push(r);
        }
    }
    // After the id's first recorded success, a send that starts a fresh announcement
    // (its first try), or any send by a sender that saw a success of the id (one it
    // logged, the first or a later one), is a second delivery; a later try by a
    // sender that never saw one (a redelivery, which continues the numbering) is the
    // same delivery retried.
    let resend = ids.iter().find_map(|id| {
        let successes: Vec<&Entry> = sends.finished(id).iter().copied().filter(|e| was_accepted(e)).collect();
        let first = successes.iter().min_by_key(|e| e.seq)?;
        sends.with_id(id).iter().filter(|e| e.seq > first.seq).find_map(|e| {
            let seen = successes.iter().filter(|s| s.by == e.by && s.seq < e.seq).max_by_key(|s| s.seq);
            match seen {
                Some(seen) => Some((seen.seq, e.seq)),
                None => first_try(e).then_some((first.seq, e.seq)),
            }
        })
    });
    let excused = m.owed.caused_at.is_some_and(|cause| {
        let window = cause..=cause.saturating_add(deadline);
        let refused_send =
            ids.iter().flat_map(|id| sends.finished(id)).any(|e| !was_accepted(e) && window.contains(&e.at));
        let refused_request = m.requests.iter().any(|r| !r.accepted && window.contains(&r.at));
        refused_send || refused_request
    });

    let before_certain_cause =
        m.owed.maybe_earlier.as_ref().is_some_and(|(t, _)| accepted.iter().any(|r| r.at < *t));
    let verdict = if m.owed.ambiguous.is_some() || before_certain_cause {
        Verdict::Ambiguous
    } else if accepted.len() >= 2 || resend.is_some() {
        Verdict::Duplicate
    } else if let Some(first) = accepted.first() {
        let waited = m.owed.caused_at.map(|c| first.at.saturating_sub(c));
        let id = first.webhook_id.as_deref();
        let tries = m.requests.iter().filter(|r| r.webhook_id.as_deref() == id && id.is_some()).count();
        if waited.is_some_and(|w| w > deadline) && !excused {
            Verdict::Late
        } else if tries > 1 || started.len() > 1 {
            Verdict::Retried
        } else {
            Verdict::Delivered
        }
    } else {
        // Undeliverable only when the endpoint answered the last attempt with a
        // refusal (or let it time out): a send cut short by a crash is the sender's
        // failure, whatever the endpoint would have said.
        let all_refused = ids.iter().flat_map(|id| sends.finished(id)).all(|e| !was_accepted(e));
        let last = started.iter().max_by_key(|e| (e.at, e.seq));
        let refused_last = last.is_some_and(|e| sends.answer(e).is_some_and(|a| !was_accepted(a)));
        let accepted_after = |last: &Entry| last_accepted.is_some_and(|at| at > last.at);
        match last {
            Some(last) if all_refused && refused_last && !accepted_after(last) => Verdict::Undeliverable,
            _ => Verdict::Lost,
        }
    };
    let bad_signatures = m.requests.iter().filter(|r| !r.signature_ok).count();
    Judged { verdict, started, accepted, resend, excused, bad_signatures }
}

impl Judged<'_> {
    /// When the first accepted request arrived.
    pub(super) fn delivered_at(&self) -> Option<Duration> {
        self.accepted.iter().map(|r| r.at).min()
    }

    /// The report for `m`, with its witness.
    pub(super) fn into_report(self, m: &MatchedEvent<'_>, witness: Witness) -> EventReport {
        let delivered_at = self.delivered_at();
        let latency = delivered_at.zip(m.owed.caused_at).map(|(d, c)| d.saturating_sub(c));
        EventReport {
            plan: m.owed.plan,
            event: m.owed.event,
            episode: m.owed.episode,
            verdict: self.verdict,
            attempts: self.started.len() as u32,
            deliveries: self.accepted.len() as u32,
            caused_at: m.owed.caused_at,
            delivered_at,
            latency,
            witness,
        }
    }
}
