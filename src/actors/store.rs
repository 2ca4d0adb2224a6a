//! `StoreActor`: one per replica, owning that replica's connection to the shared
//! database (its pool, or a handle on the memory model). Every store operation is a
//! message, answered with the operation's result.
//!
//! Each write is logged to the run's history when it returns, with the history's
//! sequence number at invocation (see [`crate::history`]). Operations run
//! concurrently, like a server's queries on its pool: what replicas in scenario runs
//! do. [`StoreActor::holding_connection`] makes the actor hold one connection of its
//! pool instead and run its operations on it one at a time, as a client holding its
//! connection does (`hasim bench` replicas; see [`crate::store::PgStore::holding`]).
//! When the actor stops (its replica crashed) the operations in flight are dropped
//! with it and the pool is closed. How an answer travels is [`reply`]'s concern.

mod reply;

use std::future::Future;
use std::time::Duration;

use actix::prelude::*;

use crate::history::{Event, History, OpGuard, Resolver, Seq, StoreAlive};
use crate::link::Link;
use crate::model::{EventType, PlanId, ReplicaId, RunId, TaskId};
use crate::store::{
    Backend, Batch, Cancellation, Claim, ClaimRow, ClaimedRun, CreatedPlan, EndedRun, LeasedEvent, NewPlan,
    NewRun, OpTag, OutboxRow, PgStore, PlanState, RaisedEvent, Raising, RunOutcome, StatusWrite, Store,
};
use crate::strike::AtCommit;
use crate::world::Token;
use crate::{Error, Result};
use reply::{Reply, Tasks};

/// A replica's handle on the shared database.
#[derive(Debug)]
pub struct StoreActor {
    replica: ReplicaId,
    store: Backend,
    history: History,
    link: Option<Link>,
    _census: Option<Token>,
    _alive: Option<StoreAlive>,
    /// The after-commit point of the actor's replica.
    at_commit: Option<AtCommit>,
    /// The operations running as tasks of their own, cut off when the actor stops.
    tasks: Tasks,
}

impl StoreActor {
    /// The store actor of `replica`, owning `store` (its pool, or the memory model),
    /// logging its writes to `history`.
    pub fn new(replica: ReplicaId, store: Backend, history: History) -> Self {
        let _alive = history.journal().map(|journal| journal.store_alive());
        StoreActor {
            replica,
            store,
            history,
            link: None,
            _census: None,
            _alive,
            at_commit: None,
            tasks: Tasks::new(),
        }
    }

    /// Passes every operation over `link` first (the memory store's stand-in for the
    /// network between a replica and its database).
    pub fn over(mut self, link: Link) -> Self {
        self.link = Some(link);
        self
    }

    /// Holds one connection of the Postgres pool for every operation, which then run
    /// one at a time in arrival order; a connection that breaks is replaced at the
    /// next operation ([`PgStore::holding`]). The memory model is left as it is.
    pub fn holding_connection(mut self) -> Self {
        if let Backend::Postgres(pg) = &self.store
            && !pg.holds_connection()
        {
            self.store = Backend::Postgres(PgStore::holding(pg.pool().clone()));
        }
        self
    }

    /// Strikes the replica's writes at the after-commit point (`crate::strike`).
    pub fn striking(mut self, at: AtCommit) -> Self {
        self.at_commit = Some(at);
        self
    }

    /// The after-commit point as each backend takes it: the memory store's writes
    /// strike once applied, the Postgres store's just before COMMIT.
    fn at_commit(&self) -> (Option<AtCommit>, Option<AtCommit>) {
        match &self.store {
            Backend::Memory(_) => (self.at_commit.clone(), None),
            Backend::Postgres(_) => (None, self.at_commit.clone()),
        }
    }

