//! The rollout store: the tables every replica shares, behind one trait with two
//! backends that mean the same thing.
//!
//! - [`PgStore`]: the real one, on a Postgres schema of its own ([`RunSchema`]), taking
//!   a connection of its pool per operation or holding one ([`PgConn`]).
//! - [`MemoryStore`]: an in-process model of the same tables, keys and transitions,
//!   for fast, deterministic runs. A differential test (`tests/store_differential.rs`)
//!   runs the same random operations on both and compares every answer.
//!
//! Every write returns what it changed, so callers can log it.

mod commit_log;
mod gc;
mod memory;
mod memory_index;
mod memory_outbox;
mod memory_runs;
mod memory_table;
mod memory_watch;
mod postgres;
mod postgres_conn;
mod postgres_logged;
mod postgres_outbox;
mod postgres_watch;
mod schema;
mod status_write;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use commit_log::{BeforeCommit, CommitOp, Committed, OpTag, Recorded};
pub use gc::{LeftSchema, drop_left, left_schemas};
pub use memory::MemoryStore;
pub use postgres::PgStore;
pub use postgres_conn::{PgConn, breaks_connection};
pub(crate) use postgres_outbox::{LEASE_EVENTS, MARK_DELIVERED};
pub use schema::{Plans, RunSchema, connect_options, is_run_schema, redact_url};
pub use status_write::StatusWrite;

/// Leases a relay may take of one outbox row before it stops trying to deliver it:
/// the outbox design's bound, which the run's quiet check shares ([`Store::work_left`]
/// counts a row as work until it has had this many).
pub const MAX_LEASES: u32 = 20;

use crate::Result;
use crate::model::{EventType, OpId, PlanId, ReplicaId, RunId, RunStatus, TaskId, TaskState};

/// A plan to create, with its tasks in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPlan {
    /// The project the plan belongs to.
    pub project: String,
    /// The plan's title, as webhooks show it.
    pub title: String,
    /// Task names, in order.
    pub tasks: Vec<String>,
}

/// The ids a new plan and its tasks received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedPlan {
    /// The plan.
    pub plan: PlanId,
    /// Its tasks, in the order they were given.
    pub tasks: Vec<TaskId>,
}

/// The answer to a claim on `plan_webhook_delivery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Claim {
    /// The insert returned a row: this caller may send.
    Won,
    /// A row was already there (either event type): someone else holds the claim.
    Lost,
}

/// A run that BatchRunTasks created (PENDING).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRun {
    /// The run.
    pub run: RunId,
    /// Its task.
    pub task: TaskId,
    /// 1 for the first run of a task, then the previous maximum + 1.
    pub attempt: i32,
}

/// What a batch request (BatchRunTasks, BatchSkipTasks) changed, and the plan's
/// episode after it: a batch that changed something starts the next episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch<T> {
    /// What changed (runs created, tasks skipped); empty when nothing did.
    pub changed: Vec<T>,
    /// The plan's episode after the batch.
    pub episode: u32,
}

/// A plan's tasks as the completion check reads them, with its current episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanState {
    /// The plan's project.
    pub project: String,
    /// The plan's title.
    pub title: String,
    /// The plan's episode.
    pub episode: u32,
    /// Every task with its latest run, in task order.
    pub tasks: Vec<TaskStatus>,
}

/// The title of each plan of a run, from its final plan states (as
/// `RunResult::final_state` lists them): the first state listed for a plan names it.
/// A plan the run read no state for has no title.
pub fn plan_titles(final_state: &[(PlanId, PlanState)]) -> HashMap<PlanId, &str> {
    let mut titles = HashMap::with_capacity(final_state.len());
    for (plan, state) in final_state {
        titles.entry(*plan).or_insert(state.title.as_str());
    }
    titles
}

/// A run a replica took (AVAILABLE -> RUNNING).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedRun {
    /// The run.
    pub run: RunId,
    /// Its task.
    pub task: TaskId,
    /// The task's plan.
    pub plan: PlanId,
    /// The run's attempt number.
    pub attempt: i32,
}

/// How a run ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "UPPERCASE")]
pub enum RunOutcome {
    /// DONE.
    Done,
    /// FAILED, with the error a user would read.
    Failed {
        /// The error message.
        error: String,
    },
    /// CANCELED on the user's request.
    Canceled,
}

impl RunOutcome {
    /// The status this outcome stores.
    pub fn status(&self) -> RunStatus {
        match self {
            RunOutcome::Done => RunStatus::Done,
            RunOutcome::Failed { .. } => RunStatus::Failed,
            RunOutcome::Canceled => RunStatus::Canceled,
        }
    }

