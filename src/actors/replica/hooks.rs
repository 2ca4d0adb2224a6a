//! The hooks a replica calls: [`Strategy`], the trait a delivery design implements,
//! and [`retrying`], the way a hook keeps a write that must not be dropped.
//!
//! The designs themselves and their registry are `crate::strategy`.

use std::time::Duration;

use futures_util::future::LocalBoxFuture;

use super::ReplicaCtx;
use crate::Result;
use crate::model::{PlanId, RunId, TaskId};
use crate::store::{Batch, EndedRun, NewRun, RunOutcome};

/// The future a hook returns; it runs on the replica's thread.
pub type Hook<T = ()> = LocalBoxFuture<'static, Result<T>>;

/// A delivery design: what a replica does when runs end and users act.
///
/// A replica owns one instance for its lifetime; a restarted replica gets a fresh
/// one, so whatever a strategy keeps in memory is lost in a crash.
pub trait Strategy {
    /// A run this replica was running ended; its status has committed.
    fn run_ended(&self, r: ReplicaCtx, run: EndedRun) -> Hook;

    /// A completion check that this replica's channel carried.
    fn check_completion(&self, r: ReplicaCtx, plan: PlanId) -> Hook;

    /// BatchRunTasks, served by this replica: create the runs (and whatever the design
    /// does around that).
    fn batch_run(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<NewRun>>;

    /// BatchSkipTasks, served by this replica.
    fn batch_skip(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<TaskId>>;

    /// Writes the end of a run this replica executed, guarded as the run's status
    /// write mode says (`World::status_write`); `None` when the guard refused it. By
    /// default a plain status write, tried again on failure.
    fn finish_run(&self, r: ReplicaCtx, run: RunId, outcome: RunOutcome) -> Hook<Option<EndedRun>> {
        Box::pin(async move { retrying(&r, || r.end_run(run, outcome.clone())).await })
    }

    /// The abandoned-run cleaner's round: by default it fails the runs of replicas
    /// whose heartbeat is stale, and announces nothing.
    fn clean(&self, r: ReplicaCtx, stale_after: Duration) -> Hook {
        Box::pin(async move { r.fail_abandoned_runs(stale_after).await.map(drop) })
    }

    /// Every scheduler tick (a relay, say). Nothing by default.
    fn tick(&self, _r: ReplicaCtx) -> Hook {
        Box::pin(async { Ok(()) })
    }
}

/// How often a replica tries a write that must not be dropped (a run's end) before
/// giving up; each failure is in the history.
const WRITE_TRIES: u32 = 20;

/// Runs `write` until it succeeds, a tick apart, as a server does rather than leave a
/// run RUNNING because one connection was reset.
pub async fn retrying<T, F, Fut>(r: &ReplicaCtx, write: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    retry_every(r.world.config.tick, write).await
}

/// Runs `write` until it succeeds, `pause` apart, at most [`WRITE_TRIES`] times; an
/// actor that is gone (the replica crashed) ends it at once.
async fn retry_every<T, F, Fut>(pause: Duration, mut write: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut tries = 1;
    loop {
        match write().await {
            Err(e) if tries < WRITE_TRIES && !matches!(e, crate::Error::ActorGone(_)) => {
                tries += 1;
                tokio::time::sleep(pause).await;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use tokio::time::Instant;

    use super::*;
    use crate::Error;
    use crate::clock::paused;

    const TICK: Duration = Duration::from_millis(50);

    /// Runs `retry_every` on a write that fails with `error` `failures` times, then
    /// succeeds; returns its result, the tries made and the time they took.
    fn retried(failures: u32, error: fn() -> Error) -> (Result<u32>, u32, Duration) {
        paused(async {
            let tries = Cell::new(0);
            let start = Instant::now();
            let result = retry_every(TICK, || {
                tries.set(tries.get() + 1);
                let n = tries.get();
                async move { if n <= failures { Err(error()) } else { Ok(n) } }
            })
            .await;
            (result, tries.get(), start.elapsed())
        })
    }

    fn reset() -> Error {
        Error::LinkReset
    }

    #[test]
    fn a_write_that_fails_a_few_times_succeeds_one_tick_after_each_failure() {
        // Three failures: a fourth try, after three pauses of a tick.
        let (result, tries, took) = retried(3, reset);
        assert_eq!(result.unwrap(), 4);
        assert_eq!((tries, took), (4, TICK * 3));
    }

    #[test]
    fn a_write_that_succeeds_at_once_is_tried_once_without_a_pause() {
        let (result, tries, took) = retried(0, reset);
        assert_eq!((result.unwrap(), tries, took), (1, 1, Duration::ZERO));
    }

    #[test]
    fn a_write_is_tried_write_tries_times_then_its_last_error_is_returned() {
        // It fails forever: WRITE_TRIES tries, a tick between each two, the last error.
        let (result, tries, took) = retried(u32::MAX, reset);
        assert!(matches!(result, Err(Error::LinkReset)), "{result:?}");
        assert_eq!((tries, took), (WRITE_TRIES, TICK * (WRITE_TRIES - 1)));
        // The last try may still succeed.
        let (result, tries, _) = retried(WRITE_TRIES - 1, reset);
        assert_eq!((result.unwrap(), tries), (WRITE_TRIES, WRITE_TRIES));
    }

    #[test]
    fn a_write_whose_actor_is_gone_is_not_tried_again() {
        let (result, tries, took) = retried(u32::MAX, || Error::ActorGone("store"));
        assert!(matches!(result, Err(Error::ActorGone("store"))), "{result:?}");
        assert_eq!((tries, took), (1, Duration::ZERO));
    }
}
