//! The memory backend's indexes: what the database keeps beside its tables so that a
//! statement reads the rows it needs and not the whole table (`task.plan_id`,
//! `task_run.task_id`, `task_run.status`).
//!
//! Every write that adds a task or a run, or changes a run's status, tells the index
//! in the same critical section, so the index always agrees with the tables. Each
//! index yields ids in ascending order, the order a scan of the table by primary key
//! yields them, so answers do not depend on whether an index was used.
//!
//! The index also keeps the store's change feed: the plan of every write to a task or
//! a run, in commit order, which is how a watcher reads only the plans that changed
//! (`Store::changed_plans`).

use std::collections::BTreeSet;

use super::memory_table::SeqId;
use crate::model::{PlanId, RunId, RunStatus, TaskId};

/// The indexes of the plan, task and run tables.
#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    /// Each plan's tasks, in id order, at the plan's position (ids are sequences).
    tasks_of: Vec<Vec<TaskId>>,
    /// Each task's runs, in id order (which is attempt order: a new run of a task
    /// takes the highest attempt so far plus one, and the next id), at the task's
    /// position.
    runs_of: Vec<Vec<RunId>>,
    /// PENDING runs, in id order.
    pending: BTreeSet<RunId>,
    /// AVAILABLE runs, in id order.
    available: BTreeSet<RunId>,
    /// RUNNING runs, in id order.
    running: BTreeSet<RunId>,
    /// Each task's plan, at the task's position.
    plan_of_task: Vec<PlanId>,
    /// Each run's task, at the run's position.
    task_of_run: Vec<TaskId>,
    /// The change feed: the plan of each write to one of its tasks or runs, in the
    /// order the writes committed.
    feed: Vec<PlanId>,
}

impl Index {
    /// A task was created for `plan`; ids are handed out in ascending order.
    pub(super) fn task_created(&mut self, plan: PlanId, task: TaskId) {
        slot(&mut self.tasks_of, plan).push(task);
        set(&mut self.plan_of_task, task, plan);
        self.changed(plan);
    }

    /// A run of `task` was created with `status`; ids are handed out in ascending order.
    pub(super) fn run_created(&mut self, task: TaskId, run: RunId, status: RunStatus) {
        slot(&mut self.runs_of, task).push(run);
        set(&mut self.task_of_run, run, task);
        if let Some(set) = self.status_mut(status) {
            set.insert(run);
        }
        self.task_changed(task);
    }

    /// Task `task` was written (its skip flag).
    pub(super) fn task_changed(&mut self, task: TaskId) {
        if let Some(&plan) = position(task).and_then(|i| self.plan_of_task.get(i)) {
            self.changed(plan);
        }
    }

    /// Run `run` was written, moving from status `from` to `to` (the same status when
    /// only its other columns changed).
    pub(super) fn moved(&mut self, run: RunId, from: RunStatus, to: RunStatus) {
        if let Some(&task) = position(run).and_then(|i| self.task_of_run.get(i)) {
            self.task_changed(task);
        }
        if from == to {
            return;
        }
        if let Some(set) = self.status_mut(from) {
            set.remove(&run);
        }
        if let Some(set) = self.status_mut(to) {
            set.insert(run);
        }
    }

    /// The tasks of `plan`, in id order.
    pub(super) fn tasks(&self, plan: PlanId) -> &[TaskId] {
        position(plan).and_then(|i| self.tasks_of.get(i)).map_or(&[], Vec::as_slice)
    }

    /// The runs of `task`, in id order.
    pub(super) fn runs(&self, task: TaskId) -> &[RunId] {
        position(task).and_then(|i| self.runs_of.get(i)).map_or(&[], Vec::as_slice)
    }

    /// The runs with `status`, in id order: PENDING, AVAILABLE and RUNNING are
    /// indexed; an ended status is not (no statement looks runs up by it).
    pub(super) fn with_status(&self, status: RunStatus) -> &BTreeSet<RunId> {
        static NONE: BTreeSet<RunId> = BTreeSet::new();
        match status {
            RunStatus::Pending => &self.pending,
            RunStatus::Available => &self.available,
            RunStatus::Running => &self.running,
            RunStatus::Done | RunStatus::Failed | RunStatus::Canceled => &NONE,
        }
    }

    /// The plans written since position `since` of the change feed, each once, in
    /// the order of their first write since then; and the feed's position now.
    pub(super) fn changed_since(&self, since: usize) -> (Vec<PlanId>, usize) {
        let mut seen = std::collections::HashSet::new();
        let recent = self.feed.get(since..).unwrap_or_default();
        (recent.iter().copied().filter(|plan| seen.insert(*plan)).collect(), self.feed.len())
    }

    fn changed(&mut self, plan: PlanId) {
        self.feed.push(plan);
    }

