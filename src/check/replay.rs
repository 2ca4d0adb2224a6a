//! Replaying the history's store writes in log order: each plan's tasks and their
//! states, its episode-starting writes, its FAILED commits and the write after which
//! it was complete; then comparing the result with the store's final state, which
//! shows writes that committed but were never logged (a replica crashed
//! mid-statement).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::matching::state_word;
use super::order::{Episodes, Span, Timeline, replay_order};
use crate::history::{Entry, Event, Seq};
use crate::model::{PlanId, RunId, RunStatus, TaskId, TaskState};
use crate::store::PlanState;

/// A FAILED status that committed.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    /// The `RunEnded` write.
    pub(super) span: Span,
    /// The earliest it can have committed.
    pub(super) earliest: Duration,
    /// The run's task.
    pub(super) task: TaskId,
    /// The run.
    pub(super) run: RunId,
    /// Whether it replaced an end (an unfenced write); one that did not needed the
    /// run RUNNING, so it committed before any write that ended the run again.
    pub(super) overwrote: bool,
    /// The episodes that may have been current at its commit (inclusive).
    pub(super) episodes: (u32, u32),
}

/// What the replay learned about one plan.
#[derive(Debug, Default)]
pub(super) struct PlanFacts {
    /// The plan's episode-starting writes.
    pub(super) episodes: Episodes,
    /// FAILED run ends, in log order.
    pub(super) failures: Vec<Failure>,
    /// The write after which the plan was complete.
    pub(super) completed: Option<Span>,
    /// The run that write ended again, when it replaced an end (an unfenced DONE over
    /// a FAILED): that run's ends which needed it RUNNING committed before it.
    pub(super) completed_over: Option<RunId>,
    /// The plan's episode right after that write, in replay order.
    pub(super) completed_episode: u32,
    /// Per task, the writes that made it done (a DONE) or skipped, in replay order:
    /// which of them finished a task first is known only where they were ordered.
    pub(super) completers: BTreeMap<TaskId, Vec<Span>>,
    /// Every task's state at the end of the replay, in task order.
    pub(super) tasks: Vec<(TaskId, TaskState)>,
    /// The first episode whose FAILED events are unknown (unlogged writes).
    pub(super) failed_unknown_from: Option<u32>,
    /// Why the plan's completion is unknown (unlogged writes).
    pub(super) completed_unknown: Option<String>,
    /// Disagreements between the history and itself or the store, for witnesses.
    pub(super) notes: Vec<String>,
    /// The entries the notes name.
    pub(super) note_entries: Vec<Seq>,
}

/// One task as the replay sees it.
#[derive(Debug, Default)]
struct TaskReplay {
    skipped: bool,
    runs: BTreeMap<RunId, (i32, RunStatus)>,
}

impl TaskReplay {
    /// The contract's state, from the skip flag and the highest attempt's status.
    fn state(&self) -> TaskState {
        let latest = self.runs.values().max_by_key(|(attempt, _)| *attempt).map(|(_, s)| *s);
        TaskState::derive(self.skipped, latest)
    }

    /// Moves a run forward (PENDING < AVAILABLE < RUNNING < ended), never back, so
    /// overlapping writes logged out of commit order replay to the same state.
    ///
    /// A write that `overwrites` an ended run (an unfenced status write, whose entry
    /// says what it overwrote) moves it from one end to another: DONE over the
    /// cleaner's FAILED is a real move back that the replay must show. Only such a
    /// write applies to an ended run, so it committed after every end that needed the
    /// run RUNNING (the cleaner's, a fenced write), whatever order the log shows them
    /// in: an end that needed RUNNING never replaces one.
    fn advance(&mut self, run: RunId, attempt: Option<i32>, status: RunStatus, overwrites: bool) {
        let rank = |s: RunStatus| match s {
            RunStatus::Pending => 0,
            RunStatus::Available => 1,
            RunStatus::Running => 2,
            _ => 3,
        };
        let slot = self.runs.entry(run).or_insert((attempt.unwrap_or(0), status));
        if let Some(attempt) = attempt {
            slot.0 = attempt;
        }
        if rank(status) > rank(slot.1) || (overwrites && rank(slot.1) == rank(status)) {
            slot.1 = status;
        }
    }
}

