//! What a sweep is asked to do: the workload, where it runs, when each point stops,
//! and the checks that refuse an impossible request before anything connects.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{BenchError, ClaimPath, HotShape, Mechanism, PoolSettings};

/// The most replicas a point may have (each holds a connection).
pub const MAX_REPLICAS: usize = 256;

/// What the replicas do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Every replica claims one plan, resets it when it won, and again (or in rounds).
    Hot,
    /// Claims on plans drawn at random from P, keeping what is won (no reset).
    Spread,
    /// Claim, send (no-op), reset, on plan `replica mod P` (P = replicas by default).
    Cycle,
    /// Relays leasing pending outbox rows (`FOR UPDATE SKIP LOCKED`, one row per
    /// lease), sending (no-op) and marking each delivered, from a table filled with P
    /// rows before each run (Postgres only).
    Outbox,
}

impl Workload {
    /// The name the CLI and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Hot => "hot",
            Workload::Spread => "spread",
            Workload::Cycle => "cycle",
            Workload::Outbox => "outbox",
        }
    }

    /// P when none is given: 1 for `hot`, 1,000,000 for `spread` (a new row per claim
    /// for the first hundreds of thousands), one per replica for `cycle`, and for
    /// `outbox` 200,000 pending rows (more than a run of a minute takes here).
    pub fn default_plans(self, replicas: usize) -> u32 {
        match self {
            Workload::Hot => 1,
            Workload::Spread => 1_000_000,
            Workload::Cycle => replicas as u32,
            Workload::Outbox => 200_000,
        }
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the claims go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Postgres server (each run in a schema of its own).
    Postgres {
        /// Its URL.
        url: String,
    },
    /// The in-process memory model (`on-conflict` only): the model's own cost.
    Memory,
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// After this long (claims in flight at the deadline are finished and counted).
    Duration(#[serde(with = "millis")] Duration),
    /// After this many claims per replica (`hot` in rounds: this many rounds; `outbox`: leases).
    ClaimsPerReplica(u64),
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// pgbench beside each point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgbenchOptions {
    /// The pgbench program (`pgbench` looks it up in PATH).
    pub program: PathBuf,
    /// pgbench's `-j` (capped at the client count).
    pub threads: usize,
}

impl Default for PgbenchOptions {
    fn default() -> Self {
        PgbenchOptions { program: PathBuf::from("pgbench"), threads: 2 }
    }
}

/// One sweep: a workload and a mechanism at several replica counts.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// What the replicas do.
    pub workload: Workload,
    /// `hot`: free or in rounds.
    pub shape: HotShape,
    /// How they claim (`hot`, `spread`, `cycle`; `outbox` has no claim: on-conflict).
    pub mechanism: Mechanism,
    /// Where.
    pub target: Target,
    /// The replica counts, in order.
    pub replicas: Vec<usize>,
    /// P, the plans claimed, or the outbox rows ([`Workload::default_plans`] when `None`).
    pub plans: Option<u32>,
    /// When each point ends.
    pub stop: Stop,
    /// Client threads (actix arbiters) the replicas are spread over, like pgbench's -j.
    pub threads: usize,
    /// Seed of the random plan choices (`spread`), also given to pgbench.
    pub seed: u64,
    /// Run pgbench beside each point.
    pub pgbench: Option<PgbenchOptions>,
    /// Runs per replica count (hasim and pgbench alternating, the order swapped every
    /// repeat); rates are medians, counts are sums. Helps on a noisy machine.
    pub repeat: usize,
    /// Sample the server's wait events (pg_stat_activity) during each run.
    pub sample_waits: bool,
    /// How claims reach the database (the store actors holding a connection each,
    /// unless profiling).
    pub path: ClaimPath,
    /// How replicas' pools are made.
    pub pool: PoolSettings,
}

impl BenchConfig {
    /// A sweep with the defaults of `hasim bench`: 5 s points, 2 threads, seed 1.
    pub fn new(workload: Workload, mechanism: Mechanism, target: Target, replicas: Vec<usize>) -> Self {
        BenchConfig {
            workload,
            shape: HotShape::Free,
            mechanism,
            target,
            replicas,
            plans: None,
            stop: Stop::Duration(Duration::from_secs(5)),
            threads: 2,
            seed: 1,
            pgbench: None,
            repeat: 1,
            sample_waits: true,
            path: ClaimPath::Actor,
            pool: PoolSettings::default(),
        }
    }

