//! The Postgres backend: the statements the rollout server runs, as free functions
//! over any executor (a pool, a connection or an open transaction), and [`PgStore`],
//! which runs them on a connection of its pool (or the one it holds, see
//! [`super::postgres_conn`]) and wraps the multi-statement ones in transactions.

use std::time::Duration;

use sqlx::{PgExecutor, PgPool, Postgres, Transaction};

use super::commit_log::{self, Committed, OpTag};
use super::postgres_conn::{Held, on_connection, write_op, write_tx};
use super::postgres_logged::{self, logged, logged_op};

use super::{
    Batch, Cancellation, Changes, Claim, ClaimRow, ClaimedRun, CreatedPlan, Cursor, EndedRun, LeasedEvent,
    NewPlan, NewRun, OutboxRow, PlanState, RaisedEvent, Raising, RunOutcome, RunRef, StatusWrite, Store,
};
use crate::model::{EventType, OpId, PlanId, ReplicaId, RunId, RunStatus, TaskId};
use crate::{Error, Result};

/// The SQLSTATE Postgres raises for a foreign key violation.
const FOREIGN_KEY_VIOLATION: &str = "23503";

/// The store on a Postgres pool whose connections use one run's schema. Clones share
/// the pool (and the held connection, for a store made with [`PgStore::holding`]).
#[derive(Clone, Debug)]
pub struct PgStore {
    pub(super) pool: PgPool,
    pub(super) held: Option<Held>,
    /// The write being made, when a replica's store actor tagged it.
    pub(super) tag: Option<OpTag>,
}

impl PgStore {
    /// The store on `pool` (see [`super::RunSchema::pool`]), taking a connection from
    /// it for each operation.
    pub fn new(pool: PgPool) -> Self {
        PgStore { pool, held: None, tag: None }
    }

    /// This store for one write that records itself in the commit log as `tag`.
    pub fn tagged(&self, tag: OpTag) -> Self {
        PgStore { tag: Some(tag), ..self.clone() }
    }

    /// The pool, e.g. to close it when a replica crashes.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn ids<T: Copy>(items: &[T], f: impl Fn(T) -> i64) -> Vec<i64> {
    items.iter().map(|&t| f(t)).collect()
}

/// The plan's claim: the design plan's `INSERT ... ON CONFLICT DO NOTHING RETURNING`.
pub async fn claim_event(db: impl PgExecutor<'_>, plan: PlanId, event: EventType) -> Result<Claim> {
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO plan_webhook_delivery (plan_id, event_type) VALUES ($1, $2) \
         ON CONFLICT (plan_id) DO NOTHING RETURNING plan_id",
    )
    .bind(plan.0)
    .bind(event.as_str())
    .fetch_optional(db)
    .await
    .map_err(|e| no_such_plan(e, plan))?;
    Ok(if row.is_some() { Claim::Won } else { Claim::Lost })
}

/// Deletes the plan's claim row, returning its event type.
pub async fn reset_claim(db: impl PgExecutor<'_>, plan: PlanId) -> Result<Option<EventType>> {
    let row: Option<(String,)> =
        sqlx::query_as("DELETE FROM plan_webhook_delivery WHERE plan_id = $1 RETURNING event_type")
            .bind(plan.0)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(e,)| e.parse()).transpose()?)
}

fn no_such_plan(e: sqlx::Error, plan: PlanId) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some(FOREIGN_KEY_VIOLATION) => {
            Error::NoSuchPlan(plan)
        }
        _ => Error::Database(e),
    }
}

async fn create_plan(tx: &mut Transaction<'_, Postgres>, plan: &NewPlan) -> Result<CreatedPlan> {
    let (id,): (i64,) = sqlx::query_as("INSERT INTO plan (project, title) VALUES ($1, $2) RETURNING id")
        .bind(&plan.project)
        .bind(&plan.title)
        .fetch_one(&mut **tx)
        .await?;
    let mut tasks: Vec<(i64, i32)> = sqlx::query_as(
        "INSERT INTO task (plan_id, position, name) \
         SELECT $1, t.ord, t.name FROM unnest($2::text[]) WITH ORDINALITY AS t(name, ord) \
         ORDER BY t.ord RETURNING id, position",
    )
    .bind(id)
    .bind(&plan.tasks)
    .fetch_all(&mut **tx)
    .await?;
    tasks.sort_by_key(|&(_, position)| position);
    Ok(CreatedPlan { plan: PlanId(id), tasks: tasks.into_iter().map(|(t, _)| TaskId(t)).collect() })
}

