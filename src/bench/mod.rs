//! Claim-contention benchmarks, shared by `hasim bench` and `benches/claim_contention.rs`.
//!
//! R replicas (each its own [`crate::actors::StoreActor`] on its own pool, like separate
//! processes, holding one connection of it by default) race for the claim on
//! `plan_webhook_delivery`, or relay the outbox:
//!
//! - [`Workload::Hot`]: every replica claims the same plan and, when it wins, resets the
//!   claim, over and over, never waiting for another (what pgbench's clients do with the
//!   same statements); losers wait on the winner's uncommitted insert. With
//!   [`HotShape::Rounds`], rounds instead: all R claim at the same moment, exactly one
//!   wins and resets, and the next round starts only when everyone has answered.
//! - [`Workload::Spread`]: each replica claims plans drawn at random (seeded) from P and
//!   keeps what it wins. With P far above the claims of a run, nearly every claim
//!   inserts a new row; with P small, nearly every claim finds a committed row and
//!   loses at once. Contention falls as P grows.
//! - [`Workload::Cycle`]: each replica claims, "sends" (a no-op) and resets, over and
//!   over, on plan `replica mod P` (P defaults to R: a plan each, so every claim wins),
//!   like retries on a busy plan: the cost of one claim + reset cycle. With P < R,
//!   replicas share plans and race.
//! - [`Workload::Outbox`]: each replica is a relay leasing pending outbox rows with
//!   `FOR UPDATE SKIP LOCKED`, sending (a no-op) and marking them delivered, from a
//!   table filled with P rows; a row delivered twice within its lease is a duplicate.
//!
//! The claim workloads run with any [`Mechanism`]. A run measures claims/s (relay
//! steps/s), winners/s (rows delivered/s), latency percentiles (send to answer, through
//! the actor) and duplicates, which must be 0. With [`PgbenchOptions`], pgbench runs the
//! same statements with the same number of clients on the same schema, and the report
//! gives the ratio.
//!
//! The library never prints: [`sweep`] returns a [`BenchReport`]; [`report`] renders it.
//! The pieces, in the order a sweep uses them: [`config`](BenchConfig) and its checks,
//! the [`BenchEnv`] (schema, plans, client threads), the [`Replicas`] and their
//! [`ClaimPath`], one run ([`RunSpec`]: racers, `hot` free or in rounds, the outbox relay), the
//! [`pgbench`] mirror, and the sweep that makes points of runs.

pub mod cli;
mod config;
mod env;
mod error;
mod histogram;
mod hot;
mod mechanism;
mod outbox;
pub mod pgbench;
mod racer;
mod replicas;
pub mod report;
mod results;
mod rounds;
mod run;
mod sampling;
mod sweep;

pub use config::{BenchConfig, MAX_REPLICAS, PgbenchOptions, Stop, Target, Workload};
pub use env::BenchEnv;
pub use error::BenchError;
pub use histogram::{Histogram, LatencySummary};
pub use hot::HotShape;
pub use mechanism::{
    ADVISORY_LOCK, ClaimActor, INSERT_IF_ABSENT, Mechanism, MechanismClaim, ON_CONFLICT_CLAIM, PLAN_LOCK,
    RESET, claim,
};
pub use pgbench::PgbenchResult;
pub use replicas::{ClaimPath, PoolSettings, Replicas};
pub use results::{BenchReport, OutboxCounts, OutboxRows, PointResult};
pub use run::{PlanRange, RunSpec};
pub use sampling::{WaitSample, load_1m, rss_kib};
pub use sweep::{Measured, sweep, sweep_reporting};
