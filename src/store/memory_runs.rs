//! The memory backend's writes to runs and tasks: creating, promoting, taking,
//! ending, cancelling and skipping, each checked as the statement in
//! [`super::postgres`] checks it, and each telling the index in the same critical
//! section.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use super::memory::{RunRow, Tables};
use super::{
    Batch, Cancellation, ClaimedRun, EndedRun, NewRun, RunOutcome, RunRef, StatusWrite, abandoned_error,
};
use crate::Result;
use crate::model::{PlanId, ReplicaId, RunId, RunStatus, TaskId};

impl Tables {
    /// New PENDING runs of the plan's chosen tasks that have no open or DONE run
    /// (`Store::create_pending_runs`).
    pub(super) fn create_runs(&mut self, plan: PlanId, tasks: &[TaskId]) -> Result<Batch<NewRun>> {
        self.plan(plan)?;
        let mut created = Vec::new();
        for task in self.plan_tasks(plan, tasks) {
            let blocked = self.tasks[&task].skipped
                || self.runs_of(task).any(|(_, r)| r.status.is_open() || r.status == RunStatus::Done);
            if blocked {
                continue;
            }
            let attempt = self.runs_of(task).map(|(_, r)| r.attempt).max().unwrap_or(0) + 1;
            let run = self.runs.insert_next(RunRow {
                task,
                attempt,
                status: RunStatus::Pending,
                replica: None,
                error: None,
                failed_episode: None,
            });
            self.index.run_created(task, run, RunStatus::Pending);
            created.push(NewRun { run, task, attempt });
        }
        self.advance_episode(plan, created)
    }

    /// PENDING -> AVAILABLE, every such run (`Store::promote_pending`).
    pub(super) fn promote(&mut self) -> Result<Vec<RunId>> {
        let promoted: Vec<RunId> = self.index.with_status(RunStatus::Pending).iter().copied().collect();
        for id in &promoted {
            self.runs.get_mut(id).expect("indexed runs exist").status = RunStatus::Available;
            self.index.moved(*id, RunStatus::Pending, RunStatus::Available);
        }
        Ok(promoted)
    }

    /// `replica` takes up to `limit` AVAILABLE runs, in id order
    /// (`Store::claim_available_runs`).
    pub(super) fn take(&mut self, replica: &ReplicaId, limit: u32) -> Result<Vec<ClaimedRun>> {
        let chosen: Vec<RunId> =
            self.index.with_status(RunStatus::Available).iter().copied().take(limit as usize).collect();
        let mut claimed = Vec::with_capacity(chosen.len());
        for id in chosen {
            let run = self.runs.get_mut(&id).expect("chosen from the table");
            run.status = RunStatus::Running;
            run.replica = Some(replica.clone());
            self.index.moved(id, RunStatus::Available, RunStatus::Running);
            let (task, attempt) = (run.task, run.attempt);
            claimed.push(ClaimedRun { run: id, task, plan: self.plan_of(task), attempt });
        }
        Ok(claimed)
    }

    /// Cancels the chosen tasks' PENDING and AVAILABLE runs and names the RUNNING ones
    /// (`Store::cancel_runs`).
    pub(super) fn cancel(&mut self, plan: PlanId, tasks: &[TaskId]) -> Result<Cancellation> {
        // The runs of the chosen tasks, in id order, as a scan of the table yields them.
        let chosen: BTreeSet<RunId> = self
            .plan_tasks(plan, tasks)
            .into_iter()
            .flat_map(|task| self.index.runs(task).iter().copied())
            .collect();
        let mut cancellation = Cancellation::default();
        for id in chosen {
            let run = self.runs.get_mut(&id).expect("indexed runs exist");
            let run_ref = RunRef { run: id, task: run.task };
            match run.status {
                from @ (RunStatus::Pending | RunStatus::Available) => {
                    run.status = RunStatus::Canceled;
                    self.index.moved(id, from, RunStatus::Canceled);
                    cancellation.canceled.push(run_ref);
                }
                RunStatus::Running => {
                    let replica = run.replica.clone().expect("a RUNNING run has a replica");
                    cancellation.running.push((run_ref, replica));
                }
                _ => {}
            }
        }
        Ok(cancellation)
    }

    /// `replica`'s status write of `run`, guarded as `write` says (`Store::finish_run`).
    pub(super) fn finish(
        &mut self,
        run: RunId,
        replica: &ReplicaId,
        outcome: &RunOutcome,
        write: StatusWrite,
    ) -> Option<EndedRun> {
        let row = self.runs.get_mut(&run)?;
        if !write.allows(row.status, row.replica.as_ref(), replica) {
            return None;
        }
        let before = row.status;
        row.status = outcome.status();
        self.index.moved(run, before, outcome.status());
        row.error = outcome.error().map(str::to_owned);
        let (task, attempt) = (row.task, row.attempt);
        // As the statement's CASE: the plan's episode for a FAILED, none otherwise.
        let failed_episode =
            (outcome.status() == RunStatus::Failed).then(|| self.episode_of(self.plan_of(task))).flatten();
        self.runs.get_mut(&run).expect("just ended").failed_episode = failed_episode;
        Some(EndedRun {
            run,
            task,
            plan: self.plan_of(task),
            attempt,
            replica: replica.clone(),
            status: outcome.status(),
            overwrote: (!before.is_open()).then_some(before),
        })
    }

    /// Sets the skip flag on tasks not skipped yet (`Store::skip_tasks`).
    pub(super) fn skip(&mut self, plan: PlanId, tasks: &[TaskId]) -> Result<Batch<TaskId>> {
        self.plan(plan)?;
        let mut skipped = Vec::new();
        for task in self.plan_tasks(plan, tasks) {
            let row = self.tasks.get_mut(&task).expect("filtered to existing tasks");
            if !row.skipped {
                row.skipped = true;
                self.index.task_changed(task);
                skipped.push(task);
            }
        }
        self.advance_episode(plan, skipped)
    }

    /// Fails RUNNING runs of replicas without a fresh heartbeat (`Store::fail_abandoned_runs`).
    pub(super) fn fail_abandoned(&mut self, stale_after: Duration) -> Vec<EndedRun> {
        let now = Instant::now();
        let running: Vec<RunId> = self.index.with_status(RunStatus::Running).iter().copied().collect();
        let Tables { runs, heartbeats, tasks, plans, index, .. } = self;
        let mut ended = Vec::new();
        for id in &running {
            let run = runs.get_mut(id).expect("indexed runs exist");
            let replica = run.replica.clone().expect("a RUNNING run has a replica");
            let fresh = heartbeats.get(&replica).is_some_and(|hb| now.duration_since(*hb) < stale_after);
            if fresh {
                continue;
            }
            run.status = RunStatus::Failed;
            index.moved(*id, RunStatus::Running, RunStatus::Failed);
            run.error = Some(abandoned_error(&replica));
            run.failed_episode = plans.get(&tasks[&run.task].plan).map(|p| p.episode);
            ended.push(EndedRun {
                run: *id,
                task: run.task,
                plan: tasks[&run.task].plan,
                attempt: run.attempt,
                replica,
                status: RunStatus::Failed,
                overwrote: None,
            });
        }
        ended
    }
}