async fn create_pending_runs(
    tx: &mut Transaction<'_, Postgres>,
    plan: PlanId,
    tasks: &[TaskId],
) -> Result<Batch<NewRun>> {
    let episode = lock_plan(tx, plan).await?;
    let rows: Vec<(i64, i64, i32)> = sqlx::query_as(
        "INSERT INTO task_run (task_id, attempt, status) \
         SELECT t.id, COALESCE((SELECT max(r.attempt) FROM task_run r WHERE r.task_id = t.id), 0) + 1, \
                'PENDING' \
         FROM task t \
         WHERE t.plan_id = $1 AND t.id = ANY($2) AND NOT t.skipped \
           AND NOT EXISTS (SELECT 1 FROM task_run r WHERE r.task_id = t.id \
                           AND r.status IN ('PENDING', 'AVAILABLE', 'RUNNING', 'DONE')) \
         ORDER BY t.id \
         RETURNING id, task_id, attempt",
    )
    .bind(plan.0)
    .bind(ids(tasks, |t| t.0))
    .fetch_all(&mut **tx)
    .await?;
    let mut runs: Vec<NewRun> = rows
        .into_iter()
        .map(|(run, task, attempt)| NewRun { run: RunId(run), task: TaskId(task), attempt })
        .collect();
    runs.sort_by_key(|r| r.task);
    end_batch(tx, plan, episode, runs).await
}

/// Locks the plan row for a batch request and returns its episode. Every batch on a
/// plan takes this lock first, so batches on one plan run one after another and each
/// sees the runs and skips of the previous ones.
pub(super) async fn lock_plan(tx: &mut Transaction<'_, Postgres>, plan: PlanId) -> Result<u32> {
    let row: Option<(i32,)> = sqlx::query_as("SELECT episode FROM plan WHERE id = $1 FOR UPDATE")
        .bind(plan.0)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|(e,)| e as u32).ok_or(Error::NoSuchPlan(plan))
}

/// Ends a batch: when it changed something, the plan's episode advances.
async fn end_batch<T>(
    tx: &mut Transaction<'_, Postgres>,
    plan: PlanId,
    episode: u32,
    changed: Vec<T>,
) -> Result<Batch<T>> {
    if changed.is_empty() {
        return Ok(Batch { changed, episode });
    }
    sqlx::query("UPDATE plan SET episode = episode + 1 WHERE id = $1")
        .bind(plan.0)
        .execute(&mut **tx)
        .await?;
    Ok(Batch { changed, episode: episode + 1 })
}

/// The pending scheduler's promotion: PENDING -> AVAILABLE.
macro_rules! promote_pending_sql {
    () => {
        "UPDATE task_run SET status = 'AVAILABLE', updated_at = now() WHERE status = 'PENDING' RETURNING id"
    };
}

/// The pending scheduler's promotion: PENDING -> AVAILABLE.
pub async fn promote_pending(db: impl PgExecutor<'_>) -> Result<Vec<RunId>> {
    let mut rows: Vec<(i64,)> = sqlx::query_as(promote_pending_sql!()).fetch_all(db).await?;
    rows.sort_unstable();
    Ok(rows.into_iter().map(|(id,)| RunId(id)).collect())
}

/// [`promote_pending`], recording itself as `tag` (see [`super::postgres_logged`]).
async fn promote_pending_logged(db: impl PgExecutor<'_>, tag: &OpTag) -> Result<Vec<RunId>> {
    let sql = logged!(promote_pending_sql!(), value: "coalesce(jsonb_agg(id ORDER BY id), '[]')",
        op: "$1", by: "$2", invoked: "$3");
    postgres_logged::run(db, sqlx::query_as(sql), tag).await
}

/// A replica takes AVAILABLE runs with `FOR UPDATE SKIP LOCKED`: `$1` the replica,
/// `$2` the most runs.
macro_rules! claim_available_runs_sql {
    () => {
        "UPDATE task_run r SET status = 'RUNNING', replica_id = $1, started_at = now(), updated_at = now() \
         FROM task t \
         WHERE t.id = r.task_id AND r.id IN ( \
             SELECT id FROM task_run WHERE status = 'AVAILABLE' \
             ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING r.id, r.task_id, t.plan_id, r.attempt"
    };
}