    fn status_mut(&mut self, status: RunStatus) -> Option<&mut BTreeSet<RunId>> {
        match status {
            RunStatus::Pending => Some(&mut self.pending),
            RunStatus::Available => Some(&mut self.available),
            RunStatus::Running => Some(&mut self.running),
            RunStatus::Done | RunStatus::Failed | RunStatus::Canceled => None,
        }
    }

    /// Where the index disagrees with the tables' rows, given every task with its plan
    /// and every run with its task and status, each in id order; `Ok` when it agrees.
    #[cfg(test)]
    pub(super) fn check(
        &self,
        tasks: impl Iterator<Item = (TaskId, PlanId)>,
        runs: impl Iterator<Item = (RunId, TaskId, RunStatus)>,
    ) -> Result<(), String> {
        let mut rebuilt = Index::default();
        tasks.for_each(|(task, plan)| rebuilt.task_created(plan, task));
        runs.for_each(|(run, task, status)| rebuilt.run_created(task, run, status));
        if self.tasks_of != rebuilt.tasks_of {
            return Err(format!("tasks by plan: index {:?}, tables {:?}", self.tasks_of, rebuilt.tasks_of));
        }
        if self.plan_of_task != rebuilt.plan_of_task || self.task_of_run != rebuilt.task_of_run {
            return Err("the plan of a task or the task of a run disagrees with the tables".into());
        }
        if self.runs_of != rebuilt.runs_of {
            return Err(format!("runs by task: index {:?}, tables {:?}", self.runs_of, rebuilt.runs_of));
        }
        for status in [RunStatus::Pending, RunStatus::Available, RunStatus::Running] {
            let (index, tables) = (self.with_status(status), rebuilt.with_status(status));
            if index != tables {
                return Err(format!("{status} runs: index {index:?}, tables {tables:?}"));
            }
        }
        Ok(())
    }
}

/// Where the entries of `id` live in a list indexed by id.
fn position(id: impl SeqId) -> Option<usize> {
    usize::try_from(id.seq()).ok()?.checked_sub(1)
}

/// Sets the value at `id`'s position, the list grown to hold it (ids come in
/// ascending order, so the growth fills no gap that a later id would not).
fn set<T: Copy>(list: &mut Vec<T>, id: impl SeqId, value: T) {
    let i = position(id).expect("sequence ids count from 1");
    if list.len() <= i {
        list.resize(i + 1, value);
    }
    list[i] = value;
}

