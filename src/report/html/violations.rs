//! The checker's violations on the timeline: each placed at its cause (else its first
//! delivery, else its first witness entry), and linked to every item and band its
//! witness names, and to the deliveries of the webhooks its witness sends (by their
//! `webhook-id`, or, for a request without one, by the event its payload names).

use std::collections::{BTreeSet, HashMap};

use super::bands::Band;
use super::model::{Lane, Violation};
use crate::history::{Entry, Event, Seq};
use crate::judge::RunResult;
use crate::model::{EventType, PlanId};
use crate::webhook::ReceivedRequest;

/// The checker's violations, placed in time.
pub(super) fn place(result: &RunResult, index: &HashMap<PlanId, usize>) -> Vec<Violation> {
    let entries = by_seq(result);
    let at_of = |seq: &Seq| entries.get(seq).map(|e| e.at);
    result
        .report
        .violations()
        .map(|e| Violation {
            verdict: e.verdict,
            plan_id: e.plan,
            plan: index.get(&e.plan).copied(),
            event: e.event,
            episode: e.episode,
            at: e
                .caused_at
                .or(e.delivered_at)
                .or_else(|| e.witness.entries.first().and_then(at_of))
                .unwrap_or_default(),
            summary: e.witness.summary.clone(),
            entries: e.witness.entries.clone(),
        })
        .collect()
}

/// The history's entries by sequence number (the first, should two share one).
fn by_seq(result: &RunResult) -> HashMap<Seq, &Entry> {
    let mut entries = HashMap::with_capacity(result.history.len());
    for e in &result.history {
        entries.entry(e.seq).or_insert(e);
    }
    entries
}