#[derive(Debug, Default)]
struct PlanReplay {
    order: Vec<TaskId>,
    tasks: HashMap<TaskId, TaskReplay>,
}

impl PlanReplay {
    fn task(&mut self, task: TaskId) -> &mut TaskReplay {
        if !self.tasks.contains_key(&task) {
            self.order.push(task);
        }
        self.tasks.entry(task).or_default()
    }

    fn states(&self) -> Vec<(TaskId, TaskState)> {
        self.order.iter().map(|t| (*t, self.tasks[t].state())).collect()
    }

    fn complete(&self) -> bool {
        !self.order.is_empty() && self.tasks.values().all(|t| t.state().is_complete())
    }
}

/// Replays `history` in log order: each plan's facts, and the entry that created each run.
pub(super) fn replay(
    history: &[Entry],
    timeline: &Timeline,
) -> (BTreeMap<PlanId, PlanFacts>, HashMap<RunId, Seq>) {
    let mut replays: BTreeMap<PlanId, PlanReplay> = BTreeMap::new();
    let mut plans: BTreeMap<PlanId, PlanFacts> = BTreeMap::new();
    let mut homes: HashMap<RunId, (PlanId, TaskId, Seq)> = HashMap::new();
    for entry in replay_order(history) {
        let span = Span::of(entry);
        let touched = match &entry.event {
            Event::PlanCreated { plan, tasks, .. } => {
                let replay = replays.entry(*plan).or_default();
                for task in tasks {
                    replay.task(*task);
                }
                Some(*plan)
            }
            Event::RunsCreated { plan, runs, episode, .. } => {
                let replay = replays.entry(*plan).or_default();
                for new in runs {
                    homes.insert(new.run, (*plan, new.task, entry.seq));
                    replay.task(new.task).advance(new.run, Some(new.attempt), RunStatus::Pending, false);
                }
                if !runs.is_empty() {
                    plans.entry(*plan).or_default().episodes.push(span, *episode);
                }
                Some(*plan)
            }
            Event::TasksSkipped { plan, tasks, episode, .. } => {
                let replay = replays.entry(*plan).or_default();
                tasks.iter().for_each(|t| replay.task(*t).skipped = true);
                let facts = plans.entry(*plan).or_default();
                tasks.iter().for_each(|t| facts.completers.entry(*t).or_default().push(span));
                if !tasks.is_empty() {
                    facts.episodes.push(span, *episode);
                }
                Some(*plan)
            }
            Event::RunsCanceled { plan, canceled, .. } => {
                let replay = replays.entry(*plan).or_default();
                canceled
                    .iter()
                    .for_each(|r| replay.task(r.task).advance(r.run, None, RunStatus::Canceled, false));
                Some(*plan)
            }
            Event::RunsPromoted { runs, .. } => {
                for run in runs {
                    if let Some((plan, task, _)) = homes.get(run) {
                        let replay = replays.entry(*plan).or_default();
                        replay.task(*task).advance(*run, None, RunStatus::Available, false);
                    }
                }
                None
            }
            Event::RunStarted { run, task, plan, attempt, .. } => {
                let replay = replays.entry(*plan).or_default();
                replay.task(*task).advance(*run, Some(*attempt), RunStatus::Running, false);
                Some(*plan)
            }
            Event::RunEnded { run, task, plan, attempt, status, overwrote, .. } => {
                let replay = replays.entry(*plan).or_default();
                replay.task(*task).advance(*run, Some(*attempt), *status, overwrote.is_some());
                if *status == RunStatus::Done {
                    plans.entry(*plan).or_default().completers.entry(*task).or_default().push(span);
                }
                if *status == RunStatus::Failed {
                    let earliest = timeline.earliest(span.invoked);
                    let overwrote = overwrote.is_some();
                    let failure =
                        Failure { span, earliest, task: *task, run: *run, overwrote, episodes: (0, 0) };
                    plans.entry(*plan).or_default().failures.push(failure);
                }
                Some(*plan)
            }
            _ => None,
        };
        if let Some(plan) = touched {
            let facts = plans.entry(plan).or_default();
            if facts.completed.is_none() && replays[&plan].complete() {
                facts.completed = Some(span);
                facts.completed_episode = facts.episodes.count().max(1);
                facts.completed_over = match &entry.event {
                    Event::RunEnded { run, overwrote: Some(_), .. } => Some(*run),
                    _ => None,
                };
            }
        }
    }

    for (plan, facts) in &mut plans {
        let episodes = facts.episodes.clone();
        // Episodes count from 1: a run, and so its failure, exists only once a batch
        // has started one, even where the history cannot order that batch first.
        facts.failures.iter_mut().for_each(|f| {
            let (lo, hi) = episodes.candidates(f.span);
            f.episodes = (lo.max(1), hi.max(1));
        });
        for (seq, note) in episodes.mismatches() {
            facts.notes.push(note);
            facts.note_entries.push(seq);
        }
        facts.tasks = replays.get(plan).map(PlanReplay::states).unwrap_or_default();
    }
    let created = homes.into_iter().map(|(run, (_, _, seq))| (run, seq)).collect();
    (plans, created)
}