    /// The error message, for FAILED.
    pub fn error(&self) -> Option<&str> {
        match self {
            RunOutcome::Failed { error } => Some(error),
            _ => None,
        }
    }
}

/// A run that ended: finished by its replica's status write, or failed by the cleaner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedRun {
    /// The run.
    pub run: RunId,
    /// Its task.
    pub task: TaskId,
    /// The task's plan.
    pub plan: PlanId,
    /// The run's attempt number.
    pub attempt: i32,
    /// The replica that was running it (for a status write, the one that wrote it).
    pub replica: ReplicaId,
    /// The status it now has.
    pub status: RunStatus,
    /// The end the write replaced, when the run had already ended (DONE, FAILED or
    /// CANCELED): only an unfenced status write does that ([`StatusWrite::Unfenced`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwrote: Option<RunStatus>,
}

/// A run and its task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    /// The run.
    pub run: RunId,
    /// Its task.
    pub task: TaskId,
}

/// What BatchCancelTaskRuns changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    /// PENDING or AVAILABLE runs now CANCELED.
    pub canceled: Vec<RunRef>,
    /// RUNNING runs, with the replica that must be told to stop them.
    pub running: Vec<(RunRef, ReplicaId)>,
}

/// The latest run of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestRun {
    /// The run.
    pub run: RunId,
    /// Its attempt number.
    pub attempt: i32,
    /// Its status.
    pub status: RunStatus,
    /// Its error, if it failed.
    pub error: Option<String>,
}

/// One task of a plan, as the completion check reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// The task.
    pub task: TaskId,
    /// Its name.
    pub name: String,
    /// Whether the user skipped it.
    pub skipped: bool,
    /// Its latest run (highest attempt), if any.
    pub latest: Option<LatestRun>,
    /// The episodes in which a run of it failed (and is still FAILED), ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_in: Vec<u32>,
}

impl PlanState {
    /// Folds `newer`, a later showing of this plan that may hold only some of its
    /// tasks, into this one: its project, title and episode, each task it shows in
    /// place of this one's, and the tasks this one lacks after the rest.
    pub fn absorb(&mut self, newer: PlanState) {
        let PlanState { project, title, episode, tasks } = newer;
        (self.project, self.title, self.episode) = (project, title, episode);
        for (i, task) in tasks.into_iter().enumerate() {
            // A whole showing lists the tasks in this one's order: try the same place
            // first.
            let at = match self.tasks.get(i) {
                Some(known) if known.task == task.task => Some(i),
                _ => self.tasks.iter().position(|t| t.task == task.task),
            };
            match at {
                Some(at) => self.tasks[at] = task,
                None => self.tasks.push(task),
            }
        }
    }
}

impl TaskStatus {
    /// The contract's task state.
    pub fn state(&self) -> TaskState {
        TaskState::derive(self.skipped, self.latest.as_ref().map(|r| r.status))
    }
}

/// A row of `plan_webhook_delivery`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRow {
    /// The plan holding the row.
    pub plan: PlanId,
    /// The event type the row was claimed for.
    pub event: EventType,
}

/// An outbox row a write raised, in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RaisedEvent {
    /// The plan.
    pub plan: PlanId,
    /// The event type.
    pub event: EventType,
    /// The plan's episode when it was raised.
    pub episode: u32,
}

/// What a write that may raise outbox events changed, and the events it raised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raising<T> {
    /// What the write itself returns.
    pub value: T,
    /// The outbox rows it inserted (a row already there is not raised twice).
    pub raised: Vec<RaisedEvent>,
}

/// An outbox row a relay took under a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeasedEvent {
    /// The event.
    pub event: RaisedEvent,
    /// Leases taken so far, this one included.
    pub leases: u32,
}

/// A row of the outbox, for inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRow {
    /// The event.
    pub event: RaisedEvent,
    /// Leases taken so far.
    pub leases: u32,
    /// Whether a relay marked it delivered.
    pub delivered: bool,
}

/// A position in the store's feed of changed plans: pass the one
/// [`Store::changed_plans`] returned to read only what changed after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor(pub(crate) u64);

/// What [`Store::changed_plans`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Each changed plan, in plan id order, with its project, title and episode and
    /// at least the tasks that changed (a backend may show them all): fold each into
    /// what earlier reads showed of the plan with [`PlanState::absorb`]. A plan's
    /// first showing has every task, as a plan's tasks are created with it.
    pub plans: Vec<(PlanId, PlanState)>,
    /// Where the next read starts.
    pub cursor: Cursor,
}