/// The entries of `id`, the list grown to hold them. Only ids that a table handed
/// out come here, so the list grows with the table.
fn slot<T>(list: &mut Vec<Vec<T>>, id: impl SeqId) -> &mut Vec<T> {
    let i = position(id).expect("sequence ids count from 1");
    if list.len() <= i {
        list.resize_with(i + 1, Vec::new);
    }
    &mut list[i]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::model::ReplicaId;
    use crate::store::{MemoryStore, NewPlan, RunOutcome, StatusWrite, Store};

    /// A write of the memory store, on ids from small ranges so that writes hit
    /// existing rows most of the time.
    #[derive(Debug, Clone)]
    enum Op {
        CreatePlan(usize),
        RunTasks(i64, Vec<i64>),
        Promote,
        Take(usize, u32),
        Finish(i64, usize, u8, StatusWrite, bool),
        Cancel(i64, Vec<i64>),
        Skip(i64, Vec<i64>, bool),
        Heartbeat(usize),
        Clean(bool, bool),
        Lease(u32, bool),
        /// Marks the n-th row of the outbox (modulo its length) delivered.
        Mark(usize),
        Wait,
    }

    fn op() -> impl Strategy<Value = Op> {
        let (plan, tasks) = (1..=4i64, prop::collection::vec(1..=12i64, 0..4));
        let write = prop::sample::select(StatusWrite::ALL.to_vec());
        prop_oneof![
            2 => (0..4usize).prop_map(Op::CreatePlan),
            3 => (plan.clone(), tasks.clone()).prop_map(|(p, t)| Op::RunTasks(p, t)),
            2 => Just(Op::Promote),
            3 => (1..=3usize, 0..4u32).prop_map(|(r, l)| Op::Take(r, l)),
            4 => (1..=14i64, 1..=3usize, 0..3u8, write, any::<bool>())
                .prop_map(|(run, r, o, w, raising)| Op::Finish(run, r, o, w, raising)),
            1 => (plan.clone(), tasks.clone()).prop_map(|(p, t)| Op::Cancel(p, t)),
            1 => (plan, tasks, any::<bool>()).prop_map(|(p, t, raising)| Op::Skip(p, t, raising)),
            1 => (1..=3usize).prop_map(Op::Heartbeat),
            1 => (any::<bool>(), any::<bool>()).prop_map(|(stale, raising)| Op::Clean(stale, raising)),
            2 => (0..3u32, any::<bool>()).prop_map(|(l, expire)| Op::Lease(l, expire)),
            2 => (0..8usize).prop_map(Op::Mark),
            1 => Just(Op::Wait),
        ]
    }

    /// Applies `op`; errors (a missing plan, say) are answers like any other here.
    async fn apply(db: &MemoryStore, op: &Op) {
        let ids = |v: &[i64]| v.iter().map(|&t| TaskId(t)).collect::<Vec<_>>();
        let outcome = |n: u8| match n {
            0 => RunOutcome::Done,
            1 => RunOutcome::Failed { error: "boom".into() },
            _ => RunOutcome::Canceled,
        };
        let bound = |stale: bool| if stale { Duration::ZERO } else { Duration::from_secs(3600) };
        let _ = match op {
            Op::CreatePlan(n) => {
                let tasks = (0..*n).map(|i| format!("t{i}")).collect();
                db.create_plan(&NewPlan { project: "p".into(), title: "t".into(), tasks }).await.map(drop)
            }
            Op::RunTasks(plan, tasks) => db.create_pending_runs(PlanId(*plan), &ids(tasks)).await.map(drop),
            Op::Promote => db.promote_pending().await.map(drop),
            Op::Take(r, limit) => db.claim_available_runs(&ReplicaId::nth(*r), *limit).await.map(drop),
            Op::Finish(run, r, o, write, false) => {
                db.finish_run(RunId(*run), &ReplicaId::nth(*r), &outcome(*o), *write).await.map(drop)
            }
            Op::Finish(run, r, o, write, true) => {
                db.finish_run_raising(RunId(*run), &ReplicaId::nth(*r), &outcome(*o), *write).await.map(drop)
            }
            Op::Cancel(plan, tasks) => db.cancel_runs(PlanId(*plan), &ids(tasks)).await.map(drop),
            Op::Skip(plan, tasks, false) => db.skip_tasks(PlanId(*plan), &ids(tasks), "s").await.map(drop),
            Op::Skip(plan, tasks, true) => {
                db.skip_tasks_raising(PlanId(*plan), &ids(tasks), "s").await.map(drop)
            }
            Op::Heartbeat(r) => db.heartbeat(&ReplicaId::nth(*r)).await,
            Op::Clean(stale, false) => db.fail_abandoned_runs(bound(*stale)).await.map(drop),
            Op::Clean(stale, true) => db.fail_abandoned_runs_raising(bound(*stale)).await.map(drop),
            Op::Lease(limit, expire) => {
                let lease = if *expire { Duration::ZERO } else { Duration::from_secs(1) };
                db.lease_events(&ReplicaId::nth(1), *limit, lease, 3).await.map(drop)
            }
            Op::Mark(n) => match db.outbox().await {
                Ok(rows) if !rows.is_empty() => db.mark_delivered(rows[n % rows.len()].event).await.map(drop),
                other => other.map(drop),
            },
            Op::Wait => {
                tokio::time::advance(Duration::from_secs(2)).await;
                Ok(())
            }
        };
    }

    proptest! {
        #[test]
        fn the_indexes_agree_with_a_full_scan_after_every_write(ops in prop::collection::vec(op(), 1..60)) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
            let db = MemoryStore::new();
            for (step, op) in ops.iter().enumerate() {
                runtime.block_on(apply(&db, op));
                prop_assert_eq!(db.check_indexes(), Ok(()), "after step {} ({:?})", step, op);
            }
        }
    }

    #[test]
    fn a_run_is_indexed_under_its_current_status_only() {
        let mut index = Index::default();
        index.task_created(PlanId(1), TaskId(1));
        index.run_created(TaskId(1), RunId(1), RunStatus::Pending);
        index.run_created(TaskId(1), RunId(2), RunStatus::Pending);
        index.moved(RunId(1), RunStatus::Pending, RunStatus::Running);
        assert_eq!(index.with_status(RunStatus::Pending).iter().copied().collect::<Vec<_>>(), [RunId(2)]);
        assert_eq!(index.with_status(RunStatus::Running).iter().copied().collect::<Vec<_>>(), [RunId(1)]);
        index.moved(RunId(1), RunStatus::Running, RunStatus::Failed);
        assert!(index.with_status(RunStatus::Running).is_empty());
        assert!(index.with_status(RunStatus::Failed).is_empty());
        assert_eq!(index.runs(TaskId(1)), [RunId(1), RunId(2)]);
        assert_eq!(index.tasks(PlanId(1)), [TaskId(1)]);
        assert!(index.tasks(PlanId(2)).is_empty());
    }

    #[test]
    fn check_finds_an_index_that_missed_a_move() {
        let mut index = Index::default();
        index.task_created(PlanId(1), TaskId(1));
        index.run_created(TaskId(1), RunId(1), RunStatus::Pending);
        let tasks = || [(TaskId(1), PlanId(1))].into_iter();
        assert_eq!(index.check(tasks(), [(RunId(1), TaskId(1), RunStatus::Pending)].into_iter()), Ok(()));
        let err =
            index.check(tasks(), [(RunId(1), TaskId(1), RunStatus::Available)].into_iter()).unwrap_err();
        assert!(err.contains("PENDING runs"), "{err}");
    }
}
