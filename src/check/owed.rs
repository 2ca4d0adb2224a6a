//! The owed events: which (plan, event type, episode) triples the contract says must
//! be announced, from what the replay learned about each plan.
//!
//! - PIPELINE_FAILED: one per episode in which a FAILED status committed. A FAILED
//!   write that overlapped an episode start has an unknown episode; the events of its
//!   candidate episodes that no certain failure owes are `ambiguous`; in an episode
//!   that a certain failure owes, it may be the first cause (see `maybe_earlier`).
//! - PIPELINE_COMPLETED: once, at the first entry after which every task is `done`
//!   or `skipped`; `ambiguous` when that write overlapped a FAILED write of the plan
//!   (unless it was an unfenced DONE over that very failure, which it must follow).
//! - Where the store's final state shows writes the history never logged, the events
//!   those writes could touch are `ambiguous`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use super::order::Timeline;
use super::replay::{Failure, PlanFacts, compare_final, replay};
use crate::history::{Entry, Seq};
use crate::model::{EventType, PlanId};
use crate::store::PlanState;

/// The events the history owes, and what the checker learned about each plan.
#[derive(Debug, Default)]
pub(super) struct Owed {
    /// Owed (or possibly owed) events, by plan, episode and event type.
    pub(super) events: Vec<OwedEvent>,
    /// Per plan: episodes, failures, completion.
    pub(super) plans: BTreeMap<PlanId, PlanFacts>,
    /// The positions in `events` of each plan's events of each type.
    by_type: HashMap<(PlanId, EventType), Vec<usize>>,
}

impl Owed {
    /// The first cause of the plan's next event of the same type as `o` (a later
    /// episode), if any: what happens after it belongs to that event's story.
    pub(super) fn next_cause(&self, o: &OwedEvent) -> Option<Seq> {
        let same = self.by_type.get(&(o.plan, o.event)).map_or(&[][..], Vec::as_slice);
        same.iter()
            .map(|i| &self.events[*i])
            .filter(|e| e.episode > o.episode)
            .filter_map(|e| e.causes.first().copied())
            .min()
    }
}

/// One event the contract owes, or might owe.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OwedEvent {
    /// Its plan.
    pub(super) plan: PlanId,
    /// Its type.
    pub(super) event: EventType,
    /// The episode current at its cause.
    pub(super) episode: u32,
    /// Why whether (or in which episode) it is owed is unknown; `None` when certain.
    pub(super) ambiguous: Option<String>,
    /// When its first cause was logged.
    pub(super) caused_at: Option<Duration>,
    /// The earliest its cause can have committed: a request before it is unexpected.
    pub(super) earliest: Duration,
    /// When a failure of unknown episode may be this event's first cause, earlier
    /// than its certain ones: the earliest a certain cause can have committed, and
    /// why. A delivery accepted before that moment is in time only if the overlapping
    /// failure fell in this episode, so its verdict is `ambiguous`.
    pub(super) maybe_earlier: Option<(Duration, String)>,
    /// The entries that cause it (FAILED run ends, or the completing write).
    pub(super) causes: Vec<Seq>,
    /// Other entries that show it, e.g. the writes a cause overlapped.
    pub(super) related: Vec<Seq>,
}

impl OwedEvent {
    /// An event the history cannot tell is owed, because writes went unlogged.
    pub(super) fn unknown(plan: PlanId, event: EventType, episode: u32, why: String) -> Self {
        OwedEvent {
            plan,
            event,
            episode,
            ambiguous: Some(why),
            caused_at: None,
            earliest: Duration::ZERO,
            maybe_earlier: None,
            causes: Vec::new(),
            related: Vec::new(),
        }
    }
}

/// Derives the owed events from `history`, checked against the store's `final_state`.
pub(super) fn derive(history: &[Entry], timeline: &Timeline, final_state: &[(PlanId, PlanState)]) -> Owed {
    let (mut plans, created) = replay(history, timeline);
    for (plan, state) in final_state {
        compare_final(plans.entry(*plan).or_default(), state, |run| created.get(&run).copied());
    }
    let mut events: Vec<OwedEvent> =
        plans.iter().flat_map(|(plan, f)| plan_events(*plan, f, timeline)).collect();
    events.sort_by_key(|e| (e.plan, e.episode, e.event));
    let mut by_type: HashMap<(PlanId, EventType), Vec<usize>> = HashMap::new();
    events.iter().enumerate().for_each(|(i, e)| by_type.entry((e.plan, e.event)).or_default().push(i));
    Owed { events, plans, by_type }
}

