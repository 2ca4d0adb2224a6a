//! The history and the receiver's log grouped once for the storyteller: entries by
//! the plan, run or replica they concern, and the accepted requests by time, so that
//! a witness reads the few entries of its own plan and replicas, never the whole
//! history. Each group keeps log order (requests, arrival order), so a story reads
//! the same as one told from a walk of the whole history.

use std::collections::HashMap;
use std::time::Duration;

use super::Request;
use super::story::who;
use crate::history::{Entry, Event, Seq};
use crate::model::{EventType, PlanId, RunId};

/// The groups, each in log order.
#[derive(Debug, Default)]
pub(super) struct Lookup<'a> {
    /// The first `RunStarted` of each run: who held it.
    pub(super) holders: HashMap<RunId, &'a Entry>,
    /// `RunEnded` entries that replaced an end (unfenced writes), by run.
    pub(super) overwrites: HashMap<RunId, Vec<&'a Entry>>,
    /// `Crashed` entries by the replica that crashed.
    crashes: HashMap<&'a str, Vec<&'a Entry>>,
    /// Claims, claim resets and completion checks, by plan.
    plan_entries: HashMap<PlanId, Vec<&'a Entry>>,
    /// Crashes by the replica that crashed, and store failures and cut-off writes by
    /// the replica that logged them: the trouble a story names for a replica.
    troubles: HashMap<String, Vec<&'a Entry>>,
    /// `FaultStarted` entries.
    pub(super) fault_starts: Vec<&'a Entry>,
    /// `FaultEnded` entries, as (entry, fault index).
    pub(super) fault_ends: Vec<(Seq, usize)>,
    /// Accepted requests by (id, plan, event, episode) they can be matched on: by
    /// `webhook-id`, and those without one by the event their payload names.
    accepted_by_id: HashMap<&'a str, Vec<&'a Request>>,
    accepted_by_event: HashMap<(PlanId, EventType, u32), Vec<&'a Request>>,
    /// Accepted requests sorted by arrival time, each with its position in the log.
    accepted_by_time: Vec<(Duration, usize)>,
    /// For each position of `accepted_by_time`, the earliest log position from there on.
    first_from: Vec<usize>,
}

impl<'a> Lookup<'a> {
    /// Groups `history` and `requests`.
    pub(super) fn new(history: &'a [Entry], requests: &'a [Request]) -> Self {
        let mut l = Lookup::default();
        for e in history {
            match &e.event {
                Event::RunStarted { run, .. } => {
                    l.holders.entry(*run).or_insert(e);
                }
                Event::RunEnded { run, overwrote: Some(_), .. } => {
                    l.overwrites.entry(*run).or_default().push(e)
                }
                Event::Crashed { replica, .. } => {
                    l.crashes.entry(replica.as_str()).or_default().push(e);
                    l.troubles.entry(replica.as_str().to_owned()).or_default().push(e);
                }
                Event::StoreFailed { .. } | Event::StoreDropped { .. } => {
                    l.troubles.entry(who(e)).or_default().push(e)
                }
                Event::ClaimAttempted { plan, .. }
                | Event::ClaimReset { plan, .. }
                | Event::CompletionChecked { plan, .. } => l.plan_entries.entry(*plan).or_default().push(e),
                Event::FaultStarted { .. } => l.fault_starts.push(e),
                Event::FaultEnded { fault } => l.fault_ends.push((e.seq, *fault)),
                _ => {}
            }
        }
        for (i, r) in requests.iter().enumerate().filter(|(_, r)| r.accepted) {
            match (r.webhook_id.as_deref(), r.plan, r.event, r.episode) {
                (Some(id), ..) => l.accepted_by_id.entry(id).or_default().push(r),
                (None, Some(plan), Some(event), Some(episode)) => {
                    l.accepted_by_event.entry((plan, event, episode)).or_default().push(r)
                }
                _ => {}
            }
            l.accepted_by_time.push((r.at, i));
        }
        l.accepted_by_time.sort();
        l.first_from = vec![usize::MAX; l.accepted_by_time.len()];
        let mut first = usize::MAX;
        for k in (0..l.accepted_by_time.len()).rev() {
            first = first.min(l.accepted_by_time[k].1);
            l.first_from[k] = first;
        }
        l
    }

    /// The claims, claim resets and completion checks of `plan`.
    pub(super) fn of_plan(&self, plan: PlanId) -> &[&'a Entry] {
        self.plan_entries.get(&plan).map_or(&[], Vec::as_slice)
    }

    /// The crashes of `replica` before entry `seq`.
    pub(super) fn crashes_before(&self, replica: &str, seq: Seq) -> &[&'a Entry] {
        let crashes = self.crashes.get(replica).map_or(&[][..], Vec::as_slice);
        &crashes[..crashes.partition_point(|e| e.seq < seq)]
    }

    /// The first `max` crashes, store failures and cut-off writes of `replica` after
    /// entry `from`.
    pub(super) fn troubles_after(&self, replica: &str, from: Seq, max: usize) -> &[&'a Entry] {
        let troubles = self.troubles.get(replica).map_or(&[][..], Vec::as_slice);
        let after = &troubles[troubles.partition_point(|e| e.seq <= from)..];
        &after[..after.len().min(max)]
    }

    /// The accepted requests that the try `started` may have sent: those with its id,
    /// and, for a try sent without one, those without id that name its event.
    pub(super) fn accepted_for(&self, started: &Entry) -> impl Iterator<Item = &'a Request> + '_ {
        let (with_id, without): (&[&Request], &[&Request]) = match &started.event {
            Event::SendStarted { plan, event, episode, webhook_id, id_omitted, .. } => {
                let by_id = self.accepted_by_id.get(webhook_id.as_str()).map_or(&[][..], Vec::as_slice);
                let by_event = match id_omitted {
                    true => {
                        self.accepted_by_event.get(&(*plan, *event, *episode)).map_or(&[][..], Vec::as_slice)
                    }
                    false => &[],
                };
                (by_id, by_event)
            }
            _ => (&[], &[]),
        };
        with_id.iter().chain(without).copied()
    }

    /// The position in the log of the first accepted request (in arrival order) that
    /// arrived after `at`.
    pub(super) fn first_accepted_after(&self, at: Duration) -> Option<usize> {
        let from = self.accepted_by_time.partition_point(|(t, _)| *t <= at);
        self.first_from.get(from).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(at_ms: u64, accepted: bool) -> Request {
        Request {
            at: Duration::from_millis(at_ms),
            webhook_id: Some(format!("msg_{at_ms}")),
            plan: Some(PlanId(1)),
            event: Some(EventType::PipelineFailed),
            episode: Some(1),
            failed_tasks: Vec::new(),
            accepted,
            signature_ok: true,
        }
    }

    #[test]
    fn the_first_accepted_request_after_a_moment_is_the_first_in_arrival_order() {
        // Arrival order need not be time order: the log's first match wins.
        let requests = [request(50, true), request(30, true), request(70, false), request(40, true)];
        let lookup = Lookup::new(&[], &requests);
        let ms = Duration::from_millis;
        let first = |at| lookup.first_accepted_after(ms(at));
        let scan = |at| requests.iter().position(|r| r.accepted && r.at > ms(at));
        for at in [0, 29, 30, 35, 40, 45, 50, 60, 80] {
            assert_eq!(first(at), scan(at), "after {at} ms");
        }
    }
}
