//! A run described in Rust instead of a scenario file: [`Sim::builder`] gathers the
//! replicas, plans, user actions, faults, webhook policy, strategy, store and seed
//! into a [`ClusterSpec`] and a [`Setup`], and [`Builder::run`] runs them, giving
//! back the [`Trace`] that [`crate::check`] judges.
//!
//! ```
//! use std::time::Duration;
//! use hasim::Sim;
//! use hasim::check::Verdict;
//! use hasim::script::TaskScript;
//! use hasim::store::RunOutcome;
//! use hasim::strategy::StrategyKind;
//!
//! let ms = Duration::from_millis;
//! let failing = TaskScript::done_after("migrate", ms(20)).then(RunOutcome::Failed { error: "boom".into() }, ms(20));
//! let trace = Sim::builder()
//!     .replicas(2)
//!     .strategy(StrategyKind::OUTBOX)
//!     .plan("rollout", [failing])
//!     .run_at(ms(1), "rollout")
//!     .run()?;
//! let report = hasim::check(&trace);
//! assert_eq!(report.events[0].verdict, Verdict::Delivered);
//! # Ok::<(), hasim::Error>(())
//! ```

use std::time::Duration;

use super::{Database, Setup, execute};
use crate::faults::{Fault, FaultKind, Trigger};
use crate::model::ReplicaId;
use crate::scenario::Scenario;
use crate::script::{PlanScript, TaskScript};
use crate::spec::{
    ActionKind, ClusterConfig, ClusterSpec, DEFAULT_DEADLINE, DEFAULT_MAX_DURATION, DEFAULT_PROJECT,
    DEFAULT_SEED, TimedAction,
};
use crate::strategy::{Design, StrategyKind, register};
use crate::trace::Trace;
use crate::webhook::{PolicyKeys, WebhookPolicies};
use crate::{Error, Result};

/// The simulation, as a library runs it.
pub struct Sim;

impl Sim {
    /// A run with the defaults a scenario file gets: three replicas on the scaled
    /// timing of [`ClusterConfig::default`], `seed-claim`, seed 1, the memory store
    /// and the built-in receiver, a 2 s deadline, at most 30 s.
    pub fn builder() -> Builder {
        Builder {
            spec: ClusterSpec {
                seed: DEFAULT_SEED,
                config: ClusterConfig::default(),
                strategy: StrategyKind::SEED_CLAIM,
                webhook: WebhookPolicies::default(),
                plans: Vec::new(),
                timeline: Vec::new(),
                reactions: Vec::new(),
                faults: Vec::new(),
                claim_snapshots: Vec::new(),
                deadline: DEFAULT_DEADLINE,
                max_duration: DEFAULT_MAX_DURATION,
                database: Default::default(),
            },
            setup: Setup::memory(),
            problem: None,
        }
    }

    /// The run a scenario file describes, on the memory store, to adjust before it
    /// starts: another strategy or seed, Postgres, one more fault. This is how
    /// `hasim run` reads a file into a run.
    ///
    /// ```
    /// use hasim::Sim;
    /// use hasim::strategy::StrategyKind;
    ///
    /// let scenario = hasim::builtin::load("crash-after-claim").expect("a shipped scenario")?;
    /// let trace = Sim::from_scenario(&scenario).strategy(StrategyKind::OUTBOX).seed(7).run()?;
    /// assert!(hasim::check(&trace).pass, "the outbox keeps the contract through the crash");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_scenario(scenario: &Scenario) -> Builder {
        Builder {
            spec: scenario.spec.clone(),
            setup: Setup {
                database: Database::Memory,
                target: scenario.target.clone(),
                secret: scenario.secret.clone(),
                default_status: scenario.default_status,
            },
            problem: None,
        }
    }
}

/// What a run will do, gathered a call at a time; the first mistake (a plan named
/// twice, an action on a plan never declared, a design that cannot be registered) is
/// kept and returned by [`Builder::build`] and [`Builder::run`].
pub struct Builder {
    spec: ClusterSpec,
    setup: Setup,
    problem: Option<String>,
}

/// What [`Builder::strategy`] takes: a registered strategy, or a design to register.
pub trait IntoStrategy {
    /// The registered strategy.
    fn into_strategy(self) -> Result<StrategyKind>;
}

impl IntoStrategy for StrategyKind {
    fn into_strategy(self) -> Result<StrategyKind> {
        Ok(self)
    }
}

impl IntoStrategy for Design {
    fn into_strategy(self) -> Result<StrategyKind> {
        register(self)
    }
}

impl Builder {
    /// Drives every random choice of the run.
    pub fn seed(mut self, seed: u64) -> Self {
        self.spec.seed = seed;
        self
    }