/// A replica takes AVAILABLE runs with `FOR UPDATE SKIP LOCKED`.
pub async fn claim_available_runs(
    db: impl PgExecutor<'_>,
    replica: &ReplicaId,
    limit: u32,
) -> Result<Vec<ClaimedRun>> {
    let mut rows: Vec<(i64, i64, i64, i32)> = sqlx::query_as(claim_available_runs_sql!())
        .bind(replica.as_str())
        .bind(i64::from(limit))
        .fetch_all(db)
        .await?;
    rows.sort_unstable();
    Ok(rows
        .into_iter()
        .map(|(run, task, plan, attempt)| ClaimedRun {
            run: RunId(run),
            task: TaskId(task),
            plan: PlanId(plan),
            attempt,
        })
        .collect())
}

/// [`claim_available_runs`], recording itself as `tag`.
async fn claim_available_runs_logged(
    db: impl PgExecutor<'_>,
    tag: &OpTag,
    replica: &ReplicaId,
    limit: u32,
) -> Result<Vec<ClaimedRun>> {
    let sql = logged!(claim_available_runs_sql!(),
        value: "coalesce(jsonb_agg(jsonb_build_object('run', id, 'task', task_id, 'plan', plan_id, \
                'attempt', attempt) ORDER BY id), '[]')",
        op: "$3", by: "$4", invoked: "$5");
    let query = sqlx::query_as(sql).bind(replica.as_str()).bind(i64::from(limit));
    postgres_logged::run(db, query, tag).await
}

/// `replica`'s status write of `run`, guarded as `write` says (`hasim_finish_run` of
/// `migrations/0006_raising_write.sql`).
pub async fn finish_run(
    db: impl PgExecutor<'_>,
    run: RunId,
    replica: &ReplicaId,
    outcome: &RunOutcome,
    write: StatusWrite,
) -> Result<Option<EndedRun>> {
    let status = outcome.status();
    let row: Option<(i64, i64, i32, String)> =
        sqlx::query_as("SELECT task, plan, attempt, before FROM hasim_finish_run($1, $2, $3, $4, $5)")
            .bind(run.0)
            .bind(status.as_str())
            .bind(outcome.error())
            .bind(replica.as_str())
            .bind(write.as_str())
            .fetch_optional(db)
            .await?;
    let Some((task, plan, attempt, before)) = row else { return Ok(None) };
    let before: RunStatus = before.parse()?;
    Ok(Some(EndedRun {
        run,
        task: TaskId(task),
        plan: PlanId(plan),
        attempt,
        replica: replica.clone(),
        status,
        overwrote: (!before.is_open()).then_some(before),
    }))
}

async fn cancel_runs(
    tx: &mut Transaction<'_, Postgres>,
    plan: PlanId,
    tasks: &[TaskId],
) -> Result<Cancellation> {
    let task_ids = ids(tasks, |t| t.0);
    let mut canceled: Vec<(i64, i64)> = sqlx::query_as(
        "UPDATE task_run r SET status = 'CANCELED', finished_at = now(), updated_at = now() \
         FROM task t \
         WHERE t.id = r.task_id AND t.plan_id = $1 AND t.id = ANY($2) \
           AND r.status IN ('PENDING', 'AVAILABLE') \
         RETURNING r.id, r.task_id",
    )
    .bind(plan.0)
    .bind(&task_ids)
    .fetch_all(&mut **tx)
    .await?;
    canceled.sort_unstable();
    let running: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT r.id, r.task_id, r.replica_id FROM task_run r JOIN task t ON t.id = r.task_id \
         WHERE t.plan_id = $1 AND t.id = ANY($2) AND r.status = 'RUNNING' ORDER BY r.id",
    )
    .bind(plan.0)
    .bind(&task_ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Cancellation {
        canceled: canceled
            .into_iter()
            .map(|(run, task)| RunRef { run: RunId(run), task: TaskId(task) })
            .collect(),
        running: running
            .into_iter()
            .map(|(run, task, replica)| (RunRef { run: RunId(run), task: TaskId(task) }, ReplicaId(replica)))
            .collect(),
    })
}

