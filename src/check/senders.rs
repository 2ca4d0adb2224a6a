//! Deliveries as the senders saw them, for runs whose endpoint is outside hasim.
//!
//! With `[webhook] url`, hasim keeps no receiver log: all it knows of a delivery is
//! what the replica that sent it saw. [`senders_view`] makes the checker's
//! [`Request`]s from that: every try the sender saw accepted is a request accepted at
//! the moment the sender saw the answer. Refused tries need no request: the checker
//! reads them from the history's `SendFinished` entries. What the endpoint did with a
//! request whose answer never reached its sender is unknown.

use std::collections::HashMap;

use super::Request;
use crate::history::{Entry, Event};
use crate::model::{EventType, PlanId, ReplicaId};

/// What a `SendStarted` entry announces: plan, event type, episode.
type Announced = (PlanId, EventType, u32);

/// The tries started so far, by `webhook-id` and attempt: who sent each, what, and
/// whether the request carried the id.
type Started<'a> = HashMap<(&'a str, u32), Vec<(Option<&'a ReplicaId>, Announced, bool)>>;

/// The requests the senders of `history` saw accepted, in history order: one per
/// `SendFinished` with `accepted`, at its time, naming the plan, event type and
/// episode of the `SendStarted` it answers (same `webhook-id` and attempt, the latest
/// one before it, by the same replica when there is one). Signatures count as
/// verified; a PIPELINE_FAILED request names no failed task (the history does not
/// say which the payload named); a request sent without its id (`id = "none"`) has
/// none. An accepted answer to no logged try is left out.
pub fn senders_view(history: &[Entry]) -> Vec<Request> {
    let mut started = Started::new();
    let mut requests = Vec::new();
    for entry in history {
        match &entry.event {
            Event::SendStarted { plan, event, episode, webhook_id, attempt, id_omitted } => {
                let tries = started.entry((webhook_id.as_str(), *attempt)).or_default();
                tries.push((entry.by.as_ref(), (*plan, *event, *episode), !id_omitted));
            }
            Event::SendFinished { webhook_id, attempt, accepted: true, .. } => {
                let Some(tries) = started.get(&(webhook_id.as_str(), *attempt)) else { continue };
                let by_sender = tries.iter().rev().find(|(by, ..)| *by == entry.by.as_ref());
                let Some((_, (plan, event, episode), with_id)) = by_sender.or(tries.last()) else { continue };
                requests.push(Request {
                    at: entry.at,
                    webhook_id: with_id.then(|| webhook_id.clone()),
                    plan: Some(*plan),
                    event: Some(*event),
                    episode: Some(*episode),
                    failed_tasks: Vec::new(),
                    accepted: true,
                    signature_ok: true,
                });
            }
            _ => {}
        }
    }
    requests
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::history::Seq;

    fn entry(seq: Seq, by: &str, event: Event) -> Entry {
        let by = Some(ReplicaId(by.into()));
        Entry { seq, at: Duration::from_millis(10 * seq), by, event }
    }

    fn started(seq: Seq, by: &str, plan: i64, episode: u32, attempt: u32) -> Entry {
        let (plan, event) = (PlanId(plan), EventType::PipelineFailed);
        let webhook_id = crate::webhook::webhook_id(plan, event, episode);
        entry(seq, by, Event::SendStarted { plan, event, episode, webhook_id, attempt, id_omitted: false })
    }

    fn finished(seq: Seq, by: &str, plan: i64, episode: u32, attempt: u32, accepted: bool) -> Entry {
        let webhook_id = crate::webhook::webhook_id(PlanId(plan), EventType::PipelineFailed, episode);
        let outcome = if accepted { "200" } else { "500" }.to_owned();
        entry(seq, by, Event::SendFinished { webhook_id, attempt, accepted, outcome })
    }

    fn announced(requests: &[Request]) -> Vec<(Duration, PlanId, u32)> {
        requests.iter().map(|r| (r.at, r.plan.unwrap(), r.episode.unwrap())).collect()
    }

    #[test]
    fn an_accepted_try_is_a_request_at_the_answer_naming_what_its_try_announced() {
        let history = [started(0, "r1", 7, 2, 1), finished(1, "r1", 7, 2, 1, true)];
        let requests = senders_view(&history);
        let expected = Request {
            at: Duration::from_millis(10),
            webhook_id: Some("msg_plan7_failed_ep2".into()),
            plan: Some(PlanId(7)),
            event: Some(EventType::PipelineFailed),
            episode: Some(2),
            failed_tasks: Vec::new(),
            accepted: true,
            signature_ok: true,
        };
        assert_eq!(requests, [expected]);
    }

    #[test]
    fn refused_and_unanswered_tries_are_no_requests() {
        let history = [
            started(0, "r1", 1, 1, 1),
            finished(1, "r1", 1, 1, 1, false),
            started(2, "r1", 1, 1, 2),
            started(3, "r2", 2, 1, 1),
        ];
        assert_eq!(senders_view(&history), []);
    }

    #[test]
    fn every_accepted_try_counts_once_whoever_sent_it() {
        // Two replicas announce the same event (one id, both first tries): two
        // accepted requests, the checker's duplicate.
        let history = [
            started(0, "r1", 1, 1, 1),
            started(1, "r2", 1, 1, 1),
            finished(2, "r2", 1, 1, 1, true),
            finished(3, "r1", 1, 1, 1, true),
            started(4, "r1", 1, 2, 1),
            finished(5, "r1", 1, 2, 1, false),
            started(6, "r1", 1, 2, 2),
            finished(7, "r1", 1, 2, 2, true),
        ];
        let ms = Duration::from_millis;
        let expected = [(ms(20), PlanId(1), 1), (ms(30), PlanId(1), 1), (ms(70), PlanId(1), 2)];
        assert_eq!(announced(&senders_view(&history)), expected);
    }

    #[test]
    fn an_answer_belongs_to_the_try_of_the_replica_that_got_it() {
        // r1 and r2 both send id `x` as their first try, announcing different
        // episodes (an id that does not name the episode); r1's answer comes after
        // r2's try, and names what r1 sent.
        let send = |seq, by, episode| {
            let (plan, event, webhook_id) = (PlanId(1), EventType::PipelineFailed, "x".to_owned());
            entry(
                seq,
                by,
                Event::SendStarted { plan, event, episode, webhook_id, attempt: 1, id_omitted: false },
            )
        };
        let accepted = |seq, by| {
            let outcome = "200".to_owned();
            entry(
                seq,
                by,
                Event::SendFinished { webhook_id: "x".into(), attempt: 1, accepted: true, outcome },
            )
        };
        let history = [send(0, "r1", 1), send(1, "r2", 2), accepted(2, "r1"), accepted(3, "r2")];
        let ms = Duration::from_millis;
        assert_eq!(announced(&senders_view(&history)), [(ms(20), PlanId(1), 1), (ms(30), PlanId(1), 2)]);
    }

    #[test]
    fn an_accepted_answer_to_no_logged_try_is_left_out() {
        let history = [started(0, "r1", 1, 1, 1), finished(1, "r1", 1, 1, 2, true)];
        assert_eq!(senders_view(&history), []);
    }
}
