//! `ReplicaCtx`: what a delivery strategy may do on the replica it runs in. Every
//! step goes through the replica's own actors (its store actor, its webhook actor)
//! and passes the crash points a scenario can strike at.

use std::future::pending;
use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

use actix::prelude::*;

use crate::actors::{
    Announce, CheckCompletion, ClaimEvent, CreatePendingRuns, FailAbandonedRuns, FailAbandonedRunsRaising,
    FinishRun, FinishRunRaising, LeaseEvents, MarkDelivered, ReadPlanState, ReplicaActor, ResetClaim,
    SkipTasks, SkipTasksRaising, StoreActor, WebhookActor,
};
use crate::faults::CrashPoint;
use crate::history::Event;
use crate::model::{EventType, PlanId, ReplicaId, RunId, RunStatus, TaskId};
use crate::store::{
    Batch, Claim, EndedRun, LeasedEvent, NewRun, PlanState, RaisedEvent, Raising, RunOutcome,
};
use crate::webhook::{FailedTask, Payload};
use crate::world::World;
use crate::{Error, Result};

/// Which tasks a PIPELINE_FAILED payload names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// Every task whose latest run is FAILED, whenever it failed (the design plan's
    /// `getFailedTaskRuns`).
    LatestFailed,
    /// The tasks a run of which failed in the payload's episode (the contract's
    /// words; the outbox relay, which knows the episode it announces).
    FailedInEpisode,
}

/// The payload announcing `event` for `plan` in `episode`, naming failed tasks as
/// `naming` says.
fn payload(plan: PlanId, event: EventType, episode: u32, state: &PlanState, naming: Naming) -> Payload {
    match event {
        EventType::PipelineCompleted => Payload::completed(plan, &state.title, &state.project, episode),
        EventType::PipelineFailed => {
            let failed = state
                .tasks
                .iter()
                .filter(|t| match naming {
                    Naming::LatestFailed => t.latest.as_ref().is_some_and(|r| r.status == RunStatus::Failed),
                    Naming::FailedInEpisode => t.failed_in.contains(&episode),
                })
                .map(|t| FailedTask {
                    task: t.task,
                    name: t.name.clone(),
                    error: t
                        .latest
                        .as_ref()
                        .filter(|r| r.status == RunStatus::Failed)
                        .and_then(|r| r.error.clone())
                        .unwrap_or_default(),
                })
                .collect();
            Payload::failed(plan, &state.title, &state.project, episode, failed)
        }
    }
}

/// What a completion check sees in `state`: whether the plan is complete (it has
/// tasks, each done or skipped) and whether a task's latest run failed.
fn completion(state: &PlanState) -> (bool, bool) {
    let complete = !state.tasks.is_empty() && state.tasks.iter().all(|t| t.state().is_complete());
    let failed = state.tasks.iter().any(|t| t.latest.as_ref().is_some_and(|r| r.status == RunStatus::Failed));
    (complete, failed)
}

/// A strategy's handle on its replica: one per incarnation, shared, so cloning it
/// into a hook's future is a reference count. Its parts are reached through `Deref`.
#[derive(Clone)]
pub struct ReplicaCtx(Rc<ReplicaParts>);

/// What a [`ReplicaCtx`] holds.
pub struct ReplicaParts {
    /// This incarnation's id, as the database and the history know it (`r2`, `r2.2`).
    pub id: ReplicaId,
    /// The replica's scenario name (`r2`), the same across restarts.
    pub name: ReplicaId,
    /// The run's world.
    pub world: World,
    pub(crate) store: Addr<StoreActor>,
    pub(crate) webhook: Addr<WebhookActor>,
    pub(crate) replica: Addr<ReplicaActor>,
}

impl ReplicaCtx {
    pub(crate) fn new(parts: ReplicaParts) -> Self {
        ReplicaCtx(Rc::new(parts))
    }
}

impl Deref for ReplicaCtx {
    type Target = ReplicaParts;

    fn deref(&self) -> &ReplicaParts {
        &self.0
    }
}

impl ReplicaCtx {
    /// Sends `msg` to the replica's store actor: every verb below is one message.
    pub(crate) async fn store<M, T>(&self, msg: M) -> Result<T>
    where
        M: Message<Result = Result<T>> + Send + 'static,
        T: Send + 'static,
        StoreActor: Handler<M>,
    {
        self.store.send(msg).await.map_err(|_| Error::ActorGone("store"))?
    }

    /// Passes a point: when the scenario crashes this replica here, the replica
    /// stops and this future never resumes; a DB link fault armed here strikes the
    /// replica's link and the replica goes on.
    pub async fn crash_point(&self, point: CrashPoint) {
        if let Some(crash) = self.world.pass(&self.name, &self.id, point) {
            self.replica.do_send(crash.message());
            pending::<()>().await;
        }
    }

