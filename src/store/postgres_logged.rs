//! Single-statement writes that record themselves in the commit log within the same
//! statement.
//!
//! A tagged write ([`super::commit_log::OpTag`]) must insert its commit-log row in
//! its own transaction. Around a single statement that took four round trips (BEGIN,
//! the statement, the INSERT, COMMIT), and the rows the statement locked stayed locked
//! across three of them: sixteen replicas promoting PENDING runs every tick queued
//! on each other's row locks for that long.
//!
//! Here the statement becomes a data-modifying CTE `w` of one statement that also
//! builds `value`, hasim's JSON of the write's result, from `w`'s rows, and inserts it
//! into the commit log when `w` returned a row (each of these writes changed
//! something exactly when it did). The answer is read from that same JSON, so a write
//! answered and a write resolved after the run read one value. Untagged (as
//! `hasim bench` runs them, beside pgbench), the writes stay the bare statements.

use serde_json::Value;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{PgExecutor, Postgres};

use super::commit_log::{self, OpTag, Recorded};
use crate::Result;

/// The statement `$stmt` (a write `RETURNING` its rows, parameters from `$1`) as one
/// statement that returns `$value` (a JSONB aggregate over the rows, as `w`) and
/// records it in the commit log as operation `$op` of incarnation `$by`, invoked at
/// `$invoked` (the parameters that follow the statement's own), when `w` has a row.
macro_rules! logged {
    ($stmt:expr, value: $value:expr, op: $op:literal, by: $by:literal, invoked: $invoked:literal) => {
        concat!(
            "WITH w AS (",
            $stmt,
            "), v AS (SELECT ",
            $value,
            " AS value FROM w), \
             l AS (INSERT INTO hasim_commit_log (op, replica, invoked, result) \
                   SELECT ",
            $op,
            ", ",
            $by,
            ", ",
            $invoked,
            ", value FROM v WHERE EXISTS (SELECT 1 FROM w)) \
             SELECT value FROM v"
        )
    };
}

/// Binds `tag`'s operation, incarnation and invocation to a statement of [`logged!`]
/// and runs it: the write's result, read from the JSON it recorded.
pub(super) async fn run<T: Recorded>(
    db: impl PgExecutor<'_>,
    query: QueryAs<'_, Postgres, (Value,), PgArguments>,
    tag: &OpTag,
) -> Result<T> {
    let (value,) = query
        .bind(i64::try_from(tag.op).unwrap_or(i64::MAX))
        .bind(tag.replica.as_str())
        .bind(i64::try_from(tag.invoked).unwrap_or(i64::MAX))
        .fetch_one(db)
        .await?;
    commit_log::from_json(value)
}

/// Runs a single-statement write of `$store`: `$plain` (a future using `$c: &mut
/// PgConnection`) untagged, or `$logged` (using `$c` and `$tag: &OpTag`), which records
/// itself. With an after-commit hook the logged statement runs in a transaction that
/// pauses for the hook before COMMIT.
macro_rules! logged_op {
    ($store:expr, |$c:ident| $plain:expr, |$lc:ident, $tag:ident| $logged:expr) => {{
        use $crate::store::commit_log::Recorded as _;
        match &$store.tag {
            None => $crate::store::postgres_conn::on_connection!($store, |$c| $plain),
            Some($tag) => match $tag.before_commit.clone() {
                None => $crate::store::postgres_conn::on_connection!($store, |$lc| $logged),
                Some(before_commit) => $crate::store::postgres_conn::on_connection!($store, |conn| {
                    $crate::store::postgres_conn::in_tx!(conn, |tx| async {
                        let value = {
                            let $lc: &mut sqlx::PgConnection = &mut **tx;
                            $logged.await?
                        };
                        if value.changed() {
                            before_commit(&value.commit_ops());
                        }
                        Ok::<_, $crate::Error>(value)
                    })
                }),
            },
        }
    }};
}

pub(super) use {logged, logged_op};
