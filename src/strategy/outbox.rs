//! `outbox`: hasim's own design, which keeps the whole contract under every fault a
//! scenario can express (short of an endpoint that refuses for the whole run).
//!
//! - The event row is written in the same transaction as the change that owes it:
//!   a run's FAILED (by its replica or by the abandoned-run cleaner), or the DONE or
//!   skip that completes the plan. That transaction holds the plan row's lock, so
//!   writes to one plan commit one at a time: the completion check sees every other
//!   run (no write skew) and the event lands in the episode its change committed in.
//!   No crash point falls between the change and its event.
//! - The row's key is (plan, event type, episode), and a plan has at most one
//!   PIPELINE_COMPLETED row, so a second writer cannot add a twin.
//! - A relay on every replica leases pending rows (`FOR UPDATE SKIP LOCKED`), sends
//!   each with its stable `webhook-id` and the run's retry policy, and marks it
//!   delivered. A lease that expires (its relay crashed, was cut off, or ran out of
//!   tries) is taken again by any relay, which numbers its tries on from the last:
//!   the receiver dedupes on the id, so the event is delivered effectively once.
//! - A lease is good from the moment the relay asked for it: a relay whose lease
//!   came back too late to finish its tries before it expires (the reply was held on
//!   a slow or partitioned link) lets it go unused, since another relay may take
//!   the row once it expires and send it too.
//! - A relay stops taking a row after [`MAX_LEASES`] leases: the endpoint refused
//!   every try for that long (`undeliverable`).

use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use crate::faults::CrashPoint;
use crate::model::{PlanId, RunId, TaskId};
use crate::store::{Batch, EndedRun, LeasedEvent, NewRun, RunOutcome};
use crate::webhook::WebhookPolicy;

use super::{Hook, ReplicaCtx, Strategy, retrying};

pub use crate::store::MAX_LEASES;

/// Rows a relay leases per tick.
const BATCH: u32 = 8;

/// The transactional outbox with leased relays.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outbox;

/// How long a relay's tries of one row take at most: every timeout and backoff.
fn sending_for(policy: &WebhookPolicy) -> Duration {
    let tries = policy.attempts.max(1);
    let backoffs = policy.backoff * (2u32.saturating_pow(tries - 1).saturating_sub(1));
    policy.timeout * tries + backoffs
}

/// How long a relay holds a row: enough for all of the policy's tries and backoffs,
/// plus a few ticks.
fn lease_for(policy: &WebhookPolicy, tick: Duration) -> Duration {
    sending_for(policy) + tick * 4
}

/// Whether a lease held until `expires` ends before tries started at `now` could:
/// a lease that lasts exactly as long as they may is still used.
fn too_late(now: Instant, expires: Instant, policy: &WebhookPolicy) -> bool {
    now + sending_for(policy) > expires
}

/// Sends one leased row, held until `expires`, and marks it delivered once the
/// endpoint accepted it. A lease that would expire before the tries could end is
/// left unused.
async fn relay_one(r: ReplicaCtx, leased: LeasedEvent, expires: Instant) -> crate::Result<()> {
    let state = r.plan_state(leased.event.plan).await?;
    if too_late(Instant::now(), expires, &r.world.policy) {
        tracing::debug!(replica = %r.id, event = ?leased.event, "the lease came too late to use");
        return Ok(());
    }
    let first_attempt = (leased.leases - 1) * r.world.policy.attempts.max(1) + 1;
    if r.deliver(leased.event, &state, first_attempt).await? {
        retrying(&r, || r.mark_delivered(leased.event)).await?;
    }
    Ok(())
}

impl Strategy for Outbox {
    fn finish_run(&self, r: ReplicaCtx, run: RunId, outcome: RunOutcome) -> Hook<Option<EndedRun>> {
        Box::pin(async move { Ok(retrying(&r, || r.end_run_raising(run, outcome.clone())).await?.value) })
    }

    fn run_ended(&self, _r: ReplicaCtx, _run: EndedRun) -> Hook {
        // The event, if any, is in the outbox already: it committed with the status.
        Box::pin(async { Ok(()) })
    }

    fn check_completion(&self, _r: ReplicaCtx, _plan: PlanId) -> Hook {
        Box::pin(async { Ok(()) })
    }

    fn batch_run(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<NewRun>> {
        Box::pin(async move { r.create_runs(plan, tasks).await })
    }

    fn batch_skip(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<TaskId>> {
        Box::pin(async move { Ok(r.skip_tasks_raising(plan, tasks).await?.value) })
    }

    fn clean(&self, r: ReplicaCtx, stale_after: Duration) -> Hook {
        Box::pin(async move { r.fail_abandoned_runs_raising(stale_after).await.map(drop) })
    }

    fn tick(&self, r: ReplicaCtx) -> Hook {
        Box::pin(async move {
            let lease = lease_for(&r.world.policy, r.world.config.tick);
            // The server counts the lease from when it ran the statement, after this.
            let expires = Instant::now() + lease;
            let leased = r.lease_events(BATCH, lease, MAX_LEASES).await?;
            if leased.is_empty() {
                return Ok(());
            }
            // The lease is this design's claim.
            r.crash_point(CrashPoint::AfterClaim).await;
            for result in join_all(leased.into_iter().map(|l| relay_one(r.clone(), l, expires))).await {
                result?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_outlasts_every_try_and_backoff_of_the_policy() {
        let policy = WebhookPolicy {
            timeout: Duration::from_millis(100),
            attempts: 3,
            backoff: Duration::from_millis(50),
            ..WebhookPolicy::default()
        };
        // 3 tries of 100 ms, backoffs of 50 and 100 ms, and 4 ticks of 50 ms.
        assert_eq!(lease_for(&policy, Duration::from_millis(50)), Duration::from_millis(650));
    }

    #[test]
    fn a_lease_is_used_while_it_lasts_as_long_as_the_tries_may() {
        let policy =
            WebhookPolicy { timeout: Duration::from_millis(100), attempts: 2, ..WebhookPolicy::default() };
        let (now, ms) = (Instant::now(), Duration::from_millis);
        // Two tries of 100 ms and one backoff: the policy's default.
        let sending = ms(200) + policy.backoff;
        assert!(!too_late(now, now + sending + ms(1), &policy));
        assert!(!too_late(now, now + sending, &policy), "exactly long enough");
        assert!(too_late(now, now + sending - ms(1), &policy));
    }
}