    /// Checks the configuration before anything connects.
    pub fn validate(&self) -> Result<(), BenchError> {
        let invalid = |m: String| Err(BenchError::Invalid(m));
        if self.replicas.is_empty() {
            return invalid("no replica counts given".into());
        }
        if let Some(&bad) = self.replicas.iter().find(|&&r| r == 0 || r > MAX_REPLICAS) {
            return invalid(format!("replica count {bad} is out of range (1..={MAX_REPLICAS})"));
        }
        if self.plans == Some(0) {
            return invalid("--plans must be at least 1".into());
        }
        if self.repeat == 0 {
            return invalid("repeat must be at least 1".into());
        }
        if self.pool.connections == 0 {
            return invalid("each replica needs at least 1 connection".into());
        }
        if self.threads == 0 {
            return invalid("threads must be at least 1".into());
        }
        if self.shape == HotShape::Rounds && self.workload != Workload::Hot {
            return invalid(format!("--shape rounds applies to hot, not {}", self.workload));
        }
        match self.stop {
            Stop::Duration(d) if d.is_zero() => return invalid("duration must be positive".into()),
            Stop::ClaimsPerReplica(0) => return invalid("claims per replica must be positive".into()),
            _ => {}
        }
        if self.workload == Workload::Outbox {
            if self.mechanism != Mechanism::OnConflict {
                return invalid(format!(
                    "--mechanism {} applies to the claim workloads (hot, spread, cycle); the outbox \
                     relays lease rows with FOR UPDATE SKIP LOCKED instead of claiming",
                    self.mechanism
                ));
            }
            if self.target == Target::Memory {
                return invalid(
                    "the outbox workload needs Postgres: it measures FOR UPDATE SKIP LOCKED on a \
                     table of pending rows, which the memory model does not have (--store postgres, or set DATABASE_URL)"
                        .into(),
                );
            }
        }
        if self.target == Target::Memory {
            if self.mechanism != Mechanism::OnConflict {
                return invalid(format!(
                    "the {} mechanism needs Postgres; the memory model has only the on-conflict claim \
                     (--store postgres, or set DATABASE_URL)",
                    self.mechanism
                ));
            }
            if self.pgbench.is_some() {
                return invalid(
                    "--pgbench needs Postgres, not the memory model (--store postgres, or set DATABASE_URL)"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// P at `replicas`.
    pub fn plans_at(&self, replicas: usize) -> u32 {
        self.plans.unwrap_or_else(|| self.workload.default_plans(replicas))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(workload: Workload, mechanism: Mechanism, target: Target) -> BenchConfig {
        BenchConfig::new(workload, mechanism, target, vec![1, 4])
    }

    #[test]
    fn impossible_sweeps_are_refused_saying_why() {
        let pg = Target::Postgres { url: "postgres://h/db".into() };
        assert!(config(Workload::Hot, Mechanism::Advisory, pg.clone()).validate().is_ok());
        assert!(config(Workload::Outbox, Mechanism::OnConflict, pg.clone()).validate().is_ok());

        let refused = |cfg: BenchConfig| cfg.validate().expect_err("must be refused").to_string();
        assert!(refused(config(Workload::Outbox, Mechanism::ForUpdate, pg.clone())).contains("SKIP LOCKED"));
        assert!(
            refused(config(Workload::Outbox, Mechanism::OnConflict, Target::Memory))
                .contains("needs Postgres")
        );
        assert!(
            refused(config(Workload::Hot, Mechanism::Advisory, Target::Memory)).contains("needs Postgres")
        );
        let mut none = config(Workload::Hot, Mechanism::OnConflict, pg.clone());
        none.replicas = vec![4, 0];
        assert!(refused(none).contains("replica count 0"));
        let mut zero = config(Workload::Spread, Mechanism::OnConflict, pg.clone());
        zero.stop = Stop::Duration(Duration::ZERO);
        assert!(refused(zero).contains("duration must be positive"));
        let mut rounds = config(Workload::Hot, Mechanism::OnConflict, Target::Memory);
        rounds.shape = HotShape::Rounds;
        assert!(rounds.validate().is_ok());
        let mut cycle_rounds = config(Workload::Cycle, Mechanism::OnConflict, pg);
        cycle_rounds.shape = HotShape::Rounds;
        assert!(refused(cycle_rounds).contains("--shape rounds applies to hot, not cycle"));
    }

    #[test]
    fn default_plans_follow_the_workload() {
        assert_eq!(Workload::Hot.default_plans(8), 1);
        assert_eq!(Workload::Cycle.default_plans(8), 8);
        assert_eq!(Workload::Spread.default_plans(8), 1_000_000);
        assert_eq!(Workload::Outbox.default_plans(8), 200_000);
    }
}
