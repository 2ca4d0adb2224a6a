//! What to run: the words a run is given before it starts, at the bottom of the chain
//! `Scenario` (file, `crate::scenario`) ─▶ [`ClusterSpec`] ─▶ the simulation
//! (`crate::sim`) ─▶ `Trace` (`crate::trace`) ─▶ `check` ─▶ `judge`.
//!
//! A spec is plain data: the cluster and its timing ([`ClusterConfig`]), the plans,
//! the users' actions ([`TimedAction`], [`ActionKind`]) and reactions
//! ([`Reaction`]), the faults, the deadline, and where webhooks go ([`Target`]). It
//! names no actor, store connection or checker, so the scenario format, the
//! reactions and the actors can all speak it without speaking to each other.

mod action;
mod config;
mod reaction;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use action::{ActionKind, TimedAction};
pub use config::ClusterConfig;
pub use reaction::{Reaction, When, Which};

use crate::faults::Fault;
use crate::script::PlanScript;
use crate::store::StatusWrite;
use crate::strategy::StrategyKind;
use crate::topology::DatabaseSpec;
use crate::webhook::{WebhookPolicies, WebhookPolicy};

/// Everything a run does, before it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// Drives every random choice.
    pub seed: u64,
    /// Replicas and timing.
    pub config: ClusterConfig,
    /// The delivery design under study.
    pub strategy: StrategyKind,
    /// How replicas send webhooks, for every strategy and per strategy; the run uses
    /// the policy of `strategy` ([`ClusterSpec::webhook_policy`]).
    pub webhook: WebhookPolicies,
    /// The plans.
    pub plans: Vec<PlanScript>,
    /// User actions.
    pub timeline: Vec<TimedAction>,
    /// What the users do when something happens to a plan, in scenario order.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// The faults, in scenario order.
    pub faults: Vec<Fault>,
    /// Moments at which to read the claim table (for the scenario's claim checks).
    pub claim_snapshots: Vec<Duration>,
    /// The contract's deadline for each delivery.
    pub deadline: Duration,
    /// The run stops here even if the cluster never goes quiet.
    pub max_duration: Duration,
    /// How the shared database is deployed: one server, or a primary and a standby.
    #[serde(default)]
    pub database: DatabaseSpec,
}

impl ClusterSpec {
    /// The webhook policy of a run of this spec: the one its `strategy` gets, so that
    /// a run under another strategy than the file's sends as that strategy's table says.
    pub fn webhook_policy(&self) -> WebhookPolicy {
        self.webhook.resolve(self.strategy.as_str(), self.strategy.webhook_id())
    }

    /// How the replicas of a run of this spec guard their status writes: as
    /// `[cluster] status_write` says, else as the design of its `strategy` does.
    pub fn status_write(&self) -> StatusWrite {
        self.config.status_write.unwrap_or_else(|| self.strategy.status_write())
    }
}

/// The contract's deadline for each delivery when a scenario gives none.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);
/// How long a run may last when a scenario gives none.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(30);
/// A plan's project when a scenario gives none.
pub const DEFAULT_PROJECT: &str = "demo";
/// The seed when a scenario gives none.
pub const DEFAULT_SEED: u64 = 1;

/// Where webhooks go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// hasim's own receiver: HTTP on localhost on Postgres, in process on the memory
    /// store.
    Builtin,
    /// An outside URL (the checker then sees no receiver log).
    Url(String),
}
