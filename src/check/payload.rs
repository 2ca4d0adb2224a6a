//! Payload truth (promise 3): a PIPELINE_FAILED payload names the tasks whose runs
//! failed in its episode. A delivery whose payload names a task that did not fail in
//! that episode (or had not failed yet when it arrived), or names no task at all, is
//! `wrong-payload`: reported beside the event's delivery verdict, which it does not
//! hide. Events whose episode is `ambiguous` are not judged here: which tasks failed
//! in them is not known.

use std::collections::BTreeSet;

use super::matching::MatchedEvent;
use super::replay::PlanFacts;
use super::{EventReport, Verdict, Witness};
use crate::model::{EventType, TaskId};

/// The `wrong-payload` report of `m`, if an accepted delivery of it names the wrong
/// tasks.
pub(super) fn judge(m: &MatchedEvent<'_>, facts: Option<&PlanFacts>) -> Option<EventReport> {
    let o = &m.owed;
    if o.event != EventType::PipelineFailed || o.ambiguous.is_some() || o.caused_at.is_none() {
        return None;
    }
    let failures = facts.map_or(&[][..], |f| &f.failures[..]);
    let in_episode = |task: TaskId, by: std::time::Duration| {
        failures
            .iter()
            .any(|f| f.task == task && (f.episodes.0..=f.episodes.1).contains(&o.episode) && f.earliest <= by)
    };
    let mut wrong = Vec::new();
    for r in m.requests.iter().filter(|r| r.accepted) {
        let id = r.webhook_id.as_deref().unwrap_or("a delivery without an id");
        if r.failed_tasks.is_empty() {
            wrong.push(format!("{id} at {:?} names no failed task", r.at));
            continue;
        }
        for task in &r.failed_tasks {
            if in_episode(*task, r.at) {
                continue;
            }
            let elsewhere: BTreeSet<u32> = failures
                .iter()
                .filter(|f| f.task == *task && f.earliest <= r.at)
                .flat_map(|f| f.episodes.0..=f.episodes.1)
                .collect();
            let why = if elsewhere.is_empty() {
                "which had no FAILED run by then".to_owned()
            } else {
                let list: Vec<String> = elsewhere.iter().map(u32::to_string).collect();
                format!("which failed in episode {}, not {}", list.join(", "), o.episode)
            };
            wrong.push(format!("{id} at {:?} names task {task}, {why}", r.at));
        }
    }
    if wrong.is_empty() {
        return None;
    }
    let summary =
        format!("{} plan {} ep {}: wrong payload: {}", o.event, o.plan, o.episode, wrong.join("; "));
    Some(EventReport {
        plan: o.plan,
        event: o.event,
        episode: o.episode,
        verdict: Verdict::WrongPayload,
        attempts: 0,
        deliveries: m.requests.iter().filter(|r| r.accepted).count() as u32,
        caused_at: o.caused_at,
        delivered_at: None,
        latency: None,
        witness: Witness { summary, entries: o.causes.clone() },
    })
}
