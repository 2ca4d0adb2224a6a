//! The timeline of one run as data, before any drawing: a lane for the user's actions,
//! one per replica, one for the receiver; in them the task runs, claims, resets, sends,
//! retries, crashes, restarts and deliveries; the fault windows as bands over the lanes
//! they hit ([`super::bands`]); the checker's violations. Every item names the history
//! entries (or the receiver request) it draws, and the violations whose witness points
//! at it.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use super::bands::{self, Band};
use super::items;
use crate::check::Verdict;
use crate::cluster::RunResult;
use crate::history::{Event, Seq};
use crate::model::{EventType, PlanId, ReplicaId};
use crate::runner::ScenarioRun;
use crate::scenario::Scenario;

/// The lane of the user's actions.
pub const USER: &str = "user";
/// The lane of the webhook receiver.
pub const RECEIVER: &str = "receiver";

/// One run, laid out in lanes.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The run's end on its clock.
    pub end: Duration,
    /// The user's lane, the replicas' in name order, the receiver's.
    pub lanes: Vec<Lane>,
    /// The fault windows that struck.
    pub bands: Vec<Band>,
    /// The checker's violations, events first, then strays.
    pub violations: Vec<Violation>,
    /// The scenario's plan names, by index; items name plans by this index.
    pub plans: Vec<String>,
    /// The plan ids the run gave, by scenario index.
    pub plan_ids: Vec<PlanId>,
}

/// What a lane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneKind {
    /// The user's actions.
    User,
    /// One replica, across its incarnations.
    Replica,
    /// The webhook receiver.
    Receiver,
}

impl LaneKind {
    /// The name the page uses (`data-lane-kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            LaneKind::User => "user",
            LaneKind::Replica => "replica",
            LaneKind::Receiver => "receiver",
        }
    }
}

/// One row of the timeline.
#[derive(Debug, Clone)]
pub struct Lane {
    /// `user`, `r1`, `r2`, ..., `receiver`.
    pub id: String,
    /// What it shows.
    pub kind: LaneKind,
    /// Its items, in history order (deliveries in arrival order).
    pub items: Vec<Item>,
    /// When the replica was down: from a crash to its restart (`None`: to the end).
    pub down: Vec<(Duration, Option<Duration>)>,
}

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A task run, from the replica taking it to its end.
    Run,
    /// A claim on `plan_webhook_delivery`.
    Claim,
    /// A claim row deleted.
    Reset,
    /// The first try of a webhook, to its answer.
    Send,
    /// A later try of a webhook, to its answer.
    Retry,
    /// The sender gave up on a webhook.
    Abandon,
    /// A store operation failed.
    StoreFailed,
    /// The replica crashed.
    Crash,
    /// The replica started again.
    Restart,
    /// The user asked for something.
    Action,
    /// A request the receiver got.
    Delivery,
    /// Any other store write or read (plan created, runs promoted, completion check...).
    Write,
}

impl ItemKind {
    /// The name the page uses (`data-kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Run => "run",
            ItemKind::Claim => "claim",
            ItemKind::Reset => "reset",
            ItemKind::Send => "send",
            ItemKind::Retry => "retry",
            ItemKind::Abandon => "abandon",
            ItemKind::StoreFailed => "store-failed",
            ItemKind::Crash => "crash",
            ItemKind::Restart => "restart",
            ItemKind::Action => "action",
            ItemKind::Delivery => "delivery",
            ItemKind::Write => "write",
        }
    }
}

/// One thing drawn in a lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// What it is.
    pub kind: ItemKind,
    /// When it happened (began, for runs and sends).
    pub at: Duration,
    /// For runs and sends: when it ended; `None` if it never did.
    pub until: Option<Duration>,
    /// How it went: `done`, `failed`, `canceled`, `abandoned`, `running`, `won`, `lost`,
    /// `accepted`, `refused`, `unanswered`, `run`, `retry`, ...
    pub outcome: &'static str,
    /// The event type it concerns, for claims, sends and deliveries.
    pub event: Option<EventType>,
    /// The plan, by scenario index.
    pub plan: Option<usize>,
    /// The history entries it draws.
    pub entries: Vec<Seq>,
    /// For deliveries: the request's position in the receiver's log.
    pub request: Option<usize>,
    /// The violations whose witness names one of its entries (or its webhook).
    pub violations: Vec<usize>,
}

