//! `ReplicaActor`: one rollout server process. It owns its store actor (its pool),
//! its webhook actor, the task runs it executes and its delivery strategy's memory.
//!
//! Its timers are the server's loops: the scheduler tick promotes PENDING runs and
//! takes AVAILABLE ones (SKIP LOCKED), the heartbeat, and the abandoned-run cleaner.
//! It serves user requests routed to it. A crash stops it and everything it owns at
//! once; a restart is a new actor with a new pool and empty memory.

mod ctx;
mod hooks;

pub use ctx::{ReplicaCtx, ReplicaParts};
pub use hooks::{Hook, Strategy, retrying};

use std::collections::HashMap;
use std::rc::Rc;

use actix::prelude::*;

use super::director::ReplicaDown;
use super::store::{
    CancelRuns, ClaimAvailableRuns, CreatePlan, Heartbeat, PromotePending, StopStore, StoreActor,
};
use super::task_run::{Abort, TaskRunActor};
use super::webhook::{StopWebhook, WebhookActor};
use crate::Result;
use crate::faults::CrashPoint;
use crate::history::Event;
use crate::model::{PlanId, ReplicaId, RunId, TaskId};
use crate::script::Attempt;
use crate::store::{Backend, Batch, Cancellation, ClaimedRun, CreatedPlan, NewPlan, NewRun, RunOutcome};
use crate::strike::{AtCommit, Crash};
use crate::world::{Token, World};

/// One incarnation of a replica.
pub struct ReplicaActor {
    id: ReplicaId,
    name: ReplicaId,
    world: World,
    strategy: Rc<dyn Strategy>,
    backend: Option<Backend>,
    director: Recipient<ReplicaDown>,
    store: Option<Addr<StoreActor>>,
    webhook: Option<Addr<WebhookActor>>,
    /// The strategies' handle on this incarnation, made once it has started.
    handle: Option<ReplicaCtx>,
    running: HashMap<RunId, Addr<TaskRunActor>>,
    /// Hooks and requests in flight (counted in the world's busy count).
    hooks: usize,
    /// Loops whose previous round is still waiting on the database.
    looping: [bool; 4],
    _census: Token,
}

#[derive(Clone, Copy)]
enum Loop {
    Scheduler = 0,
    Heartbeat = 1,
    Cleaner = 2,
    Strategy = 3,
}

impl ReplicaActor {
    /// Incarnation `id` of replica `name`, on `backend`, running `strategy`.
    pub fn new(
        id: ReplicaId,
        name: ReplicaId,
        world: World,
        strategy: Rc<dyn Strategy>,
        backend: Backend,
        director: Recipient<ReplicaDown>,
    ) -> Self {
        let census = world.census.token();
        ReplicaActor {
            _census: census,
            id,
            name,
            world,
            strategy,
            backend: Some(backend),
            director,
            store: None,
            webhook: None,
            handle: None,
            running: HashMap::new(),
            hooks: 0,
            looping: [false; 4],
        }
    }

    fn ctx(&self, _: &Context<Self>) -> ReplicaCtx {
        self.handle.clone().expect("started")
    }

    /// Runs `hook` in this replica, counted as work in flight until it ends or dies.
    fn spawn_hook(&mut self, hook: Hook, ctx: &mut Context<Self>) {
        self.hooks += 1;
        self.world.busy(1);
        let id = self.id.clone();
        ctx.spawn(hook.into_actor(self).map(move |result, act, _| {
            act.hooks -= 1;
            act.world.idle(1);
            if let Err(e) = result {
                tracing::debug!(replica = %id, "hook failed: {e}");
            }
        }));
    }

