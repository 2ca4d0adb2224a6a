//! The timeline of one run as data, before any drawing: a lane for the user's actions,
//! one per replica, one for the receiver; in them the task runs, claims, resets, sends,
//! retries, crashes, restarts and deliveries; the fault windows as bands over the lanes
//! they hit (`bands`); the checker's violations. Every item names the history
//! entries (or the receiver request) it draws, and the violations whose witness points
//! at it.

use std::collections::HashMap;
use std::time::Duration;

use super::bands::{self, Band};
use super::{items, violations};
use crate::check::Verdict;
use crate::history::Seq;
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
    /// The user asked for something and no live replica was there to serve it.
    Dropped,
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
            ItemKind::Dropped => "dropped",
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

impl Timeline {
    /// The name of a violation's plan: the scenario's, or `plan <id>` for one the run
    /// did not create.
    pub fn plan_name(&self, violation: &Violation) -> String {
        violation
            .plan
            .and_then(|p| self.plans.get(p))
            .cloned()
            .unwrap_or_else(|| format!("plan {}", violation.plan_id))
    }
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
    let violations = violations::place(result, &index);
    let mut bands = bands::build(&scenario.spec.faults, result);
    violations::link(&violations, result, &mut lanes, &mut bands);
    let plans = scenario.spec.plans.iter().map(|p| p.name.clone()).collect();
    Timeline { end: result.elapsed, lanes, bands, violations, plans, plan_ids }
}