impl PlanFacts {
    /// The earliest the plan can have become complete, given that it was complete
    /// after write `c`: every task must have been finished, and a task was finished no
    /// earlier than the earliest of the writes that finished it and were logged
    /// before `c` or overlapped it (one logged later may have committed first).
    pub(super) fn earliest_complete(&self, c: Span, timeline: &Timeline) -> std::time::Duration {
        let finished = |spans: &Vec<Span>| {
            spans
                .iter()
                .filter(|w| w.seq <= c.seq || w.overlaps(c))
                .map(|w| timeline.earliest(w.invoked))
                .min()
        };
        self.completers.values().filter_map(finished).max().unwrap_or_else(|| timeline.earliest(c.invoked))
    }
}

/// Records where the store's final state disagrees with the replay of `facts`.
pub(super) fn compare_final(
    facts: &mut PlanFacts,
    state: &PlanState,
    created: impl Fn(RunId) -> Option<Seq>,
) {
    let logged = facts.episodes.count();
    if state.episode != logged {
        facts.notes.push(format!("the store is at episode {}, the history shows {logged}", state.episode));
        let from = facts.episodes.first_missing(state.episode).saturating_sub(1).max(1);
        facts.failed_unknown_from = Some(facts.failed_unknown_from.map_or(from, |f| f.min(from)));
    }
    let replayed: HashMap<TaskId, TaskState> = facts.tasks.iter().copied().collect();
    let mut differ = false;
    for task in &state.tasks {
        let stored = task.state();
        let seen = replayed.get(&task.task).copied();
        if seen == Some(stored) {
            continue;
        }
        differ = true;
        let seen_text = seen.map_or("unknown", state_word);
        facts.notes.push(format!(
            "task {} is {} in the store, {seen_text} in the history",
            task.task,
            state_word(stored)
        ));
        // The entry that created the store's latest run of the task, if it was logged.
        let origin = task.latest.as_ref().and_then(|r| created(r.run));
        facts.note_entries.extend(origin);
        if stored == TaskState::Failed || seen == Some(TaskState::Failed) {
            let from = origin.map_or(1, |seq| facts.episodes.after(seq).max(1));
            facts.failed_unknown_from = Some(facts.failed_unknown_from.map_or(from, |f| f.min(from)));
        }
    }
    differ |= state.tasks.len() != replayed.len();
    let stored_complete = !state.tasks.is_empty() && state.tasks.iter().all(|t| t.state().is_complete());
    if differ && (stored_complete || facts.completed.is_some()) {
        facts.completed_unknown =
            Some("the store's final task states disagree with the history (a write went unlogged)".into());
    }
}
