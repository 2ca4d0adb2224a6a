//! The memory backend: the same tables as the migration, held in one process.
//!
//! Each operation runs under one lock, so it is atomic like the transaction it models;
//! keys, foreign keys, the BatchRunTasks rules and every status transition are checked
//! exactly as the SQL in [`super::postgres`] checks them. Time is tokio's clock, so a
//! run on a paused clock is deterministic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::commit_log::{Committed, OpTag, Recorded};
use super::memory_index::Index;
use super::memory_table::Table;
use super::{
    Batch, Cancellation, Changes, Claim, ClaimRow, ClaimedRun, CreatedPlan, Cursor, EndedRun, LeasedEvent,
    NewPlan, NewRun, OutboxRow, PlanState, RaisedEvent, Raising, RunOutcome, StatusWrite, Store,
};
use crate::model::{EventType, OpId, PlanId, ReplicaId, RunId, RunStatus, TaskId};
use crate::{Error, Result};

/// The shared in-process database. Clones share the same tables.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    /// The standby's copy of the tables while replication is cut ([`MemoryStore::cut_replication`]);
    /// `None` while it keeps up (it has every commit).
    standby: Arc<Mutex<Option<Tables>>>,
    /// The write being made, when a replica's store actor tagged it.
    tag: Option<OpTag>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Tables {
    // Keyed by sequences, like BIGSERIAL: ids are handed out 1, 2, 3, ...
    pub(super) plans: Table<PlanId, PlanRow>,
    pub(super) tasks: Table<TaskId, TaskRow>,
    pub(super) runs: Table<RunId, RunRow>,
    pub(super) heartbeats: HashMap<ReplicaId, Instant>,
    claims: BTreeMap<PlanId, EventType>,
    outbox: super::memory_outbox::Outbox,
    /// Tasks by plan, runs by task and by status, kept in step with the tables.
    pub(super) index: Index,
    /// The commit log: what each tagged write that changed something returned, as
    /// JSON text (a parsed JSON value of every write would be most of a run's memory;
    /// the log is read back only for the few writes whose answer never came).
    commits: BTreeMap<OpId, Box<str>>,
}

#[derive(Debug, Clone)]
pub(super) struct PlanRow {
    pub(super) project: String,
    pub(super) title: String,
    pub(super) episode: u32,
}

#[derive(Debug, Clone)]
pub(super) struct TaskRow {
    pub(super) plan: PlanId,
    pub(super) name: String,
    pub(super) skipped: bool,
}

#[derive(Debug, Clone)]
pub(super) struct RunRow {
    pub(super) task: TaskId,
    pub(super) attempt: i32,
    pub(super) status: RunStatus,
    pub(super) replica: Option<ReplicaId>,
    pub(super) error: Option<String>,
    /// The plan's episode when its FAILED committed.
    pub(super) failed_episode: Option<u32>,
}

impl MemoryStore {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// The model of a standby cut off from the primary: from now on it keeps the
    /// tables as they stand, and hears of no commit until
    /// [`MemoryStore::restore_replication`].
    pub fn cut_replication(&self) {
        let mut standby = self.standby.lock().unwrap_or_else(|p| p.into_inner());
        if standby.is_none() {
            *standby = Some(self.lock().clone());
        }
    }

