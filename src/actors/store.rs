//! `StoreActor`: one per replica, owning that replica's connection to the shared
//! database (its pool, or a handle on the memory model). Every store operation is a
//! message, answered with the operation's result.
//!
//! Operations run concurrently, like queries on a pool; when the actor stops (its
//! replica crashed) the ones in flight are dropped with it and the pool is closed.

use std::time::Duration;

use actix::prelude::*;

use crate::Result;
use crate::model::{EventType, PlanId, ReplicaId, RunId, TaskId};
use crate::store::{
    Backend, Batch, Cancellation, Claim, ClaimRow, ClaimedRun, CreatedPlan, EndedRun, NewPlan, NewRun,
    PlanState, RunOutcome, Store,
};

/// A replica's handle on the shared database.
#[derive(Debug)]
pub struct StoreActor {
    replica: ReplicaId,
    store: Backend,
}

impl StoreActor {
    /// The store actor of `replica`, owning `store` (its pool, or the memory model).
    pub fn new(replica: ReplicaId, store: Backend) -> Self {
        StoreActor { replica, store }
    }
}

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        tracing::debug!(replica = %self.replica, "store actor stopped");
        if let Backend::Postgres(pg) = &self.store {
            let pool = pg.pool().clone();
            actix::spawn(async move { pool.close().await });
        }
    }
}

/// Declares one message per store operation and its handler, which runs the
/// operation on the actor's backend inside the actor's context.
macro_rules! store_messages {
    ($(
        $(#[$doc:meta])*
        $name:ident { $($field:ident : $ty:ty),* $(,)? } -> $ret:ty
            => |$store:ident, $msg:ident| $call:expr;
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name { $(#[allow(missing_docs)] pub $field: $ty),* }

        impl Message for $name {
            type Result = Result<$ret>;
        }

        impl Handler<$name> for StoreActor {
            type Result = ResponseActFuture<Self, Result<$ret>>;

            fn handle(&mut self, $msg: $name, _: &mut Context<Self>) -> Self::Result {
                let $store = self.store.clone();
                Box::pin(async move { $call.await }.into_actor(self))
            }
        }
    )*};
}

store_messages! {
    /// [`Store::create_plan`].
    CreatePlan { plan: NewPlan } -> CreatedPlan
        => |s, m| s.create_plan(&m.plan);
    /// [`Store::claim_event`].
    ClaimEvent { plan: PlanId, event: EventType } -> Claim
        => |s, m| s.claim_event(m.plan, m.event);
    /// [`Store::reset_claim`].
    ResetClaim { plan: PlanId } -> Option<EventType>
        => |s, m| s.reset_claim(m.plan);
    /// [`Store::create_pending_runs`].
    CreatePendingRuns { plan: PlanId, tasks: Vec<TaskId> } -> Batch<NewRun>
        => |s, m| s.create_pending_runs(m.plan, &m.tasks);
    /// [`Store::promote_pending`].
    PromotePending {} -> Vec<RunId>
        => |s, _m| s.promote_pending();
    /// [`Store::claim_available_runs`].
    ClaimAvailableRuns { replica: ReplicaId, limit: u32 } -> Vec<ClaimedRun>
        => |s, m| s.claim_available_runs(&m.replica, m.limit);
    /// [`Store::finish_run`].
    FinishRun { run: RunId, replica: ReplicaId, outcome: RunOutcome } -> Option<EndedRun>
        => |s, m| s.finish_run(m.run, &m.replica, &m.outcome);
    /// [`Store::cancel_runs`].
    CancelRuns { plan: PlanId, tasks: Vec<TaskId> } -> Cancellation
        => |s, m| s.cancel_runs(m.plan, &m.tasks);
    /// [`Store::skip_tasks`].
    SkipTasks { plan: PlanId, tasks: Vec<TaskId>, reason: String } -> Batch<TaskId>
        => |s, m| s.skip_tasks(m.plan, &m.tasks, &m.reason);
    /// [`Store::plan_state`].
    ReadPlanState { plan: PlanId } -> PlanState
        => |s, m| s.plan_state(m.plan);
    /// [`Store::heartbeat`].
    Heartbeat { replica: ReplicaId } -> ()
        => |s, m| s.heartbeat(&m.replica);
    /// [`Store::fail_abandoned_runs`].
    FailAbandonedRuns { stale_after: Duration } -> Vec<EndedRun>
        => |s, m| s.fail_abandoned_runs(m.stale_after);
    /// [`Store::claims`].
    Claims {} -> Vec<ClaimRow>
        => |s, _m| s.claims();
}