/// Marks every item and band that a violation's witness names: by its entries, and
/// deliveries by the webhook ids of the witness's sends (a delivery without an id by
/// the event those sends announce).
pub(super) fn link(violations: &[Violation], result: &RunResult, lanes: &mut [Lane], bands: &mut [Band]) {
    let mut by_seq: HashMap<Seq, BTreeSet<usize>> = HashMap::new();
    let mut by_webhook: HashMap<&str, BTreeSet<usize>> = HashMap::new();
    let mut by_event: HashMap<(PlanId, EventType, u32), BTreeSet<usize>> = HashMap::new();
    let entries = self::by_seq(result);
    for (v, violation) in violations.iter().enumerate() {
        for seq in &violation.entries {
            by_seq.entry(*seq).or_default().insert(v);
            let event = entries.get(seq).map(|e| &e.event);
            if let Some(
                Event::SendStarted { webhook_id, .. }
                | Event::SendFinished { webhook_id, .. }
                | Event::SendAbandoned { webhook_id, .. },
            ) = event
            {
                by_webhook.entry(webhook_id).or_default().insert(v);
            }
            if let Some(Event::SendStarted { plan, event, episode, .. }) = event {
                by_event.entry((*plan, *event, *episode)).or_default().insert(v);
            }
        }
    }
    let of = |entries: &[Seq]| -> BTreeSet<usize> {
        entries.iter().filter_map(|s| by_seq.get(s)).flatten().copied().collect()
    };
    for item in lanes.iter_mut().flat_map(|l| &mut l.items) {
        let mut found = of(&item.entries);
        let request = item.request.and_then(|r| result.requests.get(r));
        let linked = match request {
            Some(ReceivedRequest { webhook_id: Some(id), .. }) => by_webhook.get(id.as_str()),
            Some(ReceivedRequest { webhook_id: None, payload: Some(p), .. }) => {
                by_event.get(&(p.plan, p.event, p.episode))
            }
            _ => None,
        };
        if let Some(vs) = linked {
            found.extend(vs);
        }
        item.violations = found.into_iter().collect();
    }
    for band in bands {
        band.violations = of(&band.entries).into_iter().collect();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::check::Verdict;
    use crate::check::{EventReport, Witness};
    use crate::model::EventType;
    use crate::model::RunStatus;
    use crate::report::html::fixtures::{Log, ms, request, result, scenario_run};
    use crate::report::html::model::{ItemKind, build};
    use crate::store::Claim;
    use crate::strategy::StrategyKind;

    const SCENARIO: &str = r#"
name = "two-senders"
description = "Both replicas announce one failure."
[cluster]
replicas = 2
[[plans]]
name = "deploy"
  [[plans.tasks]]
  name = "migrate"
[[timeline]]
at = "0ms"
plan = "deploy"
action = "run"
"#;

    fn report(verdict: Verdict, caused_ms: Option<u64>, entries: Vec<Seq>) -> EventReport {
        EventReport {
            plan: PlanId(1),
            event: EventType::PipelineFailed,
            episode: 1,
            verdict,
            attempts: 0,
            deliveries: 0,
            caused_at: caused_ms.map(ms),
            delivered_at: None,
            latency: None,
            witness: Witness { summary: format!("{verdict} story"), entries },
        }
    }

    #[test]
    fn violations_sit_at_their_cause_and_mark_the_items_and_deliveries_of_their_witness() {
        let scenario = crate::scenario::parse("two-senders.toml", SCENARIO).unwrap();
        let mut log = Log::default();
        log.run_started(50, "r1", 1);
        let failed = log.run_ended(90, "r1", 1, RunStatus::Failed, false);
        let won = log.claim(90, "r1", Claim::Won);
        let first = log.send(90, "r1", "msg_1", 1);
        log.answer(90, "r1", "msg_1", 1, true);
        let second = log.send(95, "r2", "msg_2", 1);
        log.answer(95, "r2", "msg_2", 1, true);
        let late_claim = log.claim(120, "r2", Claim::Lost);
        let mut result = result(log, vec![request(0, 90, "msg_1", 200), request(1, 95, "msg_2", 200)], 300);
        result.report.events = vec![
            report(Verdict::Duplicate, Some(90), vec![failed, won, first, second]),
            report(Verdict::Delivered, Some(90), vec![failed]),
            report(Verdict::Lost, None, vec![late_claim]),
        ];
        let run = scenario_run(&scenario.name, StrategyKind::IN_MEMORY, result);
        let timeline = build(&scenario, &run);

        let placed: Vec<(Verdict, Duration, Option<usize>)> =
            timeline.violations.iter().map(|v| (v.verdict, v.at, v.plan)).collect();
        assert_eq!(placed, [(Verdict::Duplicate, ms(90), Some(0)), (Verdict::Lost, ms(120), Some(0))]);
        assert_eq!(timeline.plans, ["deploy"]);
        let marked = |lane: &str| -> Vec<(ItemKind, Vec<usize>)> {
            let lane = timeline.lanes.iter().find(|l| l.id == lane).unwrap();
            lane.items.iter().map(|i| (i.kind, i.violations.clone())).collect()
        };
        assert_eq!(
            marked("r1"),
            [(ItemKind::Run, vec![0]), (ItemKind::Claim, vec![0]), (ItemKind::Send, vec![0])]
        );
        assert_eq!(marked("r2"), [(ItemKind::Send, vec![0]), (ItemKind::Claim, vec![1])]);
        assert_eq!(marked("receiver"), [(ItemKind::Delivery, vec![0]), (ItemKind::Delivery, vec![0])]);
    }

    #[test]
    fn deliveries_without_id_are_marked_by_the_event_the_witness_sends() {
        let scenario = crate::scenario::parse("two-senders.toml", SCENARIO).unwrap();
        let mut log = Log::default();
        let failed = log.run_ended(90, "r1", 1, RunStatus::Failed, false);
        let first = log.send(90, "r1", "msg_1", 1);
        log.answer(90, "r1", "msg_1", 1, true);
        let mut requests = vec![request(0, 90, "msg_1", 200), request(1, 95, "msg_1", 200)];
        requests.iter_mut().for_each(|r| r.webhook_id = None);
        let mut other = request(2, 97, "msg_9", 200);
        (other.webhook_id, other.payload.as_mut().unwrap().episode) = (None, 2);
        requests.push(other);
        let mut result = result(log, requests, 300);
        result.report.events = vec![report(Verdict::Duplicate, Some(90), vec![failed, first])];
        let run = scenario_run(&scenario.name, StrategyKind::SHIPPED_CLAIM, result);
        let timeline = build(&scenario, &run);
        let receiver = timeline.lanes.iter().find(|l| l.id == "receiver").unwrap();
        let marked: Vec<Vec<usize>> = receiver.items.iter().map(|i| i.violations.clone()).collect();
        assert_eq!(marked, [vec![0], vec![0], vec![]], "the episode-2 request is another event's");
    }
}
