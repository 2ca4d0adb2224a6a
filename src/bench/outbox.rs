//! `outbox`: R relays drain a table of pending outbox rows, as the `outbox` strategy's
//! relays do. Each step leases one row (the store's `lease_events`: `FOR UPDATE SKIP
//! LOCKED`, so relays never wait on each other's rows), sends (a no-op) and marks it
//! delivered (`mark_delivered`). The table is filled with one pending row per plan
//! before each run, hasim's and pgbench's alike.
//!
//! Every lease outlasts the run, so no row may be leased twice: a second lease, or a
//! mark that finds its row delivered already, is a duplicate delivery.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::racer::{Go, Racer, Tally};
use super::{BenchError, OutboxRows, PlanRange, Stop};

/// Rows a relay leases at a time: one, so that a relay step (lease, send, mark) is
/// one pgbench transaction of the mirror script.
pub(super) const LEASE_LIMIT: u32 = 1;
/// Leases a row may take before the relays give up on it (never reached: rows are
/// leased once).
pub(super) const MAX_LEASES: u32 = 10;
/// How much longer than the run a lease lasts.
const LEASE_MARGIN: Duration = Duration::from_secs(600);

/// The lease every relay (and pgbench client) takes: longer than the run.
pub(super) fn lease_for(stop: Stop) -> Duration {
    match stop {
        Stop::Duration(d) => d + LEASE_MARGIN,
        Stop::ClaimsPerReplica(_) => LEASE_MARGIN,
    }
}

/// Empties the outbox and fills it with one pending PIPELINE_FAILED row per plan of
/// `plans`, then vacuums it so every run starts on the same table. Returns the rows.
pub(super) async fn fill(admin: &PgPool, plans: PlanRange) -> Result<u64, BenchError> {
    sqlx::query("DELETE FROM plan_event_outbox").execute(admin).await?;
    sqlx::query("VACUUM plan_event_outbox").execute(admin).await?;
    let filled = sqlx::query(
        "INSERT INTO plan_event_outbox (plan_id, event_type, episode) \
         SELECT g, 'PIPELINE_FAILED', 0 FROM generate_series($1::bigint, $2::bigint) g",
    )
    .bind(plans.first)
    .bind(plans.last())
    .execute(admin)
    .await?
    .rows_affected();
    sqlx::query("VACUUM (ANALYZE) plan_event_outbox").execute(admin).await?;
    Ok(filled)
}

/// The outbox after a run, as the server counts it.
pub(super) async fn rows(admin: &PgPool) -> Result<OutboxRows, BenchError> {
    let (pending, delivered, leased_twice): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE delivered_at IS NULL), \
                count(*) FILTER (WHERE delivered_at IS NOT NULL), \
                count(*) FILTER (WHERE leases > 1) \
         FROM plan_event_outbox",
    )
    .fetch_one(admin)
    .await?;
    Ok(OutboxRows { pending: pending as u64, delivered: delivered as u64, leased_twice: leased_twice as u64 })
}

impl Racer {
    /// Relay steps until the stop, or until a lease finds no row (the table ran dry):
    /// lease, send (a no-op), mark delivered. Each step is timed from the lease to the
    /// mark's answer and counts as one of the replica's operations.
    pub(super) async fn relay(&mut self, go: Go, tally: &mut Tally) {
        loop {
            let sent = Instant::now();
            let leased = self.lease(LEASE_LIMIT).await;
            tally.claims += 1;
            match leased {
                Ok(rows) if rows.is_empty() => {
                    tally.hist.record(sent.elapsed());
                    tally.empty_leases += 1;
                    break;
                }
                Ok(rows) => {
                    for row in rows {
                        tally.leased += 1;
                        match self.mark(row.event).await {
                            Ok(true) => tally.wins += 1,
                            Ok(false) => tally.redelivered += 1,
                            Err(e) => tally.error(&e),
                        }
                    }
                    tally.hist.record(sent.elapsed());
                }
                Err(e) => {
                    tally.hist.record(sent.elapsed());
                    tally.error(&e);
                }
            }
            if self.done(go, tally.claims) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_outlasts_the_run() {
        let five = Duration::from_secs(5);
        assert!(lease_for(Stop::Duration(five)) > five + Duration::from_secs(60));
        assert!(lease_for(Stop::ClaimsPerReplica(1_000)) >= Duration::from_secs(600));
    }
}