    /// Replicas `r1` ... `rN`.
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.spec.config.replicas = replicas;
        self
    }

    /// The cluster's timing and replicas at once.
    pub fn cluster(mut self, config: ClusterConfig) -> Self {
        self.spec.config = config;
        self
    }

    /// The delivery design under study: a registered strategy, or a [`Design`] of
    /// your own (registered by its name).
    pub fn strategy(mut self, strategy: impl IntoStrategy) -> Self {
        match strategy.into_strategy() {
            Ok(strategy) => self.spec.strategy = strategy,
            Err(e) => self.fail(e.to_string()),
        }
        self
    }

    /// A plan named `name` with `tasks`, in the default project.
    pub fn plan(mut self, name: &str, tasks: impl IntoIterator<Item = TaskScript>) -> Self {
        if self.spec.plans.iter().any(|p| p.name == name) {
            self.fail(format!("the plan {name:?} is declared twice"));
        }
        let tasks = tasks.into_iter().collect();
        self.spec.plans.push(PlanScript { name: name.into(), project: DEFAULT_PROJECT.into(), tasks });
        self
    }

    /// The user runs (or, later, retries) every task of plan `plan` at `at`.
    pub fn run_at(self, at: Duration, plan: &str) -> Self {
        self.action(at, plan, ActionKind::Run, None)
    }

    /// The user does `action` on plan `plan` at `at`: to the tasks at positions
    /// `tasks` (`None`: all of them), through the replica a load balancer picks.
    pub fn action(mut self, at: Duration, plan: &str, action: ActionKind, tasks: Option<Vec<usize>>) -> Self {
        match self.spec.plans.iter().position(|p| p.name == plan) {
            Some(plan) => self.spec.timeline.push(TimedAction { at, plan, action, tasks, via: None }),
            None => self.fail(format!("{} at {at:?} names the plan {plan:?}, not declared", action.as_str())),
        }
        self
    }

    /// A fault: what it does, and when it strikes.
    pub fn fault(mut self, kind: FaultKind, trigger: Trigger) -> Self {
        let index = self.spec.faults.len();
        self.spec.faults.push(Fault { index, kind, trigger });
        self
    }

    /// Replica `replica` (`r1` ...) crashes when it reaches `point` the first time,
    /// and restarts `restart_after` later.
    pub fn crash_at(self, replica: usize, point: crate::faults::CrashPoint, restart_after: Duration) -> Self {
        let name = ReplicaId::nth(replica);
        let kind = FaultKind::Crash { replica: name.clone(), restart_after: Some(restart_after) };
        self.fault(kind, Trigger::When { replica: name, point, nth: 1 })
    }

    /// How replicas send webhooks, for every strategy (the keys of `[webhook]`).
    pub fn webhook(mut self, keys: PolicyKeys) -> Self {
        self.spec.webhook.every = keys;
        self
    }

    /// The contract's deadline for each delivery.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.spec.deadline = deadline;
        self
    }

    /// The run stops here even if the cluster never goes quiet.
    pub fn max_duration(mut self, max_duration: Duration) -> Self {
        self.spec.max_duration = max_duration;
        self
    }

    /// Runs on a fresh schema of the Postgres server at `url` (dropped after), on the
    /// real clock, with the built-in receiver over HTTP.
    pub fn postgres(self, url: impl Into<String>) -> Self {
        self.database(Database::Postgres { url: url.into(), keep_schema: false })
    }

    /// Runs on `database`: the memory store, or a schema of a Postgres server.
    pub fn database(mut self, database: Database) -> Self {
        self.setup.database = database;
        self
    }

    fn fail(&mut self, problem: String) {
        self.problem.get_or_insert(problem);
    }

    /// What the run will do and where, or the first mistake made building it.
    pub fn build(self) -> Result<(ClusterSpec, Setup)> {
        match self.problem {
            Some(problem) => Err(Error::Spec(problem)),
            None if self.spec.plans.is_empty() => Err(Error::Spec("the run has no plan".into())),
            None => Ok((self.spec, self.setup)),
        }
    }

    /// Runs it to the end in an actix system of its own (call it from a plain thread):
    /// on the memory store a paused clock makes the trace a function of the seed.
    pub fn run(self) -> Result<Trace> {
        let (spec, setup) = self.build()?;
        run_blocking(spec, &setup)
    }
}

/// Runs `spec` as `setup` says in an actix system of its own, on a paused clock when
/// the run does no real I/O ([`Setup::is_virtual`]).
pub fn run_blocking(spec: ClusterSpec, setup: &Setup) -> Result<Trace> {
    let system = if setup.is_virtual() {
        actix::System::with_tokio_rt(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .expect("a current-thread runtime")
        })
    } else {
        actix::System::new()
    };
    system.block_on(execute(spec, setup))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> TaskScript {
        TaskScript::done_after("t", Duration::from_millis(10))
    }

    #[test]
    fn mistakes_are_kept_and_the_first_is_returned() {
        let err = |b: Builder| b.build().unwrap_err().to_string();
        assert!(err(Sim::builder()).contains("no plan"));
        let twice = Sim::builder().plan("p", [task()]).plan("p", [task()]);
        assert!(err(twice).contains("\"p\" is declared twice"));
        let stray =
            Sim::builder().plan("p", [task()]).run_at(Duration::ZERO, "q").run_at(Duration::ZERO, "r");
        assert!(err(stray).contains("names the plan \"q\""));
    }

    #[test]
    fn actions_and_faults_land_in_the_spec_in_order() {
        let (spec, setup) = Sim::builder()
            .plan("a", [task()])
            .plan("b", [task(), task()])
            .run_at(Duration::from_millis(5), "b")
            .action(Duration::from_millis(9), "a", ActionKind::Skip, Some(vec![0]))
            .crash_at(2, crate::faults::CrashPoint::AfterClaim, Duration::from_millis(100))
            .strategy(StrategyKind::OUTBOX)
            .seed(9)
            .build()
            .unwrap();
        let actions: Vec<(usize, ActionKind)> = spec.timeline.iter().map(|a| (a.plan, a.action)).collect();
        assert_eq!(actions, [(1, ActionKind::Run), (0, ActionKind::Skip)]);
        assert_eq!((spec.faults.len(), spec.faults[0].index), (1, 0));
        assert_eq!((spec.strategy, spec.seed, setup.is_virtual()), (StrategyKind::OUTBOX, 9, true));
    }
}
