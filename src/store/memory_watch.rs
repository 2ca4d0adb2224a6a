//! What the memory backend shows a watcher of the plans: a plan's state, the plans
//! changed since a position of the change feed, and whether any work is left. Reads
//! only: each runs under the store's lock, one snapshot, as one statement does.

use std::collections::BTreeSet;

use super::memory::Tables;
use super::{Changes, Cursor, LatestRun, PlanState, TaskStatus};
use crate::Result;
use crate::model::{PlanId, RunStatus};

impl Tables {
    /// The plan's episode and every task with its latest run (`Store::plan_state`).
    pub(super) fn plan_state(&self, plan: PlanId) -> Result<PlanState> {
        let row = self.plan(plan)?;
        let (project, title, episode) = (row.project.clone(), row.title.clone(), row.episode);
        let tasks = self
            .tasks_of(plan)
            .map(|(task, row)| {
                let latest = self.runs_of(*task).max_by_key(|(_, r)| r.attempt).map(|(id, r)| LatestRun {
                    run: *id,
                    attempt: r.attempt,
                    status: r.status,
                    error: r.error.clone(),
                });
                // Ascending and distinct, as `array_agg(DISTINCT ... ORDER BY ...)`.
                let failed_in: BTreeSet<u32> = self
                    .runs_of(*task)
                    .filter(|(_, r)| r.status == RunStatus::Failed)
                    .filter_map(|(_, r)| r.failed_episode)
                    .collect();
                let failed_in = failed_in.into_iter().collect();
                TaskStatus { task: *task, name: row.name.clone(), skipped: row.skipped, latest, failed_in }
            })
            .collect();
        Ok(PlanState { project, title, episode, tasks })
    }

    /// The state of every plan written since `since`, in plan id order
    /// (`Store::changed_plans`). The feed is exact here: no plan comes twice.
    pub(super) fn changed_plans(&self, since: Cursor) -> Changes {
        let (mut plans, now) = self.index.changed_since(usize::try_from(since.0).unwrap_or(usize::MAX));
        plans.sort_unstable();
        let plans = plans.into_iter().filter_map(|plan| Some((plan, self.plan_state(plan).ok()?))).collect();
        Changes { plans, cursor: Cursor(now as u64) }
    }

    /// Whether a run is open or an outbox row still owes a delivery
    /// (`Store::work_left`).
    pub(super) fn work_left(&self, max_leases: u32) -> bool {
        let open = [RunStatus::Pending, RunStatus::Available, RunStatus::Running];
        open.into_iter().any(|status| !self.index.with_status(status).is_empty())
            || self.outbox_ref().owes_delivery(max_leases)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MemoryStore, NewPlan, RunOutcome, StatusWrite, Store};
    use super::*;
    use crate::model::ReplicaId;

    fn plan(tasks: usize) -> NewPlan {
        NewPlan {
            project: "p".into(),
            title: "t".into(),
            tasks: (0..tasks).map(|i| format!("t{i}")).collect(),
        }
    }

    async fn changed(db: &MemoryStore, cursor: &mut Cursor) -> Vec<PlanId> {
        let changes = db.changed_plans(*cursor).await.unwrap();
        *cursor = changes.cursor;
        changes.plans.into_iter().map(|(plan, _)| plan).collect()
    }

    #[tokio::test]
    async fn the_feed_shows_each_plan_written_since_the_cursor_once() {
        let db = MemoryStore::new();
        let mut cursor = Cursor::default();
        let (a, b) = (db.create_plan(&plan(2)).await.unwrap(), db.create_plan(&plan(1)).await.unwrap());
        db.create_plan(&plan(0)).await.unwrap();
        assert_eq!(
            changed(&db, &mut cursor).await,
            [a.plan, b.plan],
            "a plan without tasks has no row to write"
        );
        assert!(changed(&db, &mut cursor).await.is_empty(), "nothing written since");

        db.create_pending_runs(b.plan, &b.tasks).await.unwrap();
        db.create_pending_runs(a.plan, &a.tasks).await.unwrap();
        assert_eq!(changed(&db, &mut cursor).await, [a.plan, b.plan], "in plan id order");

        db.promote_pending().await.unwrap();
        let taken = db.claim_available_runs(&ReplicaId::nth(1), 1).await.unwrap();
        assert_eq!(changed(&db, &mut cursor).await, [a.plan, b.plan]);
        let failed = RunOutcome::Failed { error: "boom".into() };
        db.finish_run(taken[0].run, &ReplicaId::nth(1), &failed, StatusWrite::Fenced).await.unwrap();
        let changes = db.changed_plans(cursor).await.unwrap();
        assert_eq!(changes.plans.len(), 1);
        assert_eq!(changes.plans[0].1, db.plan_state(taken[0].plan).await.unwrap(), "the state as it is now");

        cursor = changes.cursor;
        db.skip_tasks(b.plan, &b.tasks, "no").await.unwrap();
        assert_eq!(changed(&db, &mut cursor).await, [b.plan], "a skip writes the task");
    }

    #[tokio::test]
    async fn work_is_left_while_a_run_is_open() {
        let db = MemoryStore::new();
        assert!(!db.work_left(10).await.unwrap(), "an empty store");
        let a = db.create_plan(&plan(1)).await.unwrap();
        assert!(!db.work_left(10).await.unwrap(), "a plan without runs");
        db.create_pending_runs(a.plan, &a.tasks).await.unwrap();
        assert!(db.work_left(10).await.unwrap(), "a PENDING run");
        db.promote_pending().await.unwrap();
        let taken = db.claim_available_runs(&ReplicaId::nth(1), 1).await.unwrap();
        assert!(db.work_left(10).await.unwrap(), "a RUNNING run");
        db.finish_run(taken[0].run, &ReplicaId::nth(1), &RunOutcome::Done, StatusWrite::Fenced)
            .await
            .unwrap();
        assert!(!db.work_left(10).await.unwrap(), "every run ended");
    }
}
