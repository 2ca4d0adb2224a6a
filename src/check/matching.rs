//! Matching requests to events.
//!
//! A request matches the owed event its payload names: (plan, PIPELINE_FAILED,
//! episode), or the plan's PIPELINE_COMPLETED whatever episode it names. A request
//! that matches none, or arrived before its event's cause could have committed, is
//! `unexpected`; the unexpected requests are grouped by `webhook-id`. Whether a
//! matched PIPELINE_FAILED names the right tasks is judged apart (`payload`).

use std::collections::{BTreeSet, HashMap};

use super::owed::{Owed, OwedEvent};
use super::replay::PlanFacts;
use super::{CheckInput, Request};
use crate::model::{EventType, PlanId, TaskState};

/// The requests, sorted into events and strays.
#[derive(Debug)]
pub(super) struct Matched<'a> {
    /// Every event (owed, or possibly owed) with the requests that match it.
    pub(super) events: Vec<MatchedEvent<'a>>,
    /// The unexpected requests, one group per distinct `webhook-id`.
    pub(super) stray: Vec<Stray<'a>>,
}

/// An event and the requests that match it, in arrival order.
#[derive(Debug)]
pub(super) struct MatchedEvent<'a> {
    /// The event.
    pub(super) owed: OwedEvent,
    /// The requests that announce it, in arrival order.
    pub(super) requests: Vec<&'a Request>,
}

/// Requests with one `webhook-id` that match no owed event.
#[derive(Debug)]
pub(super) struct Stray<'a> {
    /// Why the first of them is unexpected.
    pub(super) reason: String,
    /// The requests, in arrival order.
    pub(super) requests: Vec<&'a Request>,
}

type Key = (PlanId, EventType, u32);

fn key(plan: PlanId, event: EventType, episode: u32) -> Key {
    match event {
        EventType::PipelineCompleted => (plan, event, 0),
        EventType::PipelineFailed => (plan, event, episode),
    }
}

/// Sorts `input.requests` into the events of `owed` and strays.
pub(super) fn assign<'a>(input: &'a CheckInput, owed: &Owed) -> Matched<'a> {
    let mut events: Vec<MatchedEvent<'a>> =
        owed.events.iter().map(|o| MatchedEvent { owed: o.clone(), requests: Vec::new() }).collect();
    let mut index: HashMap<Key, usize> =
        events.iter().enumerate().map(|(i, e)| (key(e.owed.plan, e.owed.event, e.owed.episode), i)).collect();
    let mut stray: Vec<Stray<'a>> = Vec::new();
    let mut stray_ids: HashMap<&'a str, usize> = HashMap::new();

    for request in &input.requests {
        match find(request, owed, &mut events, &mut index) {
            Ok(i) => events[i].requests.push(request),
            Err(reason) => match request.webhook_id.as_deref().and_then(|id| stray_ids.get(id)) {
                Some(&i) => stray[i].requests.push(request),
                None => {
                    if let Some(id) = request.webhook_id.as_deref() {
                        stray_ids.insert(id, stray.len());
                    }
                    stray.push(Stray { reason, requests: vec![request] });
                }
            },
        }
    }
    Matched { events, stray }
}

/// The index of the event `request` announces, or why it is unexpected.
fn find(
    request: &Request,
    owed: &Owed,
    events: &mut Vec<MatchedEvent<'_>>,
    index: &mut HashMap<Key, usize>,
) -> Result<usize, String> {
    let plan = request.plan.ok_or("its payload names no plan")?;
    let event = request.event.ok_or("its payload names no event type")?;
    let episode = match (event, request.episode) {
        (EventType::PipelineFailed, None) => {
            return Err("its PIPELINE_FAILED payload names no episode".into());
        }
        (_, episode) => episode.unwrap_or(0),
    };
    let facts = owed.plans.get(&plan);
    let k = key(plan, event, episode);
    let i = match index.get(&k) {
        Some(&i) => i,
        None => {
            let why = facts
                .and_then(|f| unknown(f, event, episode))
                .ok_or_else(|| not_owed(plan, event, episode, facts))?;
            events.push(MatchedEvent {
                owed: OwedEvent::unknown(plan, event, episode, why),
                requests: Vec::new(),
            });
            index.insert(k, events.len() - 1);
            events.len() - 1
        }
    };
    let ev = &events[i].owed;
    if request.at < ev.earliest {
        let cause = ev.causes.first().map_or(String::new(), |s| format!(" at #{s}"));
        return Err(format!("it arrived at {:?}, before its cause{cause} could have committed", request.at));
    }
    Ok(i)
}

/// Why an event the replay does not owe may be owed all the same (unlogged writes).
fn unknown(facts: &PlanFacts, event: EventType, episode: u32) -> Option<String> {
    match event {
        EventType::PipelineCompleted => facts.completed_unknown.clone(),
        EventType::PipelineFailed => facts
            .failed_unknown_from
            .filter(|from| episode >= (*from).max(1))
            .map(|_| "the store's final state shows writes the history did not log".to_owned()),
    }
}

/// Why no event (plan, event, episode) is owed.
fn not_owed(plan: PlanId, event: EventType, episode: u32, facts: Option<&PlanFacts>) -> String {
    let Some(facts) = facts else { return format!("the history knows no plan {plan}") };
    match event {
        EventType::PipelineCompleted => {
            let pending: Vec<String> = facts
                .tasks
                .iter()
                .filter(|(_, s)| !s.is_complete())
                .map(|(t, s)| format!("task {t} {}", state_word(*s)))
                .collect();
            if pending.is_empty() {
                format!("plan {plan} has no tasks")
            } else {
                format!("plan {plan} was never complete ({})", pending.join(", "))
            }
        }
        EventType::PipelineFailed => {
            let failed: BTreeSet<u32> =
                facts.failures.iter().flat_map(|f| f.episodes.0..=f.episodes.1).collect();
            if failed.is_empty() {
                format!("no run of plan {plan} failed (episode {episode} named)")
            } else {
                let list: Vec<String> = failed.iter().map(u32::to_string).collect();
                format!(
                    "no run of plan {plan} failed in episode {episode} (failures in episode {})",
                    list.join(", ")
                )
            }
        }
    }
}

/// The contract's word for a task state.
pub(super) fn state_word(state: TaskState) -> &'static str {
    match state {
        TaskState::Open => "open",
        TaskState::Done => "done",
        TaskState::Failed => "failed",
        TaskState::Canceled => "canceled",
        TaskState::Skipped => "skipped",
    }
}