/// One violation the checker found.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// `lost`, `duplicate`, `unexpected` or `late`.
    pub verdict: Verdict,
    /// The plan, as the checker names it.
    pub plan_id: PlanId,
    /// The plan, by scenario index, if the run created it.
    pub plan: Option<usize>,
    /// The event.
    pub event: EventType,
    /// Its episode.
    pub episode: u32,
    /// Where it is marked: its cause, else its first delivery, else its first witness entry.
    pub at: Duration,
    /// The witness, one line.
    pub summary: String,
    /// The witness's entries.
    pub entries: Vec<Seq>,
}

/// The lane a replica incarnation (`r1.2`) draws in: its scenario name (`r1`).
pub fn lane_of(replica: &ReplicaId) -> &str {
    replica.as_str().split('.').next().unwrap_or_default()
}

/// Lays out `run`, a run of `scenario`.
pub fn build(scenario: &Scenario, run: &ScenarioRun) -> Timeline {
    let result = &run.result;
    let plan_ids = result.plans.clone();
    let index: HashMap<PlanId, usize> = plan_ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut lanes = items::lanes(scenario.spec.config.replicas, &result.history, &result.requests, &index);
    let violations = violations(result, &index);
    let mut bands = bands::build(&scenario.spec.faults, result);
    link_violations(&violations, result, &mut lanes, &mut bands);
    let plans = scenario.spec.plans.iter().map(|p| p.name.clone()).collect();
    Timeline { end: result.elapsed, lanes, bands, violations, plans, plan_ids }
}

/// The checker's violations, placed in time.
fn violations(result: &RunResult, index: &HashMap<PlanId, usize>) -> Vec<Violation> {
    let at_of = |seq: &Seq| result.history.iter().find(|e| e.seq == *seq).map(|e| e.at);
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

/// Marks every item and band that a violation's witness names: by its entries, and
/// deliveries by the webhook ids of the witness's sends.
fn link_violations(violations: &[Violation], result: &RunResult, lanes: &mut [Lane], bands: &mut [Band]) {
    let mut by_seq: HashMap<Seq, BTreeSet<usize>> = HashMap::new();
    let mut by_webhook: HashMap<&str, BTreeSet<usize>> = HashMap::new();
    for (v, violation) in violations.iter().enumerate() {
        for seq in &violation.entries {
            by_seq.entry(*seq).or_default().insert(v);
            if let Some(
                Event::SendStarted { webhook_id, .. }
                | Event::SendFinished { webhook_id, .. }
                | Event::SendAbandoned { webhook_id, .. },
            ) = result.history.iter().find(|e| e.seq == *seq).map(|e| &e.event)
            {
                by_webhook.entry(webhook_id).or_default().insert(v);
            }
        }
    }
    let of = |entries: &[Seq]| -> BTreeSet<usize> {
        entries.iter().filter_map(|s| by_seq.get(s)).flatten().copied().collect()
    };
    for item in lanes.iter_mut().flat_map(|l| &mut l.items) {
        let mut found = of(&item.entries);
        let webhook = item.request.and_then(|r| result.requests.get(r)).and_then(|r| r.webhook_id.as_deref());
        if let Some(vs) = webhook.and_then(|id| by_webhook.get(id)) {
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
    use super::*;
    use crate::check::{EventReport, Witness};
    use crate::model::RunStatus;
    use crate::report::html::fixtures::{Log, ms, request, result};
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
        let run = ScenarioRun {
            name: scenario.name.clone(),
            strategy: StrategyKind::InMemory,
            seed: 1,
            store: "memory",
            wall: Duration::ZERO,
            checks: vec![],
            ok: true,
            result,
        };
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
}
