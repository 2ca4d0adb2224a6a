//! Witnesses: for each verdict, the few history entries that show it and a one-line
//! story of them, e.g. `PIPELINE_FAILED plan 3 ep 1: run 7 FAILED at #41 (r2); r2 won
//! the claim at #43; r2 crashed at #44 (after-claim); no send`.
//!
//! Which parts a story tells depends on the verdict: a `lost` event names the claims,
//! sends, crashes and faults; a `duplicate` the claims won and the distinct sends; a
//! `delivered` one just the cause, the send and the latency.

use std::collections::BTreeSet;

use super::matching::{MatchedEvent, Stray};
use super::owed::Owed;
use super::sends::{Sends, webhook_id};
use super::story::{Lines, Story, who};
use super::verdict::Judged;
use super::{EventReport, Request, Verdict, Witness};
use crate::history::{Entry, Event, Seq};
use crate::model::{EventType, PlanId};

impl Story<'_> {
    /// The witness of an owed (or possibly owed) event.
    pub(super) fn event(
        &self,
        m: &MatchedEvent<'_>,
        j: &Judged<'_>,
        sends: &Sends<'_>,
        owed: &Owed,
    ) -> Witness {
        let o = &m.owed;
        let mut lines = Lines::default();
        let mut involved = BTreeSet::new();
        // The story is what came after `from`: from the cause's place on (for a cause
        // resolved after the run, its invocation: it committed somewhere after).
        let from =
            o.causes.first().and_then(|s| self.entry(*s)).map_or(0, |e| self.place(e).saturating_sub(1));
        let to = owed.next_cause(o).unwrap_or(Seq::MAX);
        self.cause(o, &mut lines, &mut involved);
        for e in &j.started {
            involved.insert(who(e));
        }
        match j.verdict {
            Verdict::Lost => {
                self.claims(o, from, to, false, &mut lines, &mut involved);
                self.sends(&j.started, sends, &mut lines);
                self.faults(from, &involved, &mut lines);
                let stray = j.started.iter().find_map(|e| {
                    let accepted = self.lookup.accepted_for(e).any(|r| sends.sent(e, r));
                    accepted.then(|| webhook_id(e)).flatten()
                });
                if j.started.is_empty() {
                    self.no_claim(o, from, to, &mut lines);
                    lines.trailers.push("no send".into());
                } else if let Some(id) = stray {
                    lines.trailers.push(format!("{id} was accepted but is unexpected (see stray)"));
                } else if let Some(r) = self.accepted_after(&j.started) {
                    let id = name(r, sends);
                    lines
                        .trailers
                        .push(format!("the sender stopped, yet the endpoint accepted {id} at {:?}", r.at));
                }
            }
            Verdict::Undeliverable => {
                self.sends(&j.started, sends, &mut lines);
                self.faults(from, &involved, &mut lines);
                lines
                    .trailers
                    .push("every attempt refused; the endpoint accepted nothing after the last".into());
            }
            Verdict::Duplicate => {
                self.claims(o, from, to, true, &mut lines, &mut involved);
                let firsts: Vec<&Entry> = first_per_id(&j.started);
                self.sends(&firsts, sends, &mut lines);
                self.faults(from, &involved, &mut lines);
                if let Some((success, again)) = j.resend
                    && let Some(e) = self.entry(again)
                {
                    let id = webhook_id(e).unwrap_or("?");
                    lines.add(
                        again,
                        format!("{} sent {id} again at #{again}, after its success at #{success}", who(e)),
                    );
                }
                if j.accepted.len() >= 2 {
                    let list: Vec<String> =
                        j.accepted.iter().map(|r| format!("{} at {:?}", name(r, sends), r.at)).collect();
                    lines.trailers.push(format!("receiver accepted {}", list.join(" and ")));
                }
            }
            Verdict::Late => {
                self.sends(&j.started, sends, &mut lines);
                self.faults(from, &involved, &mut lines);
                if let (Some(d), Some(c)) = (j.delivered_at(), o.caused_at) {
                    let waited = d.saturating_sub(c);
                    lines.trailers.push(format!(
                        "accepted at {d:?}, {waited:?} after the cause (deadline {:?})",
                        self.deadline
                    ));
                }
            }
            Verdict::Retried | Verdict::Delivered => {
                self.sends(&j.started, sends, &mut lines);
                if let (Some(d), Some(c)) = (j.delivered_at(), o.caused_at) {
                    lines.trailers.push(format!("accepted at {d:?}, latency {:?}", d.saturating_sub(c)));
                }
                if j.verdict == Verdict::Retried && j.excused {
                    self.faults(from, &involved, &mut lines);
                }
            }
            Verdict::Ambiguous => {
                let why = o.ambiguous.as_deref().or(o.maybe_earlier.as_ref().map(|(_, why)| why.as_str()));
                lines.lead = Some(format!("ambiguous: {}", why.unwrap_or("unknown order")));
                lines.silent.extend(std::mem::take(&mut lines.items).into_keys());
                lines.silent.extend(&o.related);
            }
            // Events are never judged these: strays and payloads have witnesses of their own.
            Verdict::Unexpected | Verdict::WrongPayload => {}
        }
        if j.bad_signatures > 0 {
            lines.trailers.push(format!("note: {} request(s) with a bad signature", j.bad_signatures));
        }
        if let Some(facts) = owed.plans.get(&o.plan) {
            facts.notes.iter().for_each(|n| lines.trailers.push(format!("note: {n}")));
            lines.silent.extend(&facts.note_entries);
        }
        lines.witness(label(o.plan, o.event, o.episode))
    }

    /// The report of a group of unexpected requests.
    pub(super) fn stray(&self, s: &Stray<'_>, sends: &Sends<'_>) -> EventReport {
        let first = s.requests[0];
        let (plan, event) =
            (first.plan.unwrap_or(PlanId(0)), first.event.unwrap_or(EventType::PipelineFailed));
        let episode = first.episode.unwrap_or(0);
        let id = first.webhook_id.as_deref();
        let started = sends.for_request(first);
        let mut lines = Lines { lead: Some(s.reason.clone()), ..Lines::default() };
        if let Some(e) = started.first() {
            if let Some(c @ Entry { event: Event::ClaimAttempted { event, .. }, .. }) = self.claim_before(e) {
                lines.add(c.seq, format!("{} won the {event} claim at #{}", who(c), c.seq));
            }
            lines.add(e.seq, format!("{} sent it at #{}", who(e), e.seq));
        }
        if started.len() > 1 {
            lines.trailers.push(format!("{} attempts", started.len()));
        }
        let bad = s.requests.iter().filter(|r| !r.signature_ok).count();
        if bad > 0 {
            lines.trailers.push(format!("note: {bad} request(s) with a bad signature"));
        }
        let delivered_at = s.requests.iter().find(|r| r.accepted).map(|r| r.at);
        let head = format!("unexpected {} ({})", label(plan, event, episode), id.unwrap_or("no webhook-id"));
        let witness = lines.witness(head);
        EventReport {
            plan,
            event,
            episode,
            verdict: Verdict::Unexpected,
            attempts: started.len() as u32,
            deliveries: u32::from(delivered_at.is_some()),
            caused_at: None,
            delivered_at,
            latency: None,
            witness,
        }
    }
}

/// "PIPELINE_FAILED plan 3 ep 1".
fn label(plan: PlanId, event: EventType, episode: u32) -> String {
    format!("{event} plan {plan} ep {episode}")
}

/// A request, for people: its `webhook-id`; without one, the id of the delivery that
/// sent it, as the history names it, marked as sent without it.
fn name(request: &Request, sends: &Sends<'_>) -> String {
    match &request.webhook_id {
        Some(id) => id.clone(),
        None => sends
            .for_request(request)
            .first()
            .and_then(|e| webhook_id(e))
            .map_or_else(|| "a request without id".to_owned(), |id| format!("{id} (sent without id)")),
    }
}

/// The first `SendStarted` of each distinct id, and every try sent without an id
/// (each may have been a delivery of its own).
fn first_per_id<'e>(started: &[&'e Entry]) -> Vec<&'e Entry> {
    let mut seen = BTreeSet::new();
    started
        .iter()
        .copied()
        .filter(|e| {
            matches!(e.event, Event::SendStarted { id_omitted: true, .. }) || seen.insert(webhook_id(e))
        })
        .collect()
}