    /// Claims the right to send `event` for `plan` (crash points before the claim and,
    /// when won, after it).
    pub async fn claim(&self, plan: PlanId, event: EventType) -> Result<Claim> {
        self.crash_point(CrashPoint::BeforeClaim).await;
        let claim = self.store(ClaimEvent { plan, event }).await?;
        if claim == Claim::Won {
            self.crash_point(CrashPoint::AfterClaim).await;
        }
        Ok(claim)
    }

    /// Deletes the plan's claim row (crash point after it).
    pub async fn reset(&self, plan: PlanId) -> Result<Option<EventType>> {
        let deleted = self.store(ResetClaim { plan }).await?;
        self.crash_point(CrashPoint::AfterReset).await;
        Ok(deleted)
    }

    /// Reads the plan: its title, project, episode and tasks.
    pub async fn plan_state(&self, plan: PlanId) -> Result<PlanState> {
        self.store(ReadPlanState { plan }).await
    }

    /// Reads the plan and says whether it is complete (every task done or skipped),
    /// logging the check.
    pub async fn check_complete(&self, plan: PlanId) -> Result<(bool, PlanState)> {
        let state = self.plan_state(plan).await?;
        let (complete, failed) = completion(&state);
        self.world.history.record(Some(&self.id), Event::CompletionChecked { plan, complete, failed });
        Ok((complete, state))
    }

    /// Hands the event to this replica's webhook actor, which sends it in the
    /// background (with the policy's retries).
    pub fn announce(&self, plan: PlanId, event: EventType, state: &PlanState) {
        let payload = payload(plan, event, state.episode, state, Naming::LatestFailed);
        self.webhook.do_send(Announce { payload, first_attempt: 1 });
    }

    /// Sends the event for `episode` and waits for the outcome: true once the endpoint
    /// accepted it. Tries are numbered from `first_attempt`.
    pub async fn deliver(&self, event: RaisedEvent, state: &PlanState, first_attempt: u32) -> Result<bool> {
        let payload = payload(event.plan, event.event, event.episode, state, Naming::FailedInEpisode);
        self.webhook.send(Announce { payload, first_attempt }).await.map_err(|_| Error::ActorGone("webhook"))
    }

    /// Queues a completion check of `plan` on this replica's in-memory channel: lost
    /// if the replica crashes before it runs.
    pub fn request_completion_check(&self, plan: PlanId) {
        self.replica.do_send(CheckCompletion { plan });
    }
}

/// The store's verbs: each is one operation of the replica's store actor, logged in
/// the history as it returns (a write that fails or is cut off is resolved from the
/// commit log after the run).
impl ReplicaCtx {
    /// BatchRunTasks' write: a PENDING run for each of `tasks` that has no run in
    /// progress.
    pub async fn create_runs(&self, plan: PlanId, tasks: Vec<TaskId>) -> Result<Batch<NewRun>> {
        self.store(CreatePendingRuns { plan, tasks }).await
    }

    /// BatchSkipTasks' write: marks `tasks` skipped by the user.
    pub async fn skip_tasks(&self, plan: PlanId, tasks: Vec<TaskId>) -> Result<Batch<TaskId>> {
        self.store(SkipTasks { plan, tasks, reason: SKIPPED.into() }).await
    }

    /// [`ReplicaCtx::skip_tasks`], writing in the same transaction the outbox row of
    /// the event the skip owes (the plan completing), if any.
    pub async fn skip_tasks_raising(
        &self,
        plan: PlanId,
        tasks: Vec<TaskId>,
    ) -> Result<Raising<Batch<TaskId>>> {
        self.store(SkipTasksRaising { plan, tasks, reason: SKIPPED.into() }).await
    }

    /// Writes the end of run `run`, executed by this replica, guarded as the run's
    /// status write mode says; `None` when the guard refused it. Tried once.
    pub async fn end_run(&self, run: RunId, outcome: RunOutcome) -> Result<Option<EndedRun>> {
        let (replica, write) = (self.id.clone(), self.world.status_write);
        self.store(FinishRun { run, replica, outcome, write }).await
    }

    /// [`ReplicaCtx::end_run`], writing in the same transaction the outbox row of
    /// the event the run's end owes (the plan failing or completing), if any.
    pub async fn end_run_raising(
        &self,
        run: RunId,
        outcome: RunOutcome,
    ) -> Result<Raising<Option<EndedRun>>> {
        let (replica, write) = (self.id.clone(), self.world.status_write);
        self.store(FinishRunRaising { run, replica, outcome, write }).await
    }

