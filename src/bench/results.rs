//! What a sweep measured: a [`PointResult`] per replica count, in a [`BenchReport`]
//! that serializes as the CLI's `--json`.

use serde::{Deserialize, Serialize};

use super::{
    ClaimPath, HotShape, LatencySummary, Mechanism, PgbenchResult, PoolSettings, Stop, WaitSample, Workload,
};

/// One replica count's measurements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PointResult {
    /// R.
    pub replicas: usize,
    /// P (`outbox`: the pending rows the table was filled with).
    pub plans: u32,
    /// Claims answered (won, lost or failed); `outbox`: leases asked for, each one
    /// relay step (lease, send, mark).
    pub claims: u64,
    /// Claims won; `outbox`: rows marked delivered.
    pub wins: u64,
    /// Claims that failed with an error (0 in a healthy run).
    pub errors: u64,
    /// The first error's message.
    pub first_error: Option<String>,
    /// `hot` in rounds: rounds played.
    pub rounds: Option<u64>,
    /// `hot` in rounds: rounds nobody won (must be 0).
    pub empty_rounds: u64,
    /// Duplicate winners: `hot` free, winners' resets that found no row (another
    /// replica's reset had deleted it: two held the claim); `hot` in rounds, winners
    /// beyond the first in each round; the other claim workloads, wins that no reset
    /// found a row for and no row left accounts for; `outbox`, rows delivered twice
    /// within their lease. Must be 0.
    pub duplicates: u64,
    /// Resets that deleted the winner's row.
    pub resets_found: u64,
    /// Resets of a won claim that found no row (must be 0).
    #[serde(default)]
    pub resets_missed: u64,
    /// Claim rows still there after the run (`outbox`: rows still pending).
    pub rows_left: u64,
    /// Seconds from the start signal to the last replica's last answer.
    pub elapsed_s: f64,
    /// Claims per second (`outbox`: relay steps per second).
    pub claims_per_s: f64,
    /// Wins per second (`outbox`: rows delivered per second).
    pub winners_per_s: f64,
    /// Claim latency (send to answer; `outbox`: a relay step, lease to marked).
    pub latency: LatencySummary,
    /// CPU time of this process (every client thread) per claim, in microseconds.
    pub client_cpu_us_per_claim: f64,
    /// How the claims reached the database.
    pub path: ClaimPath,
    /// The process's resident memory before the point, in KiB.
    pub rss_kib_before: u64,
    /// ... and after it.
    pub rss_kib_after: u64,
    /// The 1-minute load average before the point.
    pub load_before: f64,
    /// Where the run's server backends spent their time (sampled; empty when off).
    pub waits: Vec<WaitSample>,
    /// `outbox`: what the relays took and what the table says after the run.
    #[serde(default)]
    pub outbox: Option<OutboxCounts>,
    /// With repeats: each run's claims/s (`claims_per_s` is their median).
    pub runs_claims_per_s: Vec<f64>,
    /// pgbench on the same statements, when asked for (with repeats, the run of median
    /// tps).
    pub pgbench: Option<PgbenchResult>,
    /// With repeats: each pgbench run's tps.
    pub pgbench_runs_tps: Vec<f64>,
    /// hasim's claims/s over pgbench's transactions/s (one claim, or one relay step,
    /// per transaction); with repeats, the median of the ratios of runs made back to
    /// back.
    pub ratio: Option<f64>,
    /// With repeats: each back-to-back pair's ratio.
    pub run_ratios: Vec<f64>,
}

/// The outbox table after a run, as the server counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRows {
    /// Rows not delivered (0: the run drained the table, and its rate is a floor).
    pub pending: u64,
    /// Rows marked delivered.
    pub delivered: u64,
    /// Rows leased more than once. Every lease outlasts the run, so a second lease of a
    /// row was taken while the first was valid: a duplicate.
    pub leased_twice: u64,
}

impl OutboxRows {
    /// Adds another run's counts.
    pub fn add(&mut self, other: &OutboxRows) {
        self.pending += other.pending;
        self.delivered += other.delivered;
        self.leased_twice += other.leased_twice;
    }
}

/// An `outbox` run: what the relays did, and the table afterwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxCounts {
    /// Pending rows the table was filled with before the run.
    pub filled: u64,
    /// Rows the relays leased.
    pub leased: u64,
    /// Leases that found no row: the table had run dry, and the relay stopped.
    pub empty_leases: u64,
    /// Deliveries whose mark found the row delivered already: another relay had
    /// delivered it within this one's lease.
    pub redelivered: u64,
    /// The table after the run.
    pub after: OutboxRows,
}

impl OutboxCounts {
    /// Adds another run's counts.
    pub fn add(&mut self, other: &OutboxCounts) {
        self.filled += other.filled;
        self.leased += other.leased;
        self.empty_leases += other.empty_leases;
        self.redelivered += other.redelivered;
        self.after.add(&other.after);
    }

    /// Rows delivered twice within their lease: the larger of the relays' count and
    /// the table's (each sees the same duplicate from its side).
    pub fn duplicates(&self) -> u64 {
        self.redelivered.max(self.after.leased_twice)
    }
}

/// A whole sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    /// The workload.
    pub workload: Workload,
    /// `hot`: free or in rounds (`None` for the other workloads).
    #[serde(default)]
    pub shape: Option<HotShape>,
    /// The mechanism.
    pub mechanism: Mechanism,
    /// `postgres` or `memory`.
    pub backend: String,
    /// The server's URL (no password), for Postgres.
    pub database_url: Option<String>,
    /// `SELECT version()`, for Postgres.
    pub server_version: Option<String>,
    /// The primary-standby pair the bench ran on, when it ran on one: its
    /// replication (`async`, `sync`, `remote-apply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<crate::topology::Replication>,
    /// The run's schema.
    pub schema: Option<String>,
    /// When each point ends.
    pub stop: Stop,
    /// Client threads.
    pub threads: usize,
    /// Runs per replica count.
    pub repeat: usize,
    /// The seed.
    pub seed: u64,
    /// How claims reached the database.
    pub path: ClaimPath,
    /// How replicas' pools were made.
    pub pool: PoolSettings,
    /// Seconds since the Unix epoch at the start.
    pub started_unix: u64,
    /// CPUs the machine has.
    pub nproc: usize,
    /// Its memory, in KiB.
    pub mem_total_kib: u64,
    /// The signal that stopped the sweep early (`SIGINT`, `SIGTERM`): `points` then
    /// holds the points finished before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// The points, in the order run.
    pub points: Vec<PointResult>,
}

impl BenchReport {
    /// Every duplicate winner (or delivery) of the sweep (must be 0).
    pub fn duplicates(&self) -> u64 {
        self.points.iter().map(|p| p.duplicates).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_duplicates_are_counted_once_from_either_side() {
        let after = OutboxRows { pending: 0, delivered: 10, leased_twice: 1 };
        let mut counts = OutboxCounts { filled: 10, leased: 11, empty_leases: 0, redelivered: 1, after };
        assert_eq!(counts.duplicates(), 1, "a row leased twice and delivered twice is one duplicate");
        let second = OutboxRows { pending: 4, delivered: 6, leased_twice: 2 };
        counts.add(&OutboxCounts { filled: 10, leased: 8, empty_leases: 0, redelivered: 0, after: second });
        assert_eq!((counts.redelivered, counts.after.leased_twice, counts.duplicates()), (1, 3, 3));
        assert_eq!(
            (counts.filled, counts.leased, counts.after.delivered, counts.after.pending),
            (20, 19, 16, 4)
        );
    }
}
