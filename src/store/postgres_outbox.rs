//! The Postgres side of the `outbox` strategy: writes that raise outbox rows in the
//! same transaction as the status change that owes them, and the relay's leases.
//!
//! Every raising write locks the plan row first (like every batch request does), so
//! the writes that can fail or complete one plan commit one after another: each
//! sees the others' runs, the completion check has no write skew, and an event is
//! raised in the episode its change committed in.
//!
//! A replica's raising status write, the one every task run makes, is one statement:
//! `hasim_finish_run_raising` (`migrations/0006_raising_write.sql`) runs the same
//! statements inside the server, so the plan's lock is not held across round trips.

use std::time::Duration;

use sqlx::{PgExecutor, Postgres, Transaction};

use super::commit_log::{self, OpTag, Recorded};
use super::postgres::{fail_abandoned_runs_of, micros, skip_tasks};
use super::postgres_conn::{in_tx, on_connection, write_tx};
use super::postgres_logged::{self, logged};
use super::{
    Batch, EndedRun, LeasedEvent, OutboxRow, PgStore, RaisedEvent, Raising, RunOutcome, StatusWrite,
};
use crate::Result;
use crate::model::{EventType, PlanId, ReplicaId, RunId, TaskId};

type Tx<'a> = Transaction<'a, Postgres>;

/// Inserts an outbox row unless the event (or, for PIPELINE_COMPLETED, any
/// completion of the plan) is already there.
async fn raise(tx: &mut Tx<'_>, plan: PlanId, event: EventType, episode: u32) -> Result<Option<RaisedEvent>> {
    let (raised,): (bool,) = sqlx::query_as("SELECT hasim_raise($1, $2, $3)")
        .bind(plan.0)
        .bind(event.as_str())
        .bind(episode as i32)
        .fetch_one(&mut **tx)
        .await?;
    Ok(raised.then_some(RaisedEvent { plan, event, episode }))
}

/// Whether every task of the plan is done (latest run DONE) or skipped.
async fn complete(tx: &mut Tx<'_>, plan: PlanId) -> Result<bool> {
    let (complete,): (bool,) =
        sqlx::query_as("SELECT hasim_plan_complete($1)").bind(plan.0).fetch_one(&mut **tx).await?;
    Ok(complete)
}