/// The operations of the rollout server on its shared database.
///
/// Each operation is atomic (one statement or one transaction), so a connection lost
/// mid-way leaves nothing half-written. Both backends answer every call the same way.
pub trait Store: Clone + Send + Sync + 'static {
    /// Creates a plan and its tasks (no runs yet).
    fn create_plan(&self, plan: &NewPlan) -> impl Future<Output = Result<CreatedPlan>> + Send;

    /// Claims the right to send `event` for `plan`:
    /// `INSERT ... ON CONFLICT (plan_id) DO NOTHING RETURNING plan_id`.
    fn claim_event(&self, plan: PlanId, event: EventType) -> impl Future<Output = Result<Claim>> + Send;

    /// Deletes the plan's claim row, returning the event type it held, if any.
    fn reset_claim(&self, plan: PlanId) -> impl Future<Output = Result<Option<EventType>>> + Send;

    /// BatchRunTasks: a PENDING run (attempt = max + 1) for each of `tasks` that belongs
    /// to `plan`, is not skipped and has no PENDING/AVAILABLE/RUNNING/DONE run. When it
    /// creates any, the plan's episode advances in the same transaction.
    fn create_pending_runs(
        &self,
        plan: PlanId,
        tasks: &[TaskId],
    ) -> impl Future<Output = Result<Batch<NewRun>>> + Send;

    /// The pending scheduler: every PENDING run becomes AVAILABLE.
    fn promote_pending(&self) -> impl Future<Output = Result<Vec<RunId>>> + Send;

    /// Takes up to `limit` AVAILABLE runs for `replica` (`FOR UPDATE SKIP LOCKED`),
    /// lowest id first, setting them RUNNING.
    fn claim_available_runs(
        &self,
        replica: &ReplicaId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ClaimedRun>>> + Send;

    /// `replica`'s status write of run `run`, guarded as `write` says: fenced, it ends
    /// the run only if it is RUNNING on `replica`; status-guarded, if it is RUNNING;
    /// unfenced, whatever its status. `None` when the guard refused it (the cleaner
    /// failed the run, say) or the run does not exist.
    fn finish_run(
        &self,
        run: RunId,
        replica: &ReplicaId,
        outcome: &RunOutcome,
        write: StatusWrite,
    ) -> impl Future<Output = Result<Option<EndedRun>>> + Send;

    /// BatchCancelTaskRuns: PENDING/AVAILABLE runs of `tasks` become CANCELED; RUNNING
    /// ones are returned so their replicas can be told.
    fn cancel_runs(
        &self,
        plan: PlanId,
        tasks: &[TaskId],
    ) -> impl Future<Output = Result<Cancellation>> + Send;

    /// BatchSkipTasks: sets the skip flag on those of `tasks` not skipped yet; returns
    /// them. When it skips any, the plan's episode advances in the same transaction.
    fn skip_tasks(
        &self,
        plan: PlanId,
        tasks: &[TaskId],
        reason: &str,
    ) -> impl Future<Output = Result<Batch<TaskId>>> + Send;

    /// The plan's episode and every task with its latest run, in task order.
    fn plan_state(&self, plan: PlanId) -> impl Future<Output = Result<PlanState>> + Send;

    /// Every plan with a task or run written since `since`, with those tasks (see
    /// [`Changes`]), in one snapshot, and the cursor to read from next (start from
    /// `Cursor::default()`). No change is missed; a task may come again without a
    /// change where the engine cannot tell what a reader saw (Postgres, while a write
    /// is in flight).
    fn changed_plans(&self, since: Cursor) -> impl Future<Output = Result<Changes>> + Send;

    /// Whether any work is left: a run PENDING, AVAILABLE or RUNNING, or an outbox row
    /// not delivered that has had fewer than `max_leases` leases.
    fn work_left(&self, max_leases: u32) -> impl Future<Output = Result<bool>> + Send;

    /// Upserts the replica's heartbeat to now.
    fn heartbeat(&self, replica: &ReplicaId) -> impl Future<Output = Result<()>> + Send;

    /// The cleaner: RUNNING runs whose replica has no heartbeat newer than
    /// `stale_after` ago become FAILED.
    fn fail_abandoned_runs(
        &self,
        stale_after: Duration,
    ) -> impl Future<Output = Result<Vec<EndedRun>>> + Send;

    /// The whole claim table, by plan.
    fn claims(&self) -> impl Future<Output = Result<Vec<ClaimRow>>> + Send;

    /// [`Store::finish_run`], raising in the same transaction (under the plan row's
    /// lock, so concurrent ends of one plan see each other) PIPELINE_FAILED for the
    /// plan's episode when the run failed, or PIPELINE_COMPLETED when it completed
    /// the plan (an unfenced DONE over a FAILED run can).
    fn finish_run_raising(
        &self,
        run: RunId,
        replica: &ReplicaId,
        outcome: &RunOutcome,
        write: StatusWrite,
    ) -> impl Future<Output = Result<Raising<Option<EndedRun>>>> + Send;

    /// [`Store::fail_abandoned_runs`], raising PIPELINE_FAILED for each plan touched.
    fn fail_abandoned_runs_raising(
        &self,
        stale_after: Duration,
    ) -> impl Future<Output = Result<Raising<Vec<EndedRun>>>> + Send;

    /// [`Store::skip_tasks`], raising PIPELINE_COMPLETED when the skip completed the plan.
    fn skip_tasks_raising(
        &self,
        plan: PlanId,
        tasks: &[TaskId],
        reason: &str,
    ) -> impl Future<Output = Result<Raising<Batch<TaskId>>>> + Send;

    /// A relay takes up to `limit` undelivered outbox rows whose lease is free or
    /// expired and that were leased fewer than `max_leases` times (`FOR UPDATE SKIP
    /// LOCKED`), leasing them to `replica` for `lease`.
    fn lease_events(
        &self,
        replica: &ReplicaId,
        limit: u32,
        lease: Duration,
        max_leases: u32,
    ) -> impl Future<Output = Result<Vec<LeasedEvent>>> + Send;

    /// Marks an outbox row delivered; false when it already was (or does not exist).
    fn mark_delivered(&self, event: RaisedEvent) -> impl Future<Output = Result<bool>> + Send;

    /// The whole outbox, in key order.
    fn outbox(&self) -> impl Future<Output = Result<Vec<OutboxRow>>> + Send;

    /// The commit log's rows of `ops`: each of those tagged writes that committed
    /// and changed something, with what it returned (see [`OpTag`]).
    fn committed(&self, ops: &[OpId]) -> impl Future<Output = Result<Committed>> + Send;
}

