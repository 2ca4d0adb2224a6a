//! The checker: judges a finished run against the notification contract
//! (`notification-contract.md`), using its words.
//!
//! [`check_trace`] judges a run's [`Trace`](crate::trace::Trace), from the trace
//! alone, once the run's actors have stopped (the runner calls it; so does
//! `crate::recheck` for a saved trace). It makes the trace a [`CheckInput`] and
//! calls [`check`], a pure function of one: the run's history, the requests
//! the receiver got, the final store state and the scenario's deadline. It derives
//! from the history which events the contract owes (per plan: a PIPELINE_FAILED per
//! episode in which a run failed, one PIPELINE_COMPLETED once the plan is complete),
//! matches every request to one of them, and gives each event a [`Verdict`] with a
//! [`Witness`] a person can read.
//!
//! One concern per file:
//! - `order`: the history's timeline, which writes are known to precede which, episodes.
//! - `replay`: task states, episodes, failures and completion, replayed per plan.
//! - `owed`: the owed events and the ambiguous ones.
//! - `matching`: requests to events, and the unexpected ones.
//! - `verdict`: one event's verdict from its deliveries and send attempts.
//! - `witness`: the one-line story behind each verdict, told by `story` from the
//!   history's claims, sends, crashes and faults.
//! - `senders`: the requests as the senders saw them answered, for runs whose
//!   endpoint is outside hasim and keeps no log the checker can read.
//! - `input`: a trace as the checker reads it.

mod input;
mod lookup;
mod matching;
mod order;
mod owed;
mod payload;
mod replay;
mod senders;
mod sends;
mod story;
mod verdict;
mod witness;

#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::history::{Entry, Seq};
use crate::model::{EventType, PlanId, TaskId};
use crate::store::PlanState;

pub use crate::trace::DeliveryView;
pub use input::check_trace;
pub use senders::senders_view;

/// Everything the checker reads about one finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckInput {
    /// The run's history, in sequence order.
    pub history: Vec<Entry>,
    /// Every request the receiver got, in arrival order.
    pub requests: Vec<Request>,
    /// Each plan's tasks and episode as the store holds them at the end.
    pub final_state: Vec<(PlanId, PlanState)>,
    /// The scenario's deadline: how long after its cause an event must be delivered.
    #[serde(rename = "deadline_us", with = "crate::history::micros")]
    pub deadline: Duration,
    /// Whose side the requests are: the receiver's log (with payloads), or what the
    /// senders saw accepted (an outside endpoint: no payloads).
    #[serde(default)]
    pub view: DeliveryView,
    /// The run time at quiescence, when the run ended.
    #[serde(rename = "end_us", with = "crate::history::micros")]
    pub end: Duration,
}

/// One request the receiver got, as the checker sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// When it arrived, on the run's clock.
    #[serde(rename = "at_us", with = "crate::history::micros")]
    pub at: Duration,
    /// The `webhook-id` header, if it had one.
    pub webhook_id: Option<String>,
    /// The plan the payload names, if it could be read.
    pub plan: Option<PlanId>,
    /// The event type the payload names, if it could be read.
    pub event: Option<EventType>,
    /// The episode the payload names, if any.
    pub episode: Option<u32>,
    /// The tasks a PIPELINE_FAILED payload names as failed.
    #[serde(default)]
    pub failed_tasks: Vec<TaskId>,
    /// Whether the receiver answered it with a 2xx.
    pub accepted: bool,
    /// Whether its signature verified.
    pub signature_ok: bool,
}

/// The checker's judgement of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Every event the contract owes (or might owe), by plan, event type and episode.
    pub events: Vec<EventReport>,
    /// Unexpected deliveries: one per distinct `webhook-id` that matches no owed event.
    pub stray: Vec<EventReport>,
    /// Deliveries whose PIPELINE_FAILED payload names the wrong tasks: one
    /// `wrong-payload` report per event, beside the event's own verdict.
    #[serde(default)]
    pub payloads: Vec<EventReport>,
    /// Whether no event is a violation (`lost`, `duplicate`, `unexpected`, `late`).
    pub pass: bool,
}

impl Report {
    /// The events, strays and wrong payloads whose verdict is a violation, in that
    /// order.
    pub fn violations(&self) -> impl Iterator<Item = &EventReport> {
        self.events.iter().chain(&self.stray).chain(&self.payloads).filter(|e| e.verdict.is_violation())
    }
}