/// The raising status write, one statement (`hasim_finish_run_raising` of
/// `migrations/0006_raising_write.sql`), which records itself in the commit log as
/// `tag` when it changed something. Its result is the JSON the commit log keeps, so a
/// write answered and a write resolved after the run read the same value.
async fn finish_run_raising(
    db: impl PgExecutor<'_>,
    tag: Option<&OpTag>,
    run: RunId,
    replica: &ReplicaId,
    outcome: &RunOutcome,
    write: StatusWrite,
) -> Result<Raising<Option<EndedRun>>> {
    let (result,): (serde_json::Value,) =
        sqlx::query_as("SELECT hasim_finish_run_raising($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(run.0)
            .bind(outcome.status().as_str())
            .bind(outcome.error())
            .bind(replica.as_str())
            .bind(write.as_str())
            .bind(tag.map(|t| i64::try_from(t.op).unwrap_or(i64::MAX)))
            .bind(tag.map(|t| t.replica.as_str()))
            .bind(tag.map(|t| i64::try_from(t.invoked).unwrap_or(i64::MAX)))
            .fetch_one(db)
            .await?;
    commit_log::from_json(result)
}

async fn fail_abandoned_runs_raising(
    tx: &mut Tx<'_>,
    stale_after: Duration,
) -> Result<Raising<Vec<EndedRun>>> {
    // Lock the plans with abandoned runs, in id order (no deadlock with writers that
    // lock one plan), then fail only their runs. The abandoned runs, then their
    // tasks, are gathered into arrays and looked up by key: joined, the planner hashed
    // every task to find the few (mostly none) whose runs were abandoned.
    let plans: Vec<(i64, i32)> = sqlx::query_as(
        "SELECT id, episode FROM plan WHERE id = ANY (ARRAY( \
             SELECT plan_id FROM task WHERE id = ANY (ARRAY( \
                 SELECT r.task_id FROM task_run r \
                 WHERE r.status = 'RUNNING' AND NOT EXISTS ( \
                     SELECT 1 FROM replica_heartbeat h WHERE h.replica_id = r.replica_id \
                     AND h.last_heartbeat > now() - make_interval(secs => $1::float8 / 1e6)))))) \
         ORDER BY id FOR UPDATE",
    )
    .bind(micros(stale_after))
    .fetch_all(&mut **tx)
    .await?;
    if plans.is_empty() {
        // Nothing abandoned: the update below would match no run.
        return Ok(Raising { value: Vec::new(), raised: Vec::new() });
    }
    let ids: Vec<i64> = plans.iter().map(|&(id, _)| id).collect();
    let ended = fail_abandoned_runs_of(&mut **tx, stale_after, Some(&ids)).await?;
    let mut raised = Vec::new();
    for (id, episode) in plans {
        if ended.iter().any(|e| e.plan.0 == id) {
            raised.extend(raise(tx, PlanId(id), EventType::PipelineFailed, episode as u32).await?);
        }
    }
    Ok(Raising { value: ended, raised })
}

async fn skip_tasks_raising(
    tx: &mut Tx<'_>,
    plan: PlanId,
    tasks: &[TaskId],
    reason: &str,
) -> Result<Raising<Batch<TaskId>>> {
    let batch = skip_tasks(tx, plan, tasks, reason).await?;
    let mut raised = Vec::new();
    if !batch.changed.is_empty() && complete(tx, plan).await? {
        raised.extend(raise(tx, plan, EventType::PipelineCompleted, batch.episode).await?);
    }
    Ok(Raising { value: batch, raised })
}

/// A relay's lease: `$1` the relay, `$2` the most rows, `$3` the lease in microseconds,
/// `$4` the most leases a row may take. `hasim bench outbox` runs the same text in
/// pgbench.
macro_rules! lease_events_sql {
    () => {
        "UPDATE plan_event_outbox SET leases = leases + 1, lease_owner = $1, \
             lease_until = now() + make_interval(secs => $3::float8 / 1e6) \
         WHERE (plan_id, event_type, episode) IN ( \
             SELECT plan_id, event_type, episode FROM plan_event_outbox \
             WHERE delivered_at IS NULL AND (lease_until IS NULL OR lease_until <= now()) AND leases < $4 \
             ORDER BY plan_id, episode, event_type LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING plan_id, event_type, episode, leases"
    };
}

/// A relay's lease (see [`lease_events_sql!`]).
pub(crate) const LEASE_EVENTS: &str = lease_events_sql!();

/// Marks a row delivered: `$1` the plan, `$2` the event type, `$3` the episode.
macro_rules! mark_delivered_sql {
    () => {
        "UPDATE plan_event_outbox SET delivered_at = now(), lease_owner = NULL, lease_until = NULL \
         WHERE plan_id = $1 AND event_type = $2 AND episode = $3 AND delivered_at IS NULL RETURNING plan_id"
    };
}

/// Marks a row delivered (see [`mark_delivered_sql!`]).
pub(crate) const MARK_DELIVERED: &str = mark_delivered_sql!();

/// Leases up to `limit` undelivered rows whose lease is free or expired.
pub async fn lease_events(
    db: impl PgExecutor<'_>,
    replica: &ReplicaId,
    limit: u32,
    lease: Duration,
    max_leases: u32,
) -> Result<Vec<LeasedEvent>> {
    let rows: Vec<(i64, String, i32, i32)> = sqlx::query_as(LEASE_EVENTS)
        .bind(replica.as_str())
        .bind(i64::from(limit))
        .bind(micros(lease))
        .bind(max_leases as i32)
        .fetch_all(db)
        .await?;
    let mut leased = rows
        .into_iter()
        .map(|(plan, event, episode, leases)| {
            let event = RaisedEvent { plan: PlanId(plan), event: event.parse()?, episode: episode as u32 };
            Ok(LeasedEvent { event, leases: leases as u32 })
        })
        .collect::<Result<Vec<_>>>()?;
    leased.sort_by_key(|l| key(&l.event));
    Ok(leased)
}

/// [`lease_events`], recording itself as `tag` (see [`super::postgres_logged`]). The
/// rows come in the relays' order, event types compared byte by byte as [`key`] does.
pub(super) async fn lease_events_logged(
    db: impl PgExecutor<'_>,
    tag: &OpTag,
    replica: &ReplicaId,
    limit: u32,
    lease: Duration,
    max_leases: u32,
) -> Result<Vec<LeasedEvent>> {
    let sql = logged!(lease_events_sql!(),
        value: "coalesce(jsonb_agg(jsonb_build_object('event', jsonb_build_object('plan', plan_id, \
                'event', event_type, 'episode', episode), 'leases', leases) \
                ORDER BY plan_id, episode, event_type COLLATE \"C\"), '[]')",
        op: "$5", by: "$6", invoked: "$7");
    let query = sqlx::query_as(sql)
        .bind(replica.as_str())
        .bind(i64::from(limit))
        .bind(micros(lease))
        .bind(max_leases as i32);
    postgres_logged::run(db, query, tag).await
}

/// The order relays take rows in: plan, episode, then event type as spelled.
pub(super) fn key(e: &RaisedEvent) -> (PlanId, u32, &'static str) {
    (e.plan, e.episode, e.event.as_str())
}

/// Marks a row delivered.
pub async fn mark_delivered(db: impl PgExecutor<'_>, event: RaisedEvent) -> Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(MARK_DELIVERED)
        .bind(event.plan.0)
        .bind(event.event.as_str())
        .bind(event.episode as i32)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// [`mark_delivered`], recording itself as `tag`.
pub(super) async fn mark_delivered_logged(
    db: impl PgExecutor<'_>,
    tag: &OpTag,
    event: RaisedEvent,
) -> Result<bool> {
    let sql =
        logged!(mark_delivered_sql!(), value: "to_jsonb(count(*) > 0)", op: "$4", by: "$5", invoked: "$6");
    let query = sqlx::query_as(sql).bind(event.plan.0).bind(event.event.as_str()).bind(event.episode as i32);
    postgres_logged::run(db, query, tag).await
}

/// The whole outbox.
pub async fn outbox(db: impl PgExecutor<'_>) -> Result<Vec<OutboxRow>> {
    let rows: Vec<(i64, String, i32, i32, bool)> = sqlx::query_as(
        "SELECT plan_id, event_type, episode, leases, delivered_at IS NOT NULL FROM plan_event_outbox \
         ORDER BY plan_id, episode, event_type",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(plan, event, episode, leases, delivered)| {
            let event = RaisedEvent { plan: PlanId(plan), event: event.parse()?, episode: episode as u32 };
            Ok(OutboxRow { event, leases: leases as u32, delivered })
        })
        .collect()
}

impl PgStore {
    pub(super) async fn finish_run_raising_tx(
        &self,
        run: RunId,
        replica: &ReplicaId,
        outcome: &RunOutcome,
        write: StatusWrite,
    ) -> Result<Raising<Option<EndedRun>>> {
        let tag = self.tag.as_ref();
        match tag.and_then(|t| t.before_commit.clone()) {
            // One statement, committed on its own.
            None => on_connection!(self, |c| finish_run_raising(c, tag, run, replica, outcome, write)),
            // The after-commit point acts between the write and its COMMIT.
            Some(before_commit) => on_connection!(self, |c| in_tx!(c, |tx| async {
                let value = finish_run_raising(&mut **tx, tag, run, replica, outcome, write).await?;
                if value.changed() {
                    before_commit(&value.commit_ops());
                }
                Ok(value)
            })),
        }
    }

    pub(super) async fn fail_abandoned_runs_raising_tx(
        &self,
        stale_after: Duration,
    ) -> Result<Raising<Vec<EndedRun>>> {
        write_tx!(self, |tx| fail_abandoned_runs_raising(tx, stale_after))
    }

    pub(super) async fn skip_tasks_raising_tx(
        &self,
        plan: PlanId,
        tasks: &[TaskId],
        reason: &str,
    ) -> Result<Raising<Batch<TaskId>>> {
        write_tx!(self, |tx| skip_tasks_raising(tx, plan, tasks, reason))
    }
}
