//! History entries and receiver requests turned into the items of the timeline's
//! lanes: a task run from the replica taking it to its end, a send from its try to its
//! answer, a replica's down time from its crash to its restart; every other entry as a
//! mark where it happened.

use std::collections::{BTreeMap, HashMap};

use super::lanes::Lanes;
use super::model::{Item, ItemKind, Lane, RECEIVER, USER, lane_of};
use crate::history::{Entry, Event};
use crate::model::PlanId;
use crate::store::Claim;
use crate::webhook::{Answer, ReceivedRequest};

/// The lanes of a run with `replicas` replicas, filled from its `history` and the
/// receiver's `requests`; `index` maps plan ids to scenario indices.
pub(super) fn lanes(
    replicas: usize,
    history: &[Entry],
    requests: &[ReceivedRequest],
    index: &HashMap<PlanId, usize>,
) -> Vec<Lane> {
    let mut lanes = Lanes::new(replicas);
    let mut builder = Builder { index, open_runs: HashMap::new(), open_sends: BTreeMap::new() };
    for entry in history {
        builder.entry(entry, &mut lanes);
    }
    for (i, request) in requests.iter().enumerate() {
        lanes.push(RECEIVER, delivery(i, request, index));
    }
    lanes.close_down_spans();
    lanes.ordered()
}

/// Turns history entries into items, pairing run starts with ends and sends with answers.
struct Builder<'a> {
    /// Plan ids to scenario indices.
    index: &'a HashMap<PlanId, usize>,
    /// Runs started and not yet ended, by run id: where their bar is.
    open_runs: HashMap<i64, (String, usize)>,
    /// Tries not yet answered, by (lane, webhook id, attempt): where their mark is.
    /// Ordered, so that an answer from another lane pairs the same way every time.
    open_sends: BTreeMap<(String, String, u32), (String, usize)>,
}

impl Builder<'_> {
    /// Draws `entry`: a new item, or the end of an open run or send.
    fn entry(&mut self, entry: &Entry, lanes: &mut Lanes) {
        let by = entry.by.as_ref().map_or(USER, lane_of).to_owned();
        let plan = |id: &PlanId| self.index.get(id).copied();
        let item = |kind, outcome, plan, event| Item {
            kind,
            at: entry.at,
            until: None,
            outcome,
            event,
            plan,
            entries: vec![entry.seq],
            request: None,
            violations: Vec::new(),
        };
        let new = match &entry.event {
            Event::RunStarted { run, plan: p, .. } => {
                let at = lanes.push(&by, item(ItemKind::Run, "running", plan(p), None));
                self.open_runs.insert(run.0, at);
                return;
            }
            Event::RunEnded { run, plan: p, status, by_cleaner, .. } => {
                let outcome = if *by_cleaner { "abandoned" } else { status_word(status.as_str()) };
                if let Some(at) = self.open_runs.remove(&run.0) {
                    let started = lanes.item(&at);
                    (started.until, started.outcome) = (Some(entry.at), outcome);
                    started.entries.push(entry.seq);
                    return;
                }
                Item { until: Some(entry.at), ..item(ItemKind::Run, outcome, plan(p), None) }
            }
            Event::ClaimAttempted { plan: p, event, claim, .. } => {
                let won = matches!(claim, Claim::Won);
                item(ItemKind::Claim, if won { "won" } else { "lost" }, plan(p), Some(*event))
            }
            Event::ClaimReset { plan: p, deleted, .. } => {
                item(ItemKind::Reset, if deleted.is_some() { "deleted" } else { "empty" }, plan(p), *deleted)
            }
            Event::SendStarted { plan: p, event, webhook_id, attempt, .. } => {
                let kind = if *attempt == 1 { ItemKind::Send } else { ItemKind::Retry };
                let at = lanes.push(&by, item(kind, "unanswered", plan(p), Some(*event)));
                self.open_sends.insert((by, webhook_id.clone(), *attempt), at);
                return;
            }
            Event::SendFinished { webhook_id, attempt, accepted, .. } => {
                let outcome = if *accepted { "accepted" } else { "refused" };
                let key = (by.clone(), webhook_id.clone(), *attempt);
                let open = self.open_sends.remove(&key).or_else(|| {
                    let other = self.open_sends.keys().find(|(_, id, a)| id == webhook_id && a == attempt);
                    other.cloned().and_then(|k| self.open_sends.remove(&k))
                });
                if let Some(at) = open {
                    let sent = lanes.item(&at);
                    (sent.until, sent.outcome) = (Some(entry.at), outcome);
                    sent.entries.push(entry.seq);
                    return;
                }
                let kind = if *attempt == 1 { ItemKind::Send } else { ItemKind::Retry };
                Item { until: Some(entry.at), ..item(kind, outcome, None, None) }
            }
            Event::SendAbandoned { .. } => item(ItemKind::Abandon, "gave-up", None, None),
            Event::StoreFailed { .. } | Event::StoreDropped { .. } => {
                item(ItemKind::StoreFailed, "store-error", None, None)
            }
            // Acknowledged, then lost with the primary: drawn as the write that failed.
            Event::CommitLost { .. } => item(ItemKind::StoreFailed, "commit-lost", None, None),
            Event::StoreResolved { committed, .. } => {
                item(ItemKind::Write, if *committed { "committed" } else { "not-committed" }, None, None)
            }
            Event::Crashed { replica, .. } => {
                let lane = lane_of(replica).to_owned();
                lanes.down_since.entry(lane.clone()).or_insert(entry.at);
                lanes.push(&lane, item(ItemKind::Crash, "crashed", None, None));
                return;
            }
            Event::Restarted { replica } => {
                let lane = lane_of(replica).to_owned();
                if let Some(since) = lanes.down_since.remove(&lane) {
                    lanes.lane(&lane).down.push((since, Some(entry.at)));
                }
                lanes.push(&lane, item(ItemKind::Restart, "restarted", None, None));
                return;
            }
            Event::UserAction { plan: p, action, .. } => {
                lanes.push(USER, item(ItemKind::Action, action_word(action), plan(p), None));
                return;
            }
            Event::RequestDropped { plan_index, action, .. } => {
                let dropped = item(ItemKind::Dropped, action_word(action), Some(*plan_index), None);
                lanes.push(USER, dropped);
                return;
            }
            Event::FaultStarted { .. } | Event::FaultEnded { .. } => return,
            Event::PlanCreated { plan: p, .. } => item(ItemKind::Write, "plan-created", plan(p), None),
            Event::RunsCreated { plan: p, .. } => item(ItemKind::Write, "runs-created", plan(p), None),
            Event::TasksSkipped { plan: p, .. } => item(ItemKind::Write, "tasks-skipped", plan(p), None),
            Event::RunsCanceled { plan: p, .. } => item(ItemKind::Write, "runs-canceled", plan(p), None),
            Event::RunsPromoted { .. } => item(ItemKind::Write, "runs-promoted", None, None),
            Event::CompletionChecked { plan: p, complete, .. } => {
                item(ItemKind::Write, if *complete { "complete" } else { "incomplete" }, plan(p), None)
            }
            Event::EventsRaised { events, .. } => {
                item(ItemKind::Write, "events-raised", events.first().and_then(|e| plan(&e.plan)), None)
            }
        };
        lanes.push(&by, new);
    }
}