/// The verdict on one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventReport {
    /// The plan. A stray whose payload names no plan reports `PlanId(0)`.
    pub plan: PlanId,
    /// The event type. A stray whose payload names none reports PIPELINE_FAILED.
    pub event: EventType,
    /// The episode: the one current at the cause, or for a stray the one its payload
    /// names (0 when it names none).
    pub episode: u32,
    /// The verdict.
    pub verdict: Verdict,
    /// Send attempts for it in the history (`SendStarted` entries).
    pub attempts: u32,
    /// Distinct `webhook-id`s the receiver accepted for it.
    pub deliveries: u32,
    /// When the transition that owes it was recorded (the first FAILED commit, or the
    /// write after which the plan was complete); `None` for strays and for events
    /// owed only by writes the history did not log.
    #[serde(default, rename = "caused_at_us", with = "crate::history::micros_opt")]
    pub caused_at: Option<Duration>,
    /// When the first accepted request for it arrived.
    #[serde(default, rename = "delivered_at_us", with = "crate::history::micros_opt")]
    pub delivered_at: Option<Duration>,
    /// `delivered_at - caused_at` (zero when the delivery was seen first).
    #[serde(default, rename = "latency_us", with = "crate::history::micros_opt")]
    pub latency: Option<Duration>,
    /// What shows the verdict.
    pub witness: Witness,
}

/// The history entries that show a verdict, and a one-line story of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// One line: the cause, the claims, the sends, the crashes and faults between.
    pub summary: String,
    /// The entries the summary names, in sequence order.
    pub entries: Vec<Seq>,
}

/// What became of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Exactly one distinct delivery, in time.
    Delivered,
    /// Owed, and never arrived by the end of the run.
    Lost,
    /// More than one distinct delivery, or a second send after the first succeeded.
    Duplicate,
    /// One distinct delivery that took several attempts.
    Retried,
    /// A delivery that matches no owed event.
    Unexpected,
    /// Delivered after the deadline, though the endpoint accepted in that window.
    Late,
    /// Owed, but the endpoint refused every attempt and accepted nothing afterwards.
    Undeliverable,
    /// Writes overlapped so that whether (or in which episode) it is owed is unknown.
    Ambiguous,
    /// A delivery's PIPELINE_FAILED payload names a task that did not fail in its
    /// episode, or none (reported beside the event's delivery verdict).
    #[serde(rename = "wrong-payload")]
    WrongPayload,
}

impl Verdict {
    /// Every verdict.
    pub const ALL: [Verdict; 9] = [
        Verdict::Delivered,
        Verdict::Lost,
        Verdict::Duplicate,
        Verdict::Retried,
        Verdict::Unexpected,
        Verdict::Late,
        Verdict::Undeliverable,
        Verdict::Ambiguous,
        Verdict::WrongPayload,
    ];

    /// Whether this verdict fails the run: `lost`, `duplicate`, `unexpected`, `late`,
    /// `wrong-payload`.
    pub fn is_violation(self) -> bool {
        matches!(
            self,
            Verdict::Lost | Verdict::Duplicate | Verdict::Unexpected | Verdict::Late | Verdict::WrongPayload
        )
    }

    /// The contract's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Delivered => "delivered",
            Verdict::Lost => "lost",
            Verdict::Duplicate => "duplicate",
            Verdict::Retried => "retried",
            Verdict::Unexpected => "unexpected",
            Verdict::Late => "late",
            Verdict::Undeliverable => "undeliverable",
            Verdict::Ambiguous => "ambiguous",
            Verdict::WrongPayload => "wrong-payload",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Judges a finished run against the notification contract.
pub fn check(input: &CheckInput) -> Report {
    let timeline = order::Timeline::new(&input.history);
    let owed = owed::derive(&input.history, &timeline, &input.final_state);
    let matched = matching::assign(input, &owed);
    let sends = sends::Sends::index(&input.history);
    let last_accepted = input.requests.iter().filter(|r| r.accepted).map(|r| r.at).max();
    let story = story::Story::new(&input.history, &input.requests, input.deadline);

    let mut events: Vec<EventReport> = matched
        .events
        .iter()
        .map(|m| {
            let judged = verdict::judge(m, &sends, last_accepted, input.deadline);
            let witness = story.event(m, &judged, &sends, &owed);
            judged.into_report(m, witness)
        })
        .collect();
    events.sort_by_key(|e| (e.plan, e.episode, e.event));
    let stray: Vec<EventReport> = matched.stray.iter().map(|s| story.stray(s, &sends)).collect();
    // What the senders saw accepted carries no payload: only a receiver's log can show one.
    let payloads: Vec<EventReport> = match input.view {
        DeliveryView::Receiver => {
            matched.events.iter().filter_map(|m| payload::judge(m, owed.plans.get(&m.owed.plan))).collect()
        }
        DeliveryView::Senders => Vec::new(),
    };
    let pass = !events.iter().chain(&stray).chain(&payloads).any(|e| e.verdict.is_violation());
    Report { events, stray, payloads, pass }
}