    /// The abandoned-run cleaner's write: fails the RUNNING runs of replicas whose
    /// heartbeat is older than `stale_after`.
    pub async fn fail_abandoned_runs(&self, stale_after: Duration) -> Result<Vec<EndedRun>> {
        self.store(FailAbandonedRuns { stale_after }).await
    }

    /// [`ReplicaCtx::fail_abandoned_runs`], writing the outbox rows of the events the
    /// failures owe in the same transaction.
    pub async fn fail_abandoned_runs_raising(&self, stale_after: Duration) -> Result<Raising<Vec<EndedRun>>> {
        self.store(FailAbandonedRunsRaising { stale_after }).await
    }

    /// Leases up to `limit` pending outbox rows for `lease`, skipping rows leased
    /// `max_leases` times already.
    pub async fn lease_events(
        &self,
        limit: u32,
        lease: Duration,
        max_leases: u32,
    ) -> Result<Vec<LeasedEvent>> {
        self.store(LeaseEvents { replica: self.id.clone(), limit, lease, max_leases }).await
    }

    /// Marks an outbox row delivered; false when it was not pending.
    pub async fn mark_delivered(&self, event: RaisedEvent) -> Result<bool> {
        self.store(MarkDelivered { event }).await
    }
}

/// Why a user's skip skipped a task.
const SKIPPED: &str = "skipped by the user";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RunId, TaskId};
    use crate::store::{LatestRun, TaskStatus};

    /// Task `id` whose latest run (attempt 2) is `status`, failing with `error`, and
    /// that has a still-FAILED run in each of `failed_in`.
    fn task(id: i64, status: RunStatus, error: Option<&str>, failed_in: &[u32]) -> TaskStatus {
        let latest = LatestRun { run: RunId(id * 10), attempt: 2, status, error: error.map(str::to_owned) };
        TaskStatus {
            task: TaskId(id),
            name: format!("t{id}"),
            skipped: false,
            latest: Some(latest),
            failed_in: failed_in.to_vec(),
        }
    }

    /// (task, error) of each task a payload names.
    fn named(p: &Payload) -> Vec<(i64, &str)> {
        p.failed_tasks.iter().map(|t| (t.task.0, t.error.as_str())).collect()
    }

    fn plan(tasks: Vec<TaskStatus>) -> PlanState {
        PlanState { project: "p".into(), title: "t".into(), episode: 2, tasks }
    }

    #[test]
    fn a_completion_check_sees_complete_when_every_task_is_done_or_skipped_and_failed_when_a_latest_run_failed()
     {
        use RunStatus::{Done, Failed, Running};
        let skipped = TaskStatus { skipped: true, ..task(3, Failed, Some("boom"), &[1]) };
        assert_eq!(completion(&plan(vec![])), (false, false), "a plan without tasks is not complete");
        assert_eq!(completion(&plan(vec![task(1, Done, None, &[])])), (true, false));
        assert_eq!(
            completion(&plan(vec![task(1, Done, None, &[]), task(2, Running, None, &[])])),
            (false, false)
        );
        assert_eq!(
            completion(&plan(vec![task(1, Done, None, &[]), task(2, Failed, None, &[1])])),
            (false, true)
        );
        // A skipped task's failed run still shows as failed; the plan is complete.
        assert_eq!(completion(&plan(vec![task(1, Done, None, &[]), skipped])), (true, true));
    }

    #[test]
    fn a_failed_payload_names_the_tasks_its_naming_picks_with_their_failed_runs_error() {
        // Task 1 failed in episode 1 and its retry is DONE; task 2 failed in episode 2.
        let state =
            plan(vec![task(1, RunStatus::Done, None, &[1]), task(2, RunStatus::Failed, Some("boom"), &[2])]);
        let f = EventType::PipelineFailed;
        // The design plan's query: the tasks whose latest run failed, whatever the episode.
        assert_eq!(named(&payload(PlanId(7), f, 1, &state, Naming::LatestFailed)), vec![(2, "boom")]);
        // The contract's words: the tasks that failed in the episode announced. Task 1's
        // error went with its failed run, which is no longer its latest.
        assert_eq!(named(&payload(PlanId(7), f, 1, &state, Naming::FailedInEpisode)), vec![(1, "")]);
        assert_eq!(named(&payload(PlanId(7), f, 2, &state, Naming::FailedInEpisode)), vec![(2, "boom")]);
        let completed = payload(PlanId(7), EventType::PipelineCompleted, 2, &state, Naming::LatestFailed);
        assert!(completed.failed_tasks.is_empty());
    }
}