    /// Serves a user request in this replica, counted like a hook.
    fn serve<T: 'static>(&mut self, request: Hook<T>) -> ResponseActFuture<Self, Result<T>> {
        self.hooks += 1;
        self.world.busy(1);
        Box::pin(request.into_actor(self).map(|result, act, _| {
            act.hooks -= 1;
            act.world.idle(1);
            result
        }))
    }

    /// Runs one round of a loop unless the previous round is still waiting.
    fn round<T: 'static>(
        &mut self,
        which: Loop,
        ctx: &mut Context<Self>,
        work: Hook<T>,
        then: impl FnOnce(T, &mut Self, &mut Context<Self>) + 'static,
    ) {
        if std::mem::replace(&mut self.looping[which as usize], true) {
            return;
        }
        let id = self.id.clone();
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            act.looping[which as usize] = false;
            match result {
                Ok(value) => then(value, act, ctx),
                Err(e) => tracing::debug!(replica = %id, "loop round failed: {e}"),
            }
        }));
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        let r = self.ctx(ctx);
        let limit = self.world.config.runs_per_tick;
        let work: Hook<Vec<ClaimedRun>> = Box::pin(async move {
            r.store(PromotePending {}).await?;
            r.store(ClaimAvailableRuns { replica: r.id.clone(), limit }).await
        });
        self.round(Loop::Scheduler, ctx, work, |runs, act, ctx| {
            for run in runs {
                act.execute(run, ctx);
            }
        });
    }

    fn execute(&mut self, run: ClaimedRun, ctx: &mut Context<Self>) {
        let attempt = self
            .world
            .attempt(run.task, run.attempt)
            .unwrap_or_else(|| Attempt { outcome: RunOutcome::Done, duration: self.world.config.tick });
        let actor =
            TaskRunActor::new(run.run, attempt, ctx.address().recipient(), self.world.census.token()).start();
        self.running.insert(run.run, actor);
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let r = self.ctx(ctx);
        let work: Hook = Box::pin(async move { r.store(Heartbeat { replica: r.id.clone() }).await });
        self.round(Loop::Heartbeat, ctx, work, |(), _, _| {});
    }

    fn clean(&mut self, ctx: &mut Context<Self>) {
        let r = self.ctx(ctx);
        let stale_after = self.world.config.abandon_after;
        let work = self.strategy.clean(r, stale_after);
        self.round(Loop::Cleaner, ctx, work, |(), _, _| {});
    }

    fn relay(&mut self, ctx: &mut Context<Self>) {
        let work = self.strategy.tick(self.ctx(ctx));
        self.round(Loop::Strategy, ctx, work, |(), _, _| {});
    }

    /// Writes a run's end, then lets the strategy act on it.
    fn end_run(&mut self, run: RunId, outcome: RunOutcome, ctx: &mut Context<Self>) {
        let r = self.ctx(ctx);
        let strategy = self.strategy.clone();
        self.spawn_hook(
            Box::pin(async move {
                let ended = strategy.finish_run(r.clone(), run, outcome).await?;
                if let Some(ended) = ended {
                    r.crash_point(CrashPoint::AfterStatusWrite).await;
                    strategy.run_ended(r, ended).await?;
                }
                Ok(())
            }),
            ctx,
        );
    }
}

impl Actor for ReplicaActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let backend = self.backend.take().expect("started once");
        let in_memory = matches!(backend, Backend::Memory(_));
        let mut store = StoreActor::new(self.id.clone(), backend, self.world.history.clone());
        if let Some(link) = self.world.link(&self.name).filter(|_| in_memory) {
            store = store.over(link.clone());
        }
        // On Postgres the after-commit point acts through the replica's link proxy,
        // which only a replica that a fault at a point strikes has; the others commit
        // without the hook (and without the BEGIN and COMMIT around a write it needs).
        let proxied = self.world.link(&self.name).is_some_and(|link| link.proxy().is_some());
        if in_memory || proxied {
            let replica = ctx.address().recipient();
            let at_commit = AtCommit::new(self.world.clone(), self.name.clone(), self.id.clone(), replica);
            store = store.striking(at_commit);
        }
        self.store = Some(store.counted(self.world.census.token()).start());
        let webhook = WebhookActor::new(
            self.id.clone(),
            self.name.clone(),
            self.world.clone(),
            ctx.address().recipient(),
        );
        self.webhook = Some(webhook.start());
        self.handle = Some(ReplicaCtx::new(ReplicaParts {
            id: self.id.clone(),
            name: self.name.clone(),
            world: self.world.clone(),
            store: self.store.clone().expect("just started"),
            webhook: self.webhook.clone().expect("just started"),
            replica: ctx.address(),
        }));
        let config = self.world.config.clone();
        self.heartbeat(ctx);
        ctx.run_interval(config.heartbeat, |act, ctx| act.heartbeat(ctx));
        ctx.run_interval(config.tick, |act, ctx| {
            act.schedule(ctx);
            act.relay(ctx);
        });
        ctx.run_interval(config.abandon_after / 2, |act, ctx| act.clean(ctx));
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // The handle holds this actor's own address: let it go with the actor.
        self.handle = None;
        if let Some(store) = &self.store {
            store.do_send(StopStore);
        }
        if let Some(webhook) = &self.webhook {
            webhook.do_send(StopWebhook);
        }
        for run in self.running.values() {
            run.do_send(Abort);
        }
        self.world.idle(self.hooks);
        self.hooks = 0;
    }
}

/// A task run this replica executes has ended.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RunFinished {
    /// The run.
    pub run: RunId,
    /// How it ended.
    pub outcome: RunOutcome,
}