/// The error message the cleaner stores on a run it fails.
pub fn abandoned_error(replica: &ReplicaId) -> String {
    format!("abandoned: replica {replica} stopped heartbeating")
}

/// Either backend, chosen at run time.
#[derive(Clone, Debug)]
pub enum Backend {
    /// Postgres.
    Postgres(PgStore),
    /// The in-process model.
    Memory(MemoryStore),
}

impl Backend {
    /// This backend for one write that records itself in the commit log as `tag`.
    pub fn tagged(&self, tag: OpTag) -> Self {
        match self {
            Backend::Postgres(s) => Backend::Postgres(s.tagged(tag)),
            Backend::Memory(s) => Backend::Memory(s.tagged(tag)),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Backend::Postgres($s) => $call.await,
            Backend::Memory($s) => $call.await,
        }
    };
}

impl Store for Backend {
    async fn create_plan(&self, plan: &NewPlan) -> Result<CreatedPlan> {
        dispatch!(self, s => s.create_plan(plan))
    }
    async fn claim_event(&self, plan: PlanId, event: EventType) -> Result<Claim> {
        dispatch!(self, s => s.claim_event(plan, event))
    }
    async fn reset_claim(&self, plan: PlanId) -> Result<Option<EventType>> {
        dispatch!(self, s => s.reset_claim(plan))
    }
    async fn create_pending_runs(&self, plan: PlanId, tasks: &[TaskId]) -> Result<Batch<NewRun>> {
        dispatch!(self, s => s.create_pending_runs(plan, tasks))
    }
    async fn promote_pending(&self) -> Result<Vec<RunId>> {
        dispatch!(self, s => s.promote_pending())
    }
    async fn claim_available_runs(&self, replica: &ReplicaId, limit: u32) -> Result<Vec<ClaimedRun>> {
        dispatch!(self, s => s.claim_available_runs(replica, limit))
    }
    async fn finish_run(
        &self,
        run: RunId,
        replica: &ReplicaId,
        outcome: &RunOutcome,
        write: StatusWrite,
    ) -> Result<Option<EndedRun>> {
        dispatch!(self, s => s.finish_run(run, replica, outcome, write))
    }
    async fn cancel_runs(&self, plan: PlanId, tasks: &[TaskId]) -> Result<Cancellation> {
        dispatch!(self, s => s.cancel_runs(plan, tasks))
    }
    async fn skip_tasks(&self, plan: PlanId, tasks: &[TaskId], reason: &str) -> Result<Batch<TaskId>> {
        dispatch!(self, s => s.skip_tasks(plan, tasks, reason))
    }
    async fn plan_state(&self, plan: PlanId) -> Result<PlanState> {
        dispatch!(self, s => s.plan_state(plan))
    }
    async fn changed_plans(&self, since: Cursor) -> Result<Changes> {
        dispatch!(self, s => s.changed_plans(since))
    }
    async fn work_left(&self, max_leases: u32) -> Result<bool> {
        dispatch!(self, s => s.work_left(max_leases))
    }
    async fn heartbeat(&self, replica: &ReplicaId) -> Result<()> {
        dispatch!(self, s => s.heartbeat(replica))
    }
    async fn fail_abandoned_runs(&self, stale_after: Duration) -> Result<Vec<EndedRun>> {
        dispatch!(self, s => s.fail_abandoned_runs(stale_after))
    }
    async fn claims(&self) -> Result<Vec<ClaimRow>> {
        dispatch!(self, s => s.claims())
    }
    async fn finish_run_raising(
        &self,
        run: RunId,
        replica: &ReplicaId,
        outcome: &RunOutcome,
        write: StatusWrite,
    ) -> Result<Raising<Option<EndedRun>>> {
        dispatch!(self, s => s.finish_run_raising(run, replica, outcome, write))
    }
    async fn fail_abandoned_runs_raising(&self, stale_after: Duration) -> Result<Raising<Vec<EndedRun>>> {
        dispatch!(self, s => s.fail_abandoned_runs_raising(stale_after))
    }
    async fn skip_tasks_raising(
        &self,
        plan: PlanId,
        tasks: &[TaskId],
        reason: &str,
    ) -> Result<Raising<Batch<TaskId>>> {
        dispatch!(self, s => s.skip_tasks_raising(plan, tasks, reason))
    }
    async fn lease_events(
        &self,
        replica: &ReplicaId,
        limit: u32,
        lease: Duration,
        max_leases: u32,
    ) -> Result<Vec<LeasedEvent>> {
        dispatch!(self, s => s.lease_events(replica, limit, lease, max_leases))
    }
    async fn mark_delivered(&self, event: RaisedEvent) -> Result<bool> {
        dispatch!(self, s => s.mark_delivered(event))
    }
    async fn outbox(&self) -> Result<Vec<OutboxRow>> {
        dispatch!(self, s => s.outbox())
    }
    async fn committed(&self, ops: &[OpId]) -> Result<Committed> {
        dispatch!(self, s => s.committed(ops))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: i64, run: Option<(i64, RunStatus)>) -> TaskStatus {
        let latest = run.map(|(run, status)| LatestRun { run: RunId(run), attempt: 1, status, error: None });
        TaskStatus { task: TaskId(id), name: format!("t{id}"), skipped: false, latest, failed_in: Vec::new() }
    }