    /// The standby hears the primary again and catches up: it has every commit.
    pub fn restore_replication(&self) {
        *self.standby.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The primary fails and the standby takes over: the tables become what the
    /// standby had (the commits since replication was cut are gone).
    pub fn fail_over(&self) {
        if let Some(standby) = self.standby.lock().unwrap_or_else(|p| p.into_inner()).take() {
            *self.lock() = standby;
        }
    }

    /// This store for one write that records itself in the commit log as `tag`.
    pub fn tagged(&self, tag: OpTag) -> Self {
        MemoryStore { tag: Some(tag), ..self.clone() }
    }

    /// Runs a write under the lock. A tagged write that changed something is recorded
    /// in the commit log in the same critical section, as the transaction that the
    /// Postgres backend runs records it.
    fn write<T: Recorded>(&self, f: impl FnOnce(&mut Tables) -> Result<T>) -> Result<T> {
        let mut t = self.lock();
        // The log's key is unique, as the table's primary key is: a write whose number
        // is taken fails whole, before it changes anything.
        if let Some(tag) = &self.tag
            && t.commits.contains_key(&tag.op)
        {
            return Err(Error::CommitLog(format!("operation {} is already in the commit log", tag.op)));
        }
        let value = f(&mut t)?;
        if let Some(tag) = &self.tag
            && value.changed()
        {
            t.commits.insert(tag.op, to_json_text(&value)?);
        }
        Ok(value)
    }

    /// Where an index disagrees with a full scan of its table; `Ok` when none does.
    #[cfg(test)]
    pub(super) fn check_indexes(&self) -> std::result::Result<(), String> {
        let t = self.lock();
        let tasks = t.tasks.iter().map(|(id, row)| (id, row.plan));
        t.index.check(tasks, t.runs.iter().map(|(id, row)| (id, row.task, row.status)))?;
        t.outbox.check()
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves consistent tables (every operation
        // validates before it writes), so a poisoned lock is still usable.
        self.tables.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A write's result as the memory commit log keeps it: the JSON the Postgres log
/// stores, as text.
fn to_json_text<T: Recorded>(value: &T) -> Result<Box<str>> {
    let text =
        serde_json::to_string(value).map_err(|e| Error::CommitLog(format!("cannot record a result: {e}")))?;
    Ok(text.into_boxed_str())
}

/// A result the memory commit log kept, as the Postgres log returns it.
fn from_json_text(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::CommitLog(format!("cannot read a recorded result: {e}")))
}

impl Tables {
    /// The distinct tasks of `tasks` that belong to `plan`, in id order (`id = ANY($2)`).
    pub(super) fn plan_tasks(&self, plan: PlanId, tasks: &[TaskId]) -> Vec<TaskId> {
        let chosen: BTreeSet<TaskId> = tasks.iter().copied().collect();
        chosen.into_iter().filter(|t| self.tasks.get(t).is_some_and(|row| row.plan == plan)).collect()
    }

    /// The runs of `task`, in id order (through the index).
    pub(super) fn runs_of(&self, task: TaskId) -> impl Iterator<Item = (&RunId, &RunRow)> {
        self.index.runs(task).iter().map(|id| (id, &self.runs[id]))
    }

    /// The tasks of `plan`, in id order (through the index).
    pub(super) fn tasks_of(&self, plan: PlanId) -> impl Iterator<Item = (&TaskId, &TaskRow)> {
        self.index.tasks(plan).iter().map(|id| (id, &self.tasks[id]))
    }

    pub(super) fn plan_of(&self, task: TaskId) -> PlanId {
        self.tasks[&task].plan
    }

    pub(super) fn episode_of(&self, plan: PlanId) -> Option<u32> {
        self.plans.get(&plan).map(|p| p.episode)
    }

    /// Whether the plan has tasks and every one is skipped or its latest run is DONE.
    pub(super) fn complete(&self, plan: PlanId) -> bool {
        let mut tasks = self.tasks_of(plan).peekable();
        tasks.peek().is_some()
            && tasks.all(|(id, t)| {
                t.skipped
                    || self
                        .runs_of(*id)
                        .max_by_key(|(_, r)| r.attempt)
                        .is_some_and(|(_, r)| r.status == RunStatus::Done)
            })
    }

    pub(super) fn outbox_mut(&mut self) -> &mut super::memory_outbox::Outbox {
        &mut self.outbox
    }

    pub(super) fn outbox_ref(&self) -> &super::memory_outbox::Outbox {
        &self.outbox
    }

    pub(super) fn plan(&self, plan: PlanId) -> Result<&PlanRow> {
        self.plans.get(&plan).ok_or(Error::NoSuchPlan(plan))
    }

    /// Ends a batch: the plan's episode advances when the batch changed something.
    pub(super) fn advance_episode<T>(&mut self, plan: PlanId, changed: Vec<T>) -> Result<Batch<T>> {
        let row = self.plans.get_mut(&plan).ok_or(Error::NoSuchPlan(plan))?;
        if !changed.is_empty() {
            row.episode += 1;
        }
        Ok(Batch { changed, episode: row.episode })
    }
}

impl Store for MemoryStore {
    async fn create_plan(&self, plan: &NewPlan) -> Result<CreatedPlan> {
        self.write(|t| {
            let id = t.plans.insert_next(PlanRow {
                project: plan.project.clone(),
                title: plan.title.clone(),
                episode: 0,
            });
            let mut tasks = Vec::with_capacity(plan.tasks.len());
            for name in &plan.tasks {
                let task = t.tasks.insert_next(TaskRow { plan: id, name: name.clone(), skipped: false });
                t.index.task_created(id, task);
                tasks.push(task);
            }
            Ok(CreatedPlan { plan: id, tasks })
        })
    }

    async fn claim_event(&self, plan: PlanId, event: EventType) -> Result<Claim> {
        self.write(|t| {
            t.plan(plan)?;
            if t.claims.contains_key(&plan) {
                return Ok(Claim::Lost);
            }
            t.claims.insert(plan, event);
            Ok(Claim::Won)
        })
    }

    async fn reset_claim(&self, plan: PlanId) -> Result<Option<EventType>> {
        self.write(|t| Ok(t.claims.remove(&plan)))
    }

    async fn create_pending_runs(&self, plan: PlanId, tasks: &[TaskId]) -> Result<Batch<NewRun>> {
        self.write(|t| t.create_runs(plan, tasks))
    }

    async fn promote_pending(&self) -> Result<Vec<RunId>> {
        self.write(Tables::promote)
    }

    async fn claim_available_runs(&self, replica: &ReplicaId, limit: u32) -> Result<Vec<ClaimedRun>> {
        self.write(|t| t.take(replica, limit))
    }

    async fn finish_run(
        &self,
        run: RunId,
        replica: &ReplicaId,
        outcome: &RunOutcome,
        write: StatusWrite,
    ) -> Result<Option<EndedRun>> {
        self.write(|t| Ok(t.finish(run, replica, outcome, write)))
    }

    async fn cancel_runs(&self, plan: PlanId, tasks: &[TaskId]) -> Result<Cancellation> {
        self.write(|t| t.cancel(plan, tasks))
    }

    async fn skip_tasks(&self, plan: PlanId, tasks: &[TaskId], _reason: &str) -> Result<Batch<TaskId>> {
        self.write(|t| t.skip(plan, tasks))
    }

    async fn plan_state(&self, plan: PlanId) -> Result<PlanState> {
        self.lock().plan_state(plan)
    }

    async fn changed_plans(&self, since: Cursor) -> Result<Changes> {
        Ok(self.lock().changed_plans(since))
    }

    async fn work_left(&self, max_leases: u32) -> Result<bool> {
        Ok(self.lock().work_left(max_leases))
    }

    async fn heartbeat(&self, replica: &ReplicaId) -> Result<()> {
        self.lock().heartbeats.insert(replica.clone(), Instant::now());
        Ok(())
    }

    async fn fail_abandoned_runs(&self, stale_after: Duration) -> Result<Vec<EndedRun>> {
        self.write(|t| Ok(t.fail_abandoned(stale_after)))
    }

    async fn claims(&self) -> Result<Vec<ClaimRow>> {
        Ok(self.lock().claims.iter().map(|(plan, event)| ClaimRow { plan: *plan, event: *event }).collect())
    }

    async fn finish_run_raising(
        &self,
        run: RunId,
        replica: &ReplicaId,
        outcome: &RunOutcome,
        write: StatusWrite,
    ) -> Result<Raising<Option<EndedRun>>> {
        self.write(|t| {
            let ended = t.finish(run, replica, outcome, write);
            let raised = ended.as_ref().and_then(|e| t.raise_for_end(e));
            Ok(Raising { value: ended, raised: raised.into_iter().collect() })
        })
    }

    async fn fail_abandoned_runs_raising(&self, stale_after: Duration) -> Result<Raising<Vec<EndedRun>>> {
        self.write(|t| {
            let ended = t.fail_abandoned(stale_after);
            let plans: BTreeSet<PlanId> = ended.iter().map(|e| e.plan).collect();
            let raised = plans.into_iter().filter_map(|plan| t.raise_failed(plan)).collect();
            Ok(Raising { value: ended, raised })
        })
    }

    async fn skip_tasks_raising(
        &self,
        plan: PlanId,
        tasks: &[TaskId],
        _reason: &str,
    ) -> Result<Raising<Batch<TaskId>>> {
        self.write(|t| {
            let batch = t.skip(plan, tasks)?;
            let raised = if batch.changed.is_empty() { None } else { t.raise_if_complete(plan) };
            Ok(Raising { value: batch, raised: raised.into_iter().collect() })
        })
    }

    async fn lease_events(
        &self,
        replica: &ReplicaId,
        limit: u32,
        lease: Duration,
        max_leases: u32,
    ) -> Result<Vec<LeasedEvent>> {
        self.write(|t| Ok(t.lease(replica, limit, lease, max_leases)))
    }

    async fn mark_delivered(&self, event: RaisedEvent) -> Result<bool> {
        self.write(|t| Ok(t.mark_delivered(event)))
    }

    async fn outbox(&self) -> Result<Vec<OutboxRow>> {
        Ok(self.lock().outbox_rows())
    }

    async fn committed(&self, ops: &[OpId]) -> Result<Committed> {
        let t = self.lock();
        ops.iter()
            .filter_map(|op| Some((*op, t.commits.get(op)?)))
            .map(|(op, text)| Ok((op, from_json_text(text)?)))
            .collect()
    }
}