impl Handler<RunFinished> for ReplicaActor {
    type Result = ();

    fn handle(&mut self, msg: RunFinished, ctx: &mut Context<Self>) {
        if self.running.remove(&msg.run).is_some() {
            self.end_run(msg.run, msg.outcome, ctx);
        }
    }
}

/// The user canceled a run this replica is running: stop it and write CANCELED.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct CancelRun {
    /// The run.
    pub run: RunId,
}

impl Handler<CancelRun> for ReplicaActor {
    type Result = ();

    fn handle(&mut self, msg: CancelRun, ctx: &mut Context<Self>) {
        if let Some(actor) = self.running.remove(&msg.run) {
            actor.do_send(Abort);
            self.end_run(msg.run, RunOutcome::Canceled, ctx);
        }
    }
}

/// A completion check on this replica's in-memory channel.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct CheckCompletion {
    /// The plan.
    pub plan: PlanId,
}

impl Handler<CheckCompletion> for ReplicaActor {
    type Result = ();

    fn handle(&mut self, msg: CheckCompletion, ctx: &mut Context<Self>) {
        let hook = self.strategy.check_completion(self.ctx(ctx), msg.plan);
        self.spawn_hook(hook, ctx);
    }
}

/// Crash now: log it, tell the director, stop everything this replica owns.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct CrashNow {
    /// The fault that struck, if a scenario fault did.
    pub fault: Option<usize>,
    /// The crash point it struck at, if any.
    pub point: Option<CrashPoint>,
    /// Start a new incarnation this long after.
    pub restart_after: Option<std::time::Duration>,
}

impl Handler<CrashNow> for ReplicaActor {
    type Result = ();

    fn handle(&mut self, msg: CrashNow, ctx: &mut Context<Self>) {
        let point = msg.point.map(|p| p.to_string());
        self.world.history.record(Some(&self.id), Event::Crashed { replica: self.id.clone(), point });
        self.director.do_send(ReplicaDown { name: self.name.clone(), restart_after: msg.restart_after });
        ctx.stop();
    }
}

impl Crash {
    /// The message that crashes the replica.
    pub fn message(self) -> CrashNow {
        CrashNow { fault: Some(self.fault), point: Some(self.point), restart_after: self.restart_after }
    }
}

/// A crash at the after-commit point, as the store actor's [`AtCommit`] hands it over.
impl Handler<Crash> for ReplicaActor {
    type Result = ();

    fn handle(&mut self, crash: Crash, ctx: &mut Context<Self>) {
        <Self as Handler<CrashNow>>::handle(self, crash.message(), ctx);
    }
}

/// Stop quietly: the run is over.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct StopReplica;

impl Handler<StopReplica> for ReplicaActor {
    type Result = ();

    fn handle(&mut self, _: StopReplica, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// A user request, served by this replica like an API call through a load balancer.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Served>")]
pub enum Serve {
    /// Create a plan and its tasks.
    CreatePlan(NewPlan),
    /// BatchRunTasks.
    RunTasks(PlanId, Vec<TaskId>),
    /// BatchSkipTasks.
    SkipTasks(PlanId, Vec<TaskId>),
    /// BatchCancelTaskRuns.
    CancelTasks(PlanId, Vec<TaskId>),
}

/// What a served request returned.
#[derive(Debug, Clone)]
pub enum Served {
    /// The plan was created.
    Created(CreatedPlan),
    /// Runs were created (maybe none).
    Ran(Batch<NewRun>),
    /// Tasks were skipped (maybe none).
    Skipped(Batch<TaskId>),
    /// Runs were canceled or must be signaled.
    Canceled(Cancellation),
}

impl Handler<Serve> for ReplicaActor {
    type Result = ResponseActFuture<Self, Result<Served>>;

    fn handle(&mut self, request: Serve, ctx: &mut Context<Self>) -> Self::Result {
        let r = self.ctx(ctx);
        let strategy = self.strategy.clone();
        self.serve(Box::pin(async move {
            Ok(match request {
                Serve::CreatePlan(plan) => Served::Created(r.store(CreatePlan { plan }).await?),
                Serve::RunTasks(plan, tasks) => Served::Ran(strategy.batch_run(r, plan, tasks).await?),
                Serve::SkipTasks(plan, tasks) => Served::Skipped(strategy.batch_skip(r, plan, tasks).await?),
                Serve::CancelTasks(plan, tasks) => {
                    Served::Canceled(r.store(CancelRuns { plan, tasks }).await?)
                }
            })
        }))
    }
}