/// A run status as the page names outcomes.
fn status_word(status: &str) -> &'static str {
    match status {
        "DONE" => "done",
        "FAILED" => "failed",
        "CANCELED" => "canceled",
        _ => "running",
    }
}

/// A user action as the page names it (and its symbol).
fn action_word(action: &str) -> &'static str {
    match action {
        "run" => "run",
        "retry" => "retry",
        "skip" => "skip",
        "cancel" => "cancel",
        _ => "other",
    }
}

/// A request the receiver got, as an item of its lane.
fn delivery(i: usize, request: &ReceivedRequest, index: &HashMap<PlanId, usize>) -> Item {
    let outcome = match request.answer {
        a if a.is_accepted() => "accepted",
        Answer::Status { .. } => "refused",
        Answer::Hang => "hang",
        Answer::Reset => "reset",
    };
    let payload = request.payload.as_ref();
    Item {
        kind: ItemKind::Delivery,
        at: request.at,
        until: None,
        outcome,
        event: payload.map(|p| p.event),
        plan: payload.and_then(|p| index.get(&p.plan).copied()),
        entries: Vec::new(),
        request: Some(i),
        violations: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Seq;
    use crate::model::RunStatus;
    use crate::report::html::fixtures::{Log, ms, request};

    fn lay_out(replicas: usize, log: &Log, requests: &[ReceivedRequest]) -> Vec<Lane> {
        lanes(replicas, &log.entries, requests, &HashMap::from([(PlanId(1), 0)]))
    }

    fn lane<'a>(lanes: &'a [Lane], id: &str) -> &'a Lane {
        lanes.iter().find(|l| l.id == id).unwrap_or_else(|| panic!("no lane {id}"))
    }

    #[test]
    fn a_run_is_a_bar_from_its_start_to_its_end_in_the_lane_of_the_replica_that_took_it() {
        let mut log = Log::default();
        let start = log.run_started(50, "r1.2", 7);
        let other = log.run_started(50, "r2", 8);
        let end = log.run_ended(800, "r3", 7, RunStatus::Failed, true);
        let lanes = lay_out(3, &log, &[]);
        let runs = &lane(&lanes, "r1").items;
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(
            (run.kind, run.at, run.until, run.outcome),
            (ItemKind::Run, ms(50), Some(ms(800)), "abandoned")
        );
        assert_eq!((run.entries.clone(), run.plan), (vec![start, end], Some(0)));
        let unfinished = &lane(&lanes, "r2").items[0];
        assert_eq!(
            (unfinished.until, unfinished.outcome, unfinished.entries.clone()),
            (None, "running", vec![other])
        );
        assert!(lane(&lanes, "r3").items.is_empty(), "the cleaner's end belongs to the run's bar");
    }

    #[test]
    fn sends_pair_with_their_answers_and_later_tries_are_retries() {
        let mut log = Log::default();
        let first = log.send(100, "r1", "msg_1", 1);
        let refused = log.answer(110, "r1", "msg_1", 1, false);
        let second = log.send(150, "r1", "msg_1", 2);
        let other = log.send(150, "r2", "msg_2", 1);
        let accepted = log.answer(160, "r2", "msg_2", 1, true);
        let lanes = lay_out(2, &log, &[]);
        let r1: Vec<(ItemKind, &str, Option<_>, Vec<Seq>)> = lane(&lanes, "r1")
            .items
            .iter()
            .map(|i| (i.kind, i.outcome, i.until, i.entries.clone()))
            .collect();
        assert_eq!(
            r1,
            [
                (ItemKind::Send, "refused", Some(ms(110)), vec![first, refused]),
                (ItemKind::Retry, "unanswered", None, vec![second]),
            ]
        );
        let r2 = &lane(&lanes, "r2").items[0];
        assert_eq!((r2.outcome, r2.entries.clone()), ("accepted", vec![other, accepted]));
    }

    #[test]
    fn a_crash_and_its_restart_mark_the_lane_and_bound_its_down_time() {
        let mut log = Log::default();
        log.crash(100, "r1");
        log.restart(300, "r1.2");
        log.crash(500, "r1.2");
        let lanes = lay_out(1, &log, &[]);
        let r1 = lane(&lanes, "r1");
        let kinds: Vec<ItemKind> = r1.items.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, [ItemKind::Crash, ItemKind::Restart, ItemKind::Crash]);
        assert_eq!(r1.down, [(ms(100), Some(ms(300))), (ms(500), None)]);
    }

    #[test]
    fn lanes_are_the_user_then_replicas_by_number_then_the_receiver() {
        let mut log = Log::default();
        log.claim(10, "r11", Claim::Won);
        let lanes = lay_out(10, &log, &[request(0, 20, "msg_1", 503)]);
        let ids: Vec<&str> = lanes.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(
            ids,
            ["user", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "receiver"]
        );
        let delivery = &lane(&lanes, "receiver").items[0];
        assert_eq!(
            (delivery.kind, delivery.outcome, delivery.request),
            (ItemKind::Delivery, "refused", Some(0))
        );
        assert_eq!(delivery.plan, Some(0));
    }

    #[test]
    fn every_entry_is_drawn_exactly_once_except_fault_marks_which_are_bands() {
        let mut log = Log::default();
        log.add(0, None, Event::FaultStarted { fault: 0, description: "endpoint 503".into() });
        log.add(
            0,
            Some("r1"),
            Event::UserAction { plan: PlanId(1), action: "run".into(), tasks: vec![], reaction: None },
        );
        log.run_started(50, "r1", 1);
        log.add(
            60,
            Some("r1"),
            Event::StoreFailed { op: "Heartbeat".into(), error: "reset".into(), invoked: 3, op_id: None },
        );
        log.run_ended(90, "r1", 1, RunStatus::Failed, false);
        log.add(90, Some("r1"), Event::CompletionChecked { plan: PlanId(1), complete: false, failed: true });
        log.claim(90, "r1", Claim::Won);
        log.send(90, "r1", "msg_1", 1);
        log.answer(95, "r1", "msg_1", 1, false);
        log.add(
            95,
            Some("r1"),
            Event::SendAbandoned { webhook_id: "msg_1".into(), attempts: 1, reason: "x".into() },
        );
        log.add(600, None, Event::FaultEnded { fault: 0 });
        let lanes = lay_out(2, &log, &[request(0, 95, "msg_1", 503)]);
        let mut drawn: Vec<Seq> =
            lanes.iter().flat_map(|l| &l.items).flat_map(|i| i.entries.clone()).collect();
        drawn.sort();
        assert_eq!(drawn, (1..=9).collect::<Vec<Seq>>());
        let user: Vec<(ItemKind, &str)> =
            lane(&lanes, "user").items.iter().map(|i| (i.kind, i.outcome)).collect();
        assert_eq!(user, [(ItemKind::Action, "run")]);
    }
}
