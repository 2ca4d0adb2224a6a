//! What the Postgres backend shows a watcher of the plans: a plan's state, the plans
//! changed since a cursor (the change feed of migration 0005), and whether any work
//! is left. Reads only, each one statement, so each sees one snapshot.

use sqlx::PgExecutor;

use super::{Changes, Cursor, LatestRun, PlanState, TaskStatus};
use crate::model::{PlanId, RunId, TaskId};
use crate::{Error, Result};

/// Each task's columns as a plan's state reads them: the task, its latest run (absent
/// before the first run) and the episodes in which a run of it failed; `t` is the
/// task, and the statement joins [`latest_run!`] as `r`.
macro_rules! task_columns {
    () => {
        "t.id AS task, t.name AS task_name, t.skipped, r.id AS run, r.attempt, r.status, r.error, \
         (SELECT array_agg(DISTINCT f.failed_episode ORDER BY f.failed_episode) FROM task_run f \
          WHERE f.task_id = t.id AND f.status = 'FAILED' AND f.failed_episode IS NOT NULL) AS failed_in"
    };
}

/// The latest run (highest attempt) of task `t`, as `r`.
macro_rules! latest_run {
    () => {
        "LEFT JOIN LATERAL (SELECT id, attempt, status, error FROM task_run \
                            WHERE task_id = t.id ORDER BY attempt DESC LIMIT 1) r ON true"
    };
}

/// The columns of [`task_columns!`]; all absent for a plan without tasks.
#[derive(sqlx::FromRow)]
struct TaskColumns {
    task: Option<i64>,
    task_name: Option<String>,
    skipped: Option<bool>,
    run: Option<i64>,
    attempt: Option<i32>,
    status: Option<String>,
    error: Option<String>,
    failed_in: Option<Vec<i32>>,
}

impl TaskColumns {
    /// The task of the row, if the row has one.
    fn status(self) -> Result<Option<TaskStatus>> {
        let TaskColumns { task, task_name, skipped, run, attempt, status, error, failed_in } = self;
        let (Some(task), Some(name), Some(skipped)) = (task, task_name, skipped) else { return Ok(None) };
        let latest = match (run, attempt, status) {
            (Some(run), Some(attempt), Some(status)) => {
                Some(LatestRun { run: RunId(run), attempt, status: status.parse()?, error })
            }
            _ => None,
        };
        let failed_in = failed_in.unwrap_or_default().into_iter().map(|e| e as u32).collect();
        Ok(Some(TaskStatus { task: TaskId(task), name, skipped, latest, failed_in }))
    }
}

/// A plan row joined with one of its tasks and that task's latest run.
#[derive(sqlx::FromRow)]
struct PlanRow {
    project: String,
    title: String,
    episode: i32,
    #[sqlx(flatten)]
    task: TaskColumns,
}

/// The plan's episode and every task with its latest run.
pub async fn plan_state(db: impl PgExecutor<'_>, plan: PlanId) -> Result<PlanState> {
    let rows: Vec<PlanRow> = sqlx::query_as(concat!(
        "SELECT p.project, p.title, p.episode, ",
        task_columns!(),
        " FROM plan p LEFT JOIN task t ON t.plan_id = p.id ",
        latest_run!(),
        " WHERE p.id = $1 ORDER BY t.position"
    ))
    .bind(plan.0)
    .fetch_all(db)
    .await?;
    let Some(first) = rows.first() else { return Err(Error::NoSuchPlan(plan)) };
    let (project, title, episode) = (first.project.clone(), first.title.clone(), first.episode as u32);
    let mut tasks = Vec::with_capacity(rows.len());
    for row in rows {
        tasks.extend(row.task.status()?);
    }
    Ok(PlanState { project, title, episode, tasks })
}

/// The snapshot's oldest running transaction, then a changed plan's row joined with
/// one of its tasks and that task's latest run (all absent when nothing changed).
#[derive(sqlx::FromRow)]
struct ChangedRow {
    xmin: i64,
    plan: Option<i64>,
    project: Option<String>,
    title: Option<String>,
    episode: Option<i32>,
    #[sqlx(flatten)]
    task: TaskColumns,
}

/// Every plan with a task or run written by a transaction at or after `since` (a
/// transaction id), with the tasks so written, and the oldest transaction still
/// running when the statement's snapshot was taken: every write that commits later
/// has that id or a higher one, so reading from it next misses none. Only the tasks
/// written are read: on a busy day a look shows a plan a dozen times, and reading
/// its ten tasks each time was most of the look's cost.
pub async fn changed_plans(db: impl PgExecutor<'_>, since: Cursor) -> Result<Changes> {
    // The changed tasks are gathered into an array, not joined: the planner cannot
    // tell how few rows a range over the ever-rising `changed` holds, and, counting
    // on thousands, it read every task to hash them. Looked up by key from an array,
    // each changed task costs its own rows alone.
    let rows: Vec<ChangedRow> = sqlx::query_as(concat!(
        "SELECT s.xmin, p.id AS plan, p.project, p.title, p.episode, ",
        task_columns!(),
        " FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) s \
          LEFT JOIN (task t JOIN plan p ON p.id = t.plan_id ",
        latest_run!(),
        ") ON t.id = ANY (ARRAY( \
             SELECT id FROM task WHERE changed >= $1::bigint::text::xid8 \
             UNION SELECT task_id FROM task_run WHERE changed >= $1::bigint::text::xid8)) \
          ORDER BY p.id, t.position"
    ))
    .bind(i64::try_from(since.0).unwrap_or(i64::MAX))
    .fetch_all(db)
    .await?;
    let mut changes = Changes { plans: Vec::new(), cursor: since };
    for row in rows {
        // Transaction ids (xid8) count up from 3 and never reach 2^63.
        changes.cursor = Cursor(row.xmin.unsigned_abs());
        let (Some(plan), Some(project), Some(title), Some(episode)) =
            (row.plan, row.project, row.title, row.episode)
        else {
            continue;
        };
        let task = row.task.status()?;
        match changes.plans.last_mut() {
            Some((id, state)) if id.0 == plan => state.tasks.extend(task),
            _ => {
                let state =
                    PlanState { project, title, episode: episode as u32, tasks: Vec::from_iter(task) };
                changes.plans.push((PlanId(plan), state));
            }
        }
    }
    Ok(changes)
}

/// Whether a run is open or an outbox row still owes a delivery.
pub async fn work_left(db: impl PgExecutor<'_>, max_leases: u32) -> Result<bool> {
    let (left,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM task_run WHERE status IN ('PENDING', 'AVAILABLE', 'RUNNING')) \
             OR EXISTS (SELECT 1 FROM plan_event_outbox WHERE delivered_at IS NULL AND leases < $1)",
    )
    .bind(i32::try_from(max_leases).unwrap_or(i32::MAX))
    .fetch_one(db)
    .await?;
    Ok(left)
}