    fn plan(episode: u32, tasks: Vec<TaskStatus>) -> PlanState {
        PlanState { project: "p".into(), title: "plan".into(), episode, tasks }
    }

    #[test]
    fn absorbing_a_partial_showing_replaces_the_tasks_it_shows_and_keeps_the_rest_in_order() {
        let mut shown = plan(0, vec![task(1, None), task(2, None), task(3, None)]);
        shown.absorb(plan(1, vec![task(2, Some((7, RunStatus::Failed)))]));
        // Task 2 as the later read shows it, tasks 1 and 3 as before, the new episode.
        assert_eq!(shown, plan(1, vec![task(1, None), task(2, Some((7, RunStatus::Failed))), task(3, None)]));
    }

    #[test]
    fn absorbing_a_whole_showing_gives_that_showing() {
        let mut shown = plan(0, vec![task(1, None), task(2, None)]);
        let whole =
            plan(2, vec![task(1, Some((4, RunStatus::Done))), task(2, Some((5, RunStatus::Running)))]);
        shown.absorb(whole.clone());
        assert_eq!(shown, whole);
    }

    #[test]
    fn absorbing_into_an_empty_showing_appends_the_tasks_in_the_order_shown() {
        let mut shown = plan(0, Vec::new());
        shown.absorb(plan(0, vec![task(5, None), task(6, None)]));
        assert_eq!(shown.tasks.iter().map(|t| t.task).collect::<Vec<_>>(), [TaskId(5), TaskId(6)]);
    }
}