    /// How operation `op` answers: as a task of its own on a Postgres pool that many
    /// operations share, in the actor's context otherwise ([`reply`]).
    fn reply<T: 'static>(&self, op: impl Future<Output = Result<T>> + 'static) -> Reply<T> {
        match &self.store {
            Backend::Postgres(pg) if !pg.holds_connection() => match self.tasks.task(op) {
                Some(task) => task,
                None => Reply::InContext(Box::pin(async { Err(Error::ActorGone("store")) }.into_actor(self))),
            },
            _ => Reply::InContext(Box::pin(op.into_actor(self))),
        }
    }

    /// Counts this actor in a run's census while it lives.
    pub fn counted(mut self, token: Token) -> Self {
        self._census = Some(token);
        self
    }
}

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        tracing::debug!(replica = %self.replica, "store actor stopped");
        self.tasks.stop();
        if let Backend::Postgres(pg) = &self.store {
            let pool = pg.pool().clone();
            actix::spawn(async move { pool.close().await });
        }
    }
}

/// Stops the actor at once: what is in flight is dropped, the pool is closed.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct StopStore;

impl Handler<StopStore> for StoreActor {
    type Result = ();

    fn handle(&mut self, _: StopStore, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

fn ended(run: &EndedRun, error: Option<String>, by_cleaner: bool, invoked: Seq) -> Event {
    Event::RunEnded {
        run: run.run,
        task: run.task,
        plan: run.plan,
        attempt: run.attempt,
        status: run.status,
        overwrote: run.overwrote,
        error,
        by_cleaner,
        invoked,
    }
}

/// Declares one message per store operation and its handler, which runs the
/// operation on the actor's backend inside the actor's context and logs what the
/// write changed (`log`: the history entries for a successful result).
///
/// A `write` is opened in the run's journal when invoked and tagged, so the store
/// records it in its commit log when it commits; when its answer never comes, the
/// same `log` turns the result the commit log kept into entries after the run. A
/// `read` changes nothing and is only logged when it fails.
macro_rules! store_messages {
    ($(
        $(#[$doc:meta])*
        $kind:ident $name:ident { $($field:ident : $ty:ty),* $(,)? } -> $ret:ty
            => |$store:ident, $msg:ident| $call:expr;
            log |$lm:ident, $result:ident, $invoked:ident| $log:expr;
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name { $(#[allow(missing_docs)] pub $field: $ty),* }

        impl Message for $name {
            type Result = Result<$ret>;
        }

        impl Handler<$name> for StoreActor {
            type Result = Reply<$ret>;

            fn handle(&mut self, $msg: $name, _: &mut Context<Self>) -> Self::Result {
                let history = self.history.clone();
                let replica = self.replica.clone();
                let link = self.link.clone();
                let $invoked = history.mark();
                let guard = store_messages!(@open $kind $name, history, replica, $msg, $ret,
                    |$lm, $result, $invoked| $log);
                let (applied, before_commit) = self.at_commit();
                let $store = match &guard {
                    Some(guard) => self.store.tagged(OpTag {
                        op: guard.id(),
                        replica: replica.clone(),
                        invoked: $invoked,
                        before_commit: before_commit.map(|at| at.hook(guard.id())),
                    }),
                    None => self.store.clone(),
                };
                self.reply(async move {
                    let outcome: Result<$ret> = async {
                        if let Some(link) = &link {
                            link.pass().await?;
                        }
                        let value = $call.await?;
                        store_messages!(@applied $kind, applied, value)
                    }.await;
                    let entries: Vec<Event> = match &outcome {
                        Ok($result) => {
                            let $lm = &$msg;
                            $log
                        }
                        Err(e) => vec![Event::StoreFailed {
                            op: stringify!($name).to_owned(),
                            error: e.to_string(),
                            invoked: $invoked,
                            op_id: guard.as_ref().map(OpGuard::id),
                        }],
                    };
                    match (guard, outcome.is_ok()) {
                        (Some(guard), true) => guard.answered(store_messages!(@changed $kind, outcome)),
                        (Some(guard), false) => guard.failed(),
                        (None, _) => {}
                    }
                    for entry in entries {
                        history.record(Some(&replica), entry);
                    }
                    outcome
                })
            }
        }
    )*};
    (@open write $name:ident, $history:ident, $replica:ident, $msg:ident, $ret:ty,
        |$lm:ident, $result:ident, $invoked:ident| $log:expr) => {{
        let kept = $msg.clone();
        let at = $invoked;
        let resolve: Resolver = Box::new(move |value| {
            let parsed: $ret = serde_json::from_value(value.clone())
                .map_err(|e| Error::CommitLog(format!("{}: {e}", stringify!($name))))?;
            let ($lm, $result, $invoked) = (&kept, &parsed, at);
            Ok($log)
        });
        $history.open(&$replica, $invoked, stringify!($name), resolve)
    }};
    (@open read $name:ident, $history:ident, $replica:ident, $msg:ident, $ret:ty,
        |$lm:ident, $result:ident, $invoked:ident| $log:expr) => {
        None::<OpGuard>
    };
    (@changed write, $outcome:ident) => {
        $outcome.as_ref().is_ok_and(|value| crate::store::Recorded::changed(value))
    };
    (@changed read, $outcome:ident) => {
        false
    };
    (@applied write, $at:ident, $value:ident) => {
        match &$at {
            Some(at) => at.applied($value).await,
            None => Ok($value),
        }
    };
    (@applied read, $at:ident, $value:ident) => {{
        let _ = &$at;
        Ok($value)
    }};
}

store_messages! {
    /// [`Store::create_plan`].
    write CreatePlan { plan: NewPlan } -> CreatedPlan
        => |s, m| s.create_plan(&m.plan);
        log |_m, r, invoked| vec![Event::PlanCreated { plan: r.plan, tasks: r.tasks.clone(), invoked }];
    /// [`Store::claim_event`].
    write ClaimEvent { plan: PlanId, event: EventType } -> Claim
        => |s, m| s.claim_event(m.plan, m.event);
        log |m, r, invoked| vec![Event::ClaimAttempted { plan: m.plan, event: m.event, claim: *r, invoked }];
    /// [`Store::reset_claim`].
    write ResetClaim { plan: PlanId } -> Option<EventType>
        => |s, m| s.reset_claim(m.plan);
        log |m, r, invoked| vec![Event::ClaimReset { plan: m.plan, deleted: *r, invoked }];
    /// [`Store::create_pending_runs`].
    write CreatePendingRuns { plan: PlanId, tasks: Vec<TaskId> } -> Batch<NewRun>
        => |s, m| s.create_pending_runs(m.plan, &m.tasks);
        log |m, r, invoked| vec![Event::RunsCreated {
            plan: m.plan, runs: r.changed.clone(), episode: r.episode, invoked,
        }];
    /// [`Store::promote_pending`].
    write PromotePending {} -> Vec<RunId>
        => |s, _m| s.promote_pending();
        log |_m, r, invoked| if r.is_empty() { vec![] } else {
            vec![Event::RunsPromoted { runs: r.clone(), invoked }]
        };
    /// [`Store::claim_available_runs`].
    write ClaimAvailableRuns { replica: ReplicaId, limit: u32 } -> Vec<ClaimedRun>
        => |s, m| s.claim_available_runs(&m.replica, m.limit);
        log |_m, r, invoked| r.iter().map(|c| Event::RunStarted {
            run: c.run, task: c.task, plan: c.plan, attempt: c.attempt, invoked,
        }).collect();
    /// [`Store::finish_run`].
    write FinishRun { run: RunId, replica: ReplicaId, outcome: RunOutcome, write: StatusWrite } -> Option<EndedRun>
        => |s, m| s.finish_run(m.run, &m.replica, &m.outcome, m.write);
        log |m, r, invoked| r.iter().map(|e| ended(e, m.outcome.error().map(str::to_owned), false, invoked)).collect();
    /// [`Store::cancel_runs`].
    write CancelRuns { plan: PlanId, tasks: Vec<TaskId> } -> Cancellation
        => |s, m| s.cancel_runs(m.plan, &m.tasks);
        log |m, r, invoked| vec![Event::RunsCanceled {
            plan: m.plan,
            canceled: r.canceled.clone(),
            running: r.running.iter().map(|(run, _)| run.clone()).collect(),
            invoked,
        }];
    /// [`Store::skip_tasks`].
    write SkipTasks { plan: PlanId, tasks: Vec<TaskId>, reason: String } -> Batch<TaskId>
        => |s, m| s.skip_tasks(m.plan, &m.tasks, &m.reason);
        log |m, r, invoked| vec![Event::TasksSkipped {
            plan: m.plan, tasks: r.changed.clone(), episode: r.episode, invoked,
        }];
    /// [`Store::plan_state`].
    read ReadPlanState { plan: PlanId } -> PlanState
        => |s, m| s.plan_state(m.plan);
        log |_m, _r, _invoked| vec![];
    /// [`Store::heartbeat`].
    read Heartbeat { replica: ReplicaId } -> ()
        => |s, m| s.heartbeat(&m.replica);
        log |_m, _r, _invoked| vec![];
    /// [`Store::fail_abandoned_runs`].
    write FailAbandonedRuns { stale_after: Duration } -> Vec<EndedRun>
        => |s, m| s.fail_abandoned_runs(m.stale_after);
        log |_m, r, invoked| r.iter().map(|e| {
            ended(e, Some(crate::store::abandoned_error(&e.replica)), true, invoked)
        }).collect();
    /// [`Store::claims`].
    read Claims {} -> Vec<ClaimRow>
        => |s, _m| s.claims();
        log |_m, _r, _invoked| vec![];
    /// [`Store::finish_run_raising`].
    write FinishRunRaising { run: RunId, replica: ReplicaId, outcome: RunOutcome, write: StatusWrite }
        -> Raising<Option<EndedRun>>
        => |s, m| s.finish_run_raising(m.run, &m.replica, &m.outcome, m.write);
        log |m, r, invoked| r.value.iter()
            .map(|e| ended(e, m.outcome.error().map(str::to_owned), false, invoked))
            .chain(raised(&r.raised, invoked))
            .collect();
    /// [`Store::fail_abandoned_runs_raising`].
    write FailAbandonedRunsRaising { stale_after: Duration } -> Raising<Vec<EndedRun>>
        => |s, m| s.fail_abandoned_runs_raising(m.stale_after);
        log |_m, r, invoked| r.value.iter()
            .map(|e| ended(e, Some(crate::store::abandoned_error(&e.replica)), true, invoked))
            .chain(raised(&r.raised, invoked))
            .collect();
    /// [`Store::skip_tasks_raising`].
    write SkipTasksRaising { plan: PlanId, tasks: Vec<TaskId>, reason: String } -> Raising<Batch<TaskId>>
        => |s, m| s.skip_tasks_raising(m.plan, &m.tasks, &m.reason);
        log |m, r, invoked| std::iter::once(Event::TasksSkipped {
            plan: m.plan, tasks: r.value.changed.clone(), episode: r.value.episode, invoked,
        }).chain(raised(&r.raised, invoked)).collect();
    /// [`Store::lease_events`].
    write LeaseEvents { replica: ReplicaId, limit: u32, lease: Duration, max_leases: u32 } -> Vec<LeasedEvent>
        => |s, m| s.lease_events(&m.replica, m.limit, m.lease, m.max_leases);
        log |_m, _r, _invoked| vec![];
    /// [`Store::mark_delivered`].
    read MarkDelivered { event: RaisedEvent } -> bool
        => |s, m| s.mark_delivered(m.event);
        log |_m, _r, _invoked| vec![];
    /// [`Store::outbox`].
    read ReadOutbox {} -> Vec<OutboxRow>
        => |s, _m| s.outbox();
        log |_m, _r, _invoked| vec![];
}

/// The history entry for events a write raised, if it raised any.
fn raised(events: &[RaisedEvent], invoked: Seq) -> Option<Event> {
    (!events.is_empty()).then(|| Event::EventsRaised { events: events.to_vec(), invoked })
}
