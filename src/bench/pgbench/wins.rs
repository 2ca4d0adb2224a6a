//! pgbench's wins, as the server counts them. A pgbench script cannot count which of
//! its transactions won, so the claim table's insert counter
//! (`pg_stat_user_tables.n_tup_ins`, one per winning claim) is read before and after
//! pgbench's run. A backend reports its counts at the latest when it exits, and leaves
//! `pg_stat_activity` just before, so each reading waits until no client of the run but
//! the admin's is connected and the counter has stopped moving.

use std::time::Duration;

use sqlx::PgPool;

use super::super::BenchError;

/// How long a reading waits for the run's other clients to go and the counter to
/// settle.
const SETTLE: Duration = Duration::from_secs(5);
/// The pause between two looks.
const LOOK: Duration = Duration::from_millis(50);

/// Claim rows ever inserted into the schema's claim table, once nothing but the admin
/// pool (`<schema>/bench-admin`) is connected for the run and two readings agree.
/// `None` when the server's statistics are off or never settle.
pub(super) async fn settled_inserts(admin: &PgPool, schema: &str) -> Result<Option<u64>, BenchError> {
    let started = std::time::Instant::now();
    let pattern = format!("{schema}/%");
    let kept = format!("{schema}/bench-admin");
    loop {
        let (others,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1 \
             AND application_name <> $2 AND pid <> pg_backend_pid()",
        )
        .bind(&pattern)
        .bind(&kept)
        .fetch_one(admin)
        .await?;
        if others == 0 {
            break;
        }
        if started.elapsed() > SETTLE {
            return Ok(None);
        }
        tokio::time::sleep(LOOK).await;
    }
    let mut last = inserts(admin).await?;
    while started.elapsed() <= SETTLE {
        tokio::time::sleep(LOOK * 2).await;
        let now = inserts(admin).await?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
    Ok(None)
}

async fn inserts(admin: &PgPool) -> Result<Option<u64>, BenchError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relid = 'plan_webhook_delivery'::regclass",
    )
    .fetch_optional(admin)
    .await?;
    Ok(row.map(|(n,)| n as u64))
}
