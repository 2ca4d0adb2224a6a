//! The simulated world every actor of a run shares: the seed, the cluster's settings
//! and webhook policy, the clock and history, the task scripts, the crash points, the
//! endpoint, and a count of work in flight (for quiescence).
//!
//! It is the simulation's oracle, not any actor's state: it answers "what does this
//! run do?" and "does this replica crash here?" the same way for every actor.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::faults::CrashPoints;
use crate::history::History;
use crate::link::Link;
use crate::model::{PlanId, ReplicaId, TaskId};
use crate::script::{Attempt, TaskScript};
use crate::spec::ClusterConfig;
use crate::store::{Backend, StatusWrite};
use crate::webhook::{Receiver, Secret, Transport, WebhookPolicy};

/// Where webhooks go.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// How senders reach it.
    pub transport: Transport,
    /// The built-in receiver, when the run uses one (lets a crash fault strike after a
    /// request reached it).
    pub receiver: Option<Receiver>,
    /// The signing secret.
    pub secret: Secret,
}

/// Counts a run's live actors: each holds a [`Token`] that counts it until the actor
/// is dropped, so a run can show that it leaves nothing behind.
#[derive(Debug, Clone, Default)]
pub struct Census(Arc<AtomicUsize>);

impl Census {
    /// A token for a new actor.
    pub fn token(&self) -> Token {
        self.0.fetch_add(1, Ordering::SeqCst);
        Token(self.0.clone())
    }

    /// Actors still alive.
    pub fn live(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Held by an actor: counted in its run's [`Census`] while it exists.
#[derive(Debug)]
pub struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Which task a run belongs to, and its script.
#[derive(Debug, Clone)]
struct TaskEntry {
    plan: usize,
    task: usize,
    script: TaskScript,
}

/// The shared world of one run. Clones share everything.
#[derive(Debug, Clone)]
pub struct World {
    /// The run's seed.
    pub seed: u64,
    /// The cluster's settings.
    pub config: Arc<ClusterConfig>,
    /// How replicas send webhooks: the policy of the strategy this run runs.
    pub policy: Arc<WebhookPolicy>,
    /// How replicas guard their status writes in this run (the configured mode, or
    /// the strategy's own).
    pub status_write: StatusWrite,
    /// The run's history (and clock).
    pub history: History,
    /// The crash triggers.
    pub crash_points: CrashPoints,
    /// The webhook endpoint.
    pub endpoint: Endpoint,
    /// The run's live actors.
    pub census: Census,
    /// Each replica's link to the database, by scenario name (`r1` ...).
    pub links: Arc<HashMap<ReplicaId, Link>>,
    /// The run's own connection to the database, past every link (the director's).
    pub observer: Option<Backend>,
    tasks: Arc<Mutex<HashMap<TaskId, TaskEntry>>>,
    plans: Arc<Mutex<Vec<(usize, PlanId)>>>,
    busy: Arc<AtomicUsize>,
}

impl World {
    /// A world for one run whose replicas guard their status writes as `status_write`
    /// says and send webhooks as `policy` says.
    pub fn new(
        seed: u64,
        config: ClusterConfig,
        (status_write, policy): (StatusWrite, WebhookPolicy),
        history: History,
        crash_points: CrashPoints,
        endpoint: Endpoint,
    ) -> Self {
        World {
            seed,
            status_write,
            links: Arc::new((1..=config.replicas).map(|n| (ReplicaId::nth(n), Link::default())).collect()),
            config: Arc::new(config),
            policy: Arc::new(policy),
            history,
            crash_points,
            endpoint,
            census: Census::default(),
            observer: None,
            tasks: Arc::default(),
            plans: Arc::default(),
            busy: Arc::default(),
        }
    }

    /// This world, reading the database past the links through `observer`.
    pub fn observing(mut self, observer: Backend) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Records which plan and task a created task id is, and its script.
    pub fn register_task(&self, id: TaskId, plan: usize, task: usize, script: TaskScript) {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).insert(id, TaskEntry { plan, task, script });
    }

    /// Records that the users' `index`-th plan was created as `plan`.
    pub fn register_plan(&self, index: usize, plan: PlanId) {
        self.plans.lock().unwrap_or_else(|p| p.into_inner()).push((index, plan));
    }

    /// The plans the users know they created, as (position in the scenario, id), in
    /// the order they were created, from the `from`-th on.
    pub fn user_plans_from(&self, from: usize) -> Vec<(usize, PlanId)> {
        let plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.get(from..).unwrap_or_default().to_vec()
    }

    /// What attempt `attempt` of task `id` does; `None` for a task the run did not
    /// create (it never happens in a run hasim drives).
    pub fn attempt(&self, id: TaskId, attempt: i32) -> Option<Attempt> {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.get(&id).map(|t| t.script.attempt(self.seed, t.plan, t.task, attempt))
    }

    /// Counts `n` pieces of work starting (a hook, a webhook delivery).
    pub fn busy(&self, n: usize) {
        self.busy.fetch_add(n, Ordering::SeqCst);
    }

    /// Counts `n` pieces of work ended, or dropped by a crash.
    pub fn idle(&self, n: usize) {
        self.busy.fetch_sub(n, Ordering::SeqCst);
    }

    /// The link of replica `name` (its scenario name).
    pub fn link(&self, name: &ReplicaId) -> Option<&Link> {
        self.links.get(name)
    }

    /// Work in flight anywhere in the cluster.
    pub fn in_flight(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
    }
}