/// The events `facts` owes for `plan`.
fn plan_events(plan: PlanId, facts: &PlanFacts, timeline: &Timeline) -> Vec<OwedEvent> {
    let mut certain: BTreeMap<u32, Vec<&Failure>> = BTreeMap::new();
    let mut uncertain: BTreeMap<u32, Vec<&Failure>> = BTreeMap::new();
    for f in &facts.failures {
        let (lo, hi) = f.episodes;
        if lo == hi {
            certain.entry(lo).or_default().push(f);
        } else {
            (lo..=hi).for_each(|ep| uncertain.entry(ep).or_default().push(f));
        }
    }
    let unlogged = "the store's final state shows writes the history did not log";
    let mut events = Vec::new();
    let episodes: BTreeSet<u32> = certain.keys().chain(uncertain.keys()).copied().collect();
    for episode in episodes {
        let maybe = uncertain.get(&episode).map_or(&[][..], Vec::as_slice);
        let (causes, ambiguous, mut related) = match certain.get(&episode) {
            Some(causes) => (causes.as_slice(), None, Vec::new()),
            None => {
                let f = maybe[0];
                let starts: Vec<Seq> = facts.episodes.overlapping(f.span).map(|s| s.span.seq).collect();
                (maybe, Some(overlap_story(f, &starts)), starts)
            }
        };
        let ambiguous = match facts.failed_unknown_from {
            Some(from) if episode >= from && ambiguous.is_none() => Some(unlogged.to_owned()),
            _ => ambiguous,
        };
        let certain_earliest = causes.iter().map(|f| f.earliest).min().unwrap_or_default();
        // A failure that may have committed in this episode, before its certain causes.
        let earlier = maybe.iter().filter(|f| f.earliest < certain_earliest).min_by_key(|f| f.earliest);
        let maybe_earlier = earlier.filter(|_| ambiguous.is_none()).map(|f| {
            let starts: Vec<Seq> = facts.episodes.overlapping(f.span).map(|s| s.span.seq).collect();
            related.push(f.span.seq);
            related.extend(&starts);
            (certain_earliest, overlap_story(f, &starts))
        });
        events.push(OwedEvent {
            plan,
            event: EventType::PipelineFailed,
            episode,
            ambiguous,
            caused_at: causes.first().map(|f| timeline.at(f.span.seq)),
            earliest: earlier.map_or(certain_earliest, |f| f.earliest),
            maybe_earlier,
            causes: causes.iter().map(|f| f.span.seq).collect(),
            related,
        });
    }
    match facts.completed {
        Some(c) => {
            // A failure of the run the completing write ended again, that needed the
            // run RUNNING, committed before it: no race.
            let before = |f: &Failure| facts.completed_over == Some(f.run) && !f.overwrote;
            let race = facts.failures.iter().find(|f| f.span.overlaps(c) && !before(f));
            let why = race.map(|f| {
                format!("the completing write #{} overlapped run {} FAILED at #{}", c.seq, f.run, f.span.seq)
            });
            events.push(OwedEvent {
                plan,
                event: EventType::PipelineCompleted,
                episode: facts.completed_episode,
                ambiguous: why.or_else(|| facts.completed_unknown.clone()),
                caused_at: Some(timeline.at(c.seq)),
                earliest: facts.earliest_complete(c, timeline),
                maybe_earlier: None,
                causes: vec![c.seq],
                related: race.map(|f| f.span.seq).into_iter().collect(),
            });
        }
        None => {
            if let Some(why) = &facts.completed_unknown {
                let episode = facts.episodes.count().max(1);
                events.push(OwedEvent::unknown(plan, EventType::PipelineCompleted, episode, why.clone()));
            }
        }
    }
    events
}

/// Why a FAILED write's episode is unknown: the episode starts it overlapped.
fn overlap_story(f: &Failure, starts: &[Seq]) -> String {
    let names: Vec<String> = starts.iter().map(|s| format!("#{s}")).collect();
    format!(
        "run {} FAILED at #{} overlapped the episode start at {}: it committed in episode {} or {}",
        f.run,
        f.span.seq,
        names.join(", "),
        f.episodes.0,
        f.episodes.1
    )
}
