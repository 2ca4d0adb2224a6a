//! Property-based exploration: random HA scenarios, shrunk to replayable
//! counterexample files.
//!
//! Scripted scenarios find the hazards someone thought of; exploration searches for
//! the rest. [`case`] is a proptest strategy for whole scenarios ([`Case`]: 1-5
//! replicas, 1-4 plans of 1-6 tasks, scripted outcomes, retries, skips and cancels,
//! faults of every kind), [`Case::to_toml`] turns one into a normal scenario file, and
//! [`explore`] runs a [`Search`]: generated cases under one strategy, each failing one
//! shrunk to the smallest case that fails the same way, written as a file that
//! replays with `hasim run`. A search runs on several threads ([`Search::jobs`]) or
//! in [`Shard`]s on several machines with the same result, and [`merge`] joins the
//! counterexample folders of several searches, one file per distinct violation.
//!
//! The generators are public so that users can state their own properties:
//!
//! ```no_run
//! use hasim::explore::{Bounds, Search, case, run_case};
//! use hasim::strategy::StrategyKind;
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #[test]
//!     fn outbox_never_duplicates(c in case(&Bounds::default())) {
//!         let run = run_case(&Search::new(StrategyKind::OUTBOX, 1), &c).unwrap();
//!         prop_assert!(run.result.report.violations().all(|e| e.verdict != hasim::check::Verdict::Duplicate));
//!     }
//! }
//! ```

mod case;
pub mod cli;
mod collect;
mod counterexample;
mod generate;
mod identity;
mod merge;
mod minimize;
mod render;
mod search;
mod shard;
mod trial;
mod workers;

pub use case::{
    ActionCase, ActionCaseKind, AttemptCase, Case, CrashWhen, EndpointCase, FaultCase, PlanCase, PointCase,
    SpanCase, TaskCase,
};
pub use counterexample::Counterexample;
pub use generate::{Bounds, action, case, fault, plan, task};
pub use merge::{MergeError, Merged, merge};
pub use minimize::simpler;
pub use render::{Annotations, DEADLINE, ExpectedVerdict};
pub use search::{Outcome, Progress, Search, explore, run_case};
pub use shard::Shard;
