//! hasim: a simulation framework for HA scheduler scenarios.
//!
//! Replicas of a rollout server share one Postgres and must announce pipeline
//! outcomes (PIPELINE_FAILED, PIPELINE_COMPLETED) by webhook exactly once. hasim
//! models that system (plans, tasks, task runs, replicas, the webhook claim table)
//! and lets an engineer check whether a delivery design keeps its promise.
//!
//! A run flows one way: a [`scenario::Scenario`] file gives a [`spec::ClusterSpec`];
//! the simulation ([`sim::execute`]) runs it with actors and gives back a
//! [`trace::Trace`]; the checker judges the trace alone ([`check()`], i.e.
//! [`check::check_trace`]); [`judge`] sets the verdicts against what the file expects.
//! [`runner::run_scenario`] drives the chain; [`recheck`] runs its last two links
//! again on a saved trace.
//!
//! A run in Rust, judged:
//!
//! ```
//! use std::time::Duration;
//! use hasim::Sim;
//! use hasim::check::Verdict;
//! use hasim::faults::CrashPoint;
//! use hasim::script::TaskScript;
//! use hasim::store::RunOutcome;
//! use hasim::strategy::StrategyKind;
//!
//! let ms = Duration::from_millis;
//! // A plan whose one task fails, on two replicas; the first replica to win the
//! // claim crashes right after it (and restarts 100 ms later).
//! let fails = TaskScript::done_after("migrate", ms(20)).then(RunOutcome::Failed { error: "boom".into() }, ms(20));
//! let run = |strategy| {
//!     Sim::builder()
//!         .replicas(2)
//!         .strategy(strategy)
//!         .plan("add-column", [fails.clone()])
//!         .run_at(ms(1), "add-column")
//!         .crash_at(1, CrashPoint::AfterClaim, ms(100))
//!         .crash_at(2, CrashPoint::AfterClaim, ms(100))
//!         .run()
//! };
//! // The design plan's claim-then-send loses the event; the outbox delivers it.
//! let claim = hasim::check(&run(StrategyKind::SEED_CLAIM)?);
//! assert_eq!(claim.events[0].verdict, Verdict::Lost);
//! let outbox = hasim::check(&run(StrategyKind::OUTBOX)?);
//! assert_eq!(outbox.events[0].verdict, Verdict::Delivered);
//! # Ok::<(), hasim::Error>(())
//! ```
//!
//! A scenario file is read into the same builder ([`Sim::from_scenario`]), to run as
//! it is or adjusted. Your own design is a [`strategy::Strategy`] registered as a
//! [`strategy::Design`] (`Sim::builder().strategy(design)`, or a `hasim` binary of
//! your own: [`cli::run_with`]); `docs/extending.md` says how.
//!
//! The [`store`] holds the shared tables behind one [`Store`] trait with two
//! backends: [`store::PgStore`] on a real Postgres schema and [`store::MemoryStore`],
//! a faithful in-process model. Every replica talks to it through its own
//! [`actors::StoreActor`]:
//!
//! ```
//! use hasim::model::EventType;
//! use hasim::store::{Claim, MemoryStore, NewPlan, Store};
//!
//! # actix::System::new().block_on(async {
//! let db = MemoryStore::new();
//! let plan = db
//!     .create_plan(&NewPlan { project: "p".into(), title: "rollout".into(), tasks: vec!["t1".into()] })
//!     .await?;
//! // Two replicas race for the right to announce the failure: one wins.
//! assert_eq!(db.claim_event(plan.plan, EventType::PipelineFailed).await?, Claim::Won);
//! assert_eq!(db.claim_event(plan.plan, EventType::PipelineFailed).await?, Claim::Lost);
//! # Ok::<(), hasim::Error>(())
//! # }).unwrap();
//! ```

pub mod actors;
pub mod args;
pub mod bench;
pub mod builtin;
pub mod check;
pub mod cli;
pub mod clock;
pub mod doctor;
mod error;
pub mod explore;
pub mod faults;
pub mod history;
pub mod housekeeping;
pub mod interrupt;
pub mod judge;
pub mod lag;
pub mod link;
pub mod model;
pub mod proxy;
pub mod reactions;
pub mod recheck;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod script;
pub mod sim;
pub mod spec;
pub mod store;
pub mod stores;
pub mod strategy;
pub mod strike;
pub mod topology;
pub mod trace;
pub mod webhook;
pub mod world;

pub use check::check_trace;
/// Judges a run's [`trace::Trace`]: `hasim::check(&trace)`, the same as
/// [`check::check_trace`].
pub use check::check_trace as check;
pub use error::{Error, Result};
pub use sim::Sim;
pub use store::Store;