pub(super) async fn skip_tasks(
    tx: &mut Transaction<'_, Postgres>,
    plan: PlanId,
    tasks: &[TaskId],
    reason: &str,
) -> Result<Batch<TaskId>> {
    let episode = lock_plan(tx, plan).await?;
    let mut rows: Vec<(i64,)> = sqlx::query_as(
        "UPDATE task SET skipped = true, skipped_reason = $3 \
         WHERE plan_id = $1 AND id = ANY($2) AND NOT skipped RETURNING id",
    )
    .bind(plan.0)
    .bind(ids(tasks, |t| t.0))
    .bind(reason)
    .fetch_all(&mut **tx)
    .await?;
    rows.sort_unstable();
    end_batch(tx, plan, episode, rows.into_iter().map(|(id,)| TaskId(id)).collect()).await
}

/// Upserts the replica's heartbeat.
pub async fn heartbeat(db: impl PgExecutor<'_>, replica: &ReplicaId) -> Result<()> {
    sqlx::query(
        "INSERT INTO replica_heartbeat (replica_id, last_heartbeat) VALUES ($1, now()) \
         ON CONFLICT (replica_id) DO UPDATE SET last_heartbeat = now()",
    )
    .bind(replica.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// The cleaner: fails RUNNING runs of replicas with a stale (or no) heartbeat.
/// The error text is the one [`super::abandoned_error`] spells.
pub async fn fail_abandoned_runs(db: impl PgExecutor<'_>, stale_after: Duration) -> Result<Vec<EndedRun>> {
    fail_abandoned_runs_of(db, stale_after, None).await
}

/// The cleaner, limited to the runs of `plans` when given.
pub(super) async fn fail_abandoned_runs_of(
    db: impl PgExecutor<'_>,
    stale_after: Duration,
    plans: Option<&[i64]>,
) -> Result<Vec<EndedRun>> {
    let micros = micros(stale_after);
    let mut rows: Vec<(i64, i64, i64, i32, String)> = sqlx::query_as(
        "UPDATE task_run r SET status = 'FAILED', \
             error = 'abandoned: replica ' || r.replica_id || ' stopped heartbeating', \
             finished_at = now(), updated_at = now(), \
             failed_episode = (SELECT p.episode FROM plan p WHERE p.id = t.plan_id) \
         FROM task t \
         WHERE t.id = r.task_id AND r.status = 'RUNNING' AND NOT EXISTS ( \
             SELECT 1 FROM replica_heartbeat h WHERE h.replica_id = r.replica_id \
             AND h.last_heartbeat > now() - make_interval(secs => $1::float8 / 1e6)) \
           AND ($2::bigint[] IS NULL OR t.plan_id = ANY($2)) \
         RETURNING r.id, r.task_id, t.plan_id, r.attempt, r.replica_id",
    )
    .bind(micros)
    .bind(plans)
    .fetch_all(db)
    .await?;
    rows.sort_unstable();
    Ok(rows
        .into_iter()
        .map(|(run, task, plan, attempt, replica)| EndedRun {
            run: RunId(run),
            task: TaskId(task),
            plan: PlanId(plan),
            attempt,
            replica: ReplicaId(replica),
            status: RunStatus::Failed,
            overwrote: None,
        })
        .collect())
}

/// A duration as whole microseconds, for `make_interval(secs => $n / 1e6)`.
pub(super) fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The whole claim table.
pub async fn claims(db: impl PgExecutor<'_>) -> Result<Vec<ClaimRow>> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT plan_id, event_type FROM plan_webhook_delivery ORDER BY plan_id")
            .fetch_all(db)
            .await?;
    rows.into_iter().map(|(plan, event)| Ok(ClaimRow { plan: PlanId(plan), event: event.parse()? })).collect()
}

impl Store for PgStore {
    async fn create_plan(&self, plan: &NewPlan) -> Result<CreatedPlan> {
        write_tx!(self, |tx| create_plan(tx, plan))
    }
    async fn claim_event(&self, plan: PlanId, event: EventType) -> Result<Claim> {
        write_op!(self, |c| claim_event(c, plan, event))
    }
    async fn reset_claim(&self, plan: PlanId) -> Result<Option<EventType>> {
        write_op!(self, |c| reset_claim(c, plan))
    }
    async fn create_pending_runs(&self, plan: PlanId, tasks: &[TaskId]) -> Result<Batch<NewRun>> {
        write_tx!(self, |tx| create_pending_runs(tx, plan, tasks))
    }
    async fn promote_pending(&self) -> Result<Vec<RunId>> {
        logged_op!(self, |c| promote_pending(c), |c, tag| promote_pending_logged(c, tag))
    }
    async fn claim_available_runs(&self, replica: &ReplicaId, limit: u32) -> Result<Vec<ClaimedRun>> {
        logged_op!(self, |c| claim_available_runs(c, replica, limit), |c, tag| {
            claim_available_runs_logged(c, tag, replica, limit)
        })
    }
    async fn finish_run(
        &self,
        run: RunId,
        replica: &ReplicaId,
        outcome: &RunOutcome,
        write: StatusWrite,
    ) -> Result<Option<EndedRun>> {
        write_op!(self, |c| finish_run(c, run, replica, outcome, write))
    }
    async fn cancel_runs(&self, plan: PlanId, tasks: &[TaskId]) -> Result<Cancellation> {
        write_tx!(self, |tx| cancel_runs(tx, plan, tasks))
    }
    async fn skip_tasks(&self, plan: PlanId, tasks: &[TaskId], reason: &str) -> Result<Batch<TaskId>> {
        write_tx!(self, |tx| skip_tasks(tx, plan, tasks, reason))
    }
    async fn plan_state(&self, plan: PlanId) -> Result<PlanState> {
        on_connection!(self, |c| super::postgres_watch::plan_state(c, plan))
    }
    async fn changed_plans(&self, since: Cursor) -> Result<Changes> {
        on_connection!(self, |c| super::postgres_watch::changed_plans(c, since))
    }
    async fn work_left(&self, max_leases: u32) -> Result<bool> {
        on_connection!(self, |c| super::postgres_watch::work_left(c, max_leases))
    }
    async fn heartbeat(&self, replica: &ReplicaId) -> Result<()> {
        on_connection!(self, |c| heartbeat(c, replica))
    }
    async fn fail_abandoned_runs(&self, stale_after: Duration) -> Result<Vec<EndedRun>> {
        write_op!(self, |c| fail_abandoned_runs(c, stale_after))
    }
    async fn claims(&self) -> Result<Vec<ClaimRow>> {
        on_connection!(self, |c| claims(c))
    }
    async fn finish_run_raising(
        &self,
        run: RunId,
        replica: &ReplicaId,
        outcome: &RunOutcome,
        write: StatusWrite,
    ) -> Result<Raising<Option<EndedRun>>> {
        self.finish_run_raising_tx(run, replica, outcome, write).await
    }
    async fn fail_abandoned_runs_raising(&self, stale_after: Duration) -> Result<Raising<Vec<EndedRun>>> {
        self.fail_abandoned_runs_raising_tx(stale_after).await
    }
    async fn skip_tasks_raising(
        &self,
        plan: PlanId,
        tasks: &[TaskId],
        reason: &str,
    ) -> Result<Raising<Batch<TaskId>>> {
        self.skip_tasks_raising_tx(plan, tasks, reason).await
    }
    async fn lease_events(
        &self,
        replica: &ReplicaId,
        limit: u32,
        lease: Duration,
        max_leases: u32,
    ) -> Result<Vec<LeasedEvent>> {
        logged_op!(
            self,
            |c| super::postgres_outbox::lease_events(c, replica, limit, lease, max_leases),
            |c, tag| super::postgres_outbox::lease_events_logged(c, tag, replica, limit, lease, max_leases)
        )
    }
    async fn mark_delivered(&self, event: RaisedEvent) -> Result<bool> {
        logged_op!(self, |c| super::postgres_outbox::mark_delivered(c, event), |c, tag| {
            super::postgres_outbox::mark_delivered_logged(c, tag, event)
        })
    }
    async fn outbox(&self) -> Result<Vec<OutboxRow>> {
        on_connection!(self, |c| super::postgres_outbox::outbox(c))
    }
    async fn committed(&self, ops: &[OpId]) -> Result<Committed> {
        on_connection!(self, |c| commit_log::committed(c, ops))
    }
}
