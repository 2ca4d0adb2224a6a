//! One measured run: settle the server, start a racer per replica, give them the start
//! signal together, collect their tallies, and account for every claim (or outbox
//! row) against what the table holds afterwards.

use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

use super::hot::{FreeHot, HotShape};
use super::racer::{Go, Racer, Tally};
use super::rounds::HotShared;
use super::sampling::{cpu_seconds, load_1m, rss_kib};
use super::{
    BenchEnv, BenchError, Histogram, Mechanism, OutboxCounts, PointResult, Replicas, Stop, Workload,
};
use crate::Error;
use crate::model::PlanId;

/// Consecutive plan ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRange {
    /// The first id.
    pub first: i64,
    /// How many.
    pub count: u32,
}

impl PlanRange {
    /// The `i`-th plan, wrapping around.
    pub fn nth(&self, i: u64) -> PlanId {
        PlanId(self.first + (i % u64::from(self.count.max(1))) as i64)
    }

    /// The last id.
    pub fn last(&self) -> i64 {
        self.first + i64::from(self.count) - 1
    }

    /// The first `count` plans (at most all of them).
    pub fn prefix(&self, count: u32) -> PlanRange {
        PlanRange { first: self.first, count: count.min(self.count) }
    }
}

/// What one run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSpec {
    /// The workload.
    pub workload: Workload,
    /// `hot`: free (the default) or in rounds; the other workloads ignore it.
    pub shape: HotShape,
    /// The claim mechanism.
    pub mechanism: Mechanism,
    /// P: claims go to the first `plans` plans of the environment (`outbox`: one
    /// pending row for each).
    pub plans: u32,
    /// When the run ends.
    pub stop: Stop,
    /// Seed of the random plan choices.
    pub seed: u64,
    /// Sample the server's wait events.
    pub sample_waits: bool,
}

impl RunSpec {
    /// A run of `workload` with `mechanism` on `plans` plans until `stop` (`hot` free,
    /// seed 1, no wait sampling).
    pub fn new(workload: Workload, mechanism: Mechanism, plans: u32, stop: Stop) -> Self {
        RunSpec { workload, shape: HotShape::Free, mechanism, plans, stop, seed: 1, sample_waits: false }
    }

    /// This run with `hot` played in `shape`.
    pub fn with_shape(self, shape: HotShape) -> Self {
        RunSpec { shape, ..self }
    }

    /// Whether this is `hot` in rounds.
    pub(super) fn rounds(&self) -> bool {
        self.workload == Workload::Hot && self.shape == HotShape::Rounds
    }
}

impl BenchEnv {
    /// Runs `spec` once on `replicas` (started with the same mechanism).
    pub async fn run(&self, replicas: &Replicas, spec: &RunSpec) -> Result<PointResult, BenchError> {
        Ok(self.run_measured(replicas, spec).await?.0)
    }

    /// Checks that `spec` can run here and returns its plans.
    pub(super) fn plans_for(&self, spec: &RunSpec) -> Result<PlanRange, BenchError> {
        if spec.workload == Workload::Outbox && self.admin().is_none() {
            return Err(BenchError::Invalid("the outbox workload needs Postgres".into()));
        }
        if spec.plans == 0 || spec.plans > self.plans.count {
            return Err(BenchError::Invalid(format!(
                "{} plans asked for, {} exist",
                spec.plans, self.plans.count
            )));
        }
        Ok(self.plans.prefix(spec.plans))
    }

    /// [`BenchEnv::run`], with the latency histogram (to merge repeats).
    pub(crate) async fn run_measured(
        &self,
        replicas: &Replicas,
        spec: &RunSpec,
    ) -> Result<(PointResult, Histogram), BenchError> {
        let RunSpec { workload, shape, mechanism, stop, seed, sample_waits, .. } = *spec;
        if replicas.mechanism != mechanism {
            return Err(BenchError::Invalid(format!(
                "replicas started for {} cannot run {mechanism}",
                replicas.mechanism
            )));
        }
        let range = self.plans_for(spec)?;
        let r = replicas.len();
        let filled = self.clean(workload, range).await?;
        let rss_kib_before = rss_kib();
        let load_before = load_1m();
        let cpu_before = cpu_seconds();

        let (ready_tx, mut ready_rx) = mpsc::channel::<()>(r.max(1));
        let (go_tx, go_rx) = watch::channel(None::<Go>);
        let rounds = Arc::new(HotShared::new(r));
        let mut tallies = Vec::with_capacity(r);
        for (i, replica) in replicas.list.iter().enumerate() {
            let racer = Racer {
                index: i,
                id: replica.id.clone(),
                store: replica.store.clone(),
                claimer: replica.claimer.clone(),
                direct: (!replicas.path.through_actors()).then(|| replica.backend.clone()),
                mechanism,
                plans: range,
                warm: self.warm.nth(i as u64),
                stop,
                rng: ChaCha8Rng::seed_from_u64(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                lease: super::outbox::lease_for(stop),
                ready: ready_tx.clone(),
                go: go_rx.clone(),
                shape,
                rounds: rounds.clone(),
            };
            let (tx, rx) = oneshot::channel();
            replica.arbiter.spawn(async move {
                let _ = tx.send(racer.run(workload).await);
            });
            tallies.push(rx);
        }
        drop(ready_tx);
        for _ in 0..r {
            if ready_rx.recv().await.is_none() {
                break;
            }
        }
        let sampler = self.sampler("r%", sample_waits);
        let start = Instant::now();
        let deadline = match stop {
            Stop::Duration(d) => Some(start + d),
            Stop::ClaimsPerReplica(_) => None,
        };
        let _ = go_tx.send(Some(Go { deadline }));
        let mut total = Tally::default();
        let mut end = start;
        for rx in tallies {
            let tally = rx.await.map_err(|_| Error::ActorGone("bench racer"))?;
            end = end.max(tally.end.unwrap_or(start));
            total.merge(tally);
        }
        let waits = match sampler {
            Some(s) => s.finish().await,
            None => Vec::new(),
        };
        let elapsed_s = end.duration_since(start).as_secs_f64().max(1e-9);
        let client_cpu_s = cpu_seconds() - cpu_before;

        let mut point = PointResult {
            replicas: r,
            plans: range.count,
            claims: total.claims,
            wins: total.wins,
            errors: total.errors,
            first_error: total.first_error.take(),
            rounds: None,
            empty_rounds: 0,
            duplicates: 0,
            resets_found: total.resets_found,
            resets_missed: total.resets_missed,
            rows_left: 0,
            elapsed_s,
            claims_per_s: total.claims as f64 / elapsed_s,
            winners_per_s: total.wins as f64 / elapsed_s,
            latency: total.hist.summary(),
            client_cpu_us_per_claim: client_cpu_s * 1e6 / total.claims.max(1) as f64,
            path: replicas.path,
            rss_kib_before,
            rss_kib_after: rss_kib(),
            load_before,
            waits,
            outbox: None,
            runs_claims_per_s: Vec::new(),
            pgbench: None,
            pgbench_runs_tps: Vec::new(),
            ratio: None,
            run_ratios: Vec::new(),
        };
        if let (Workload::Outbox, Some(admin)) = (workload, self.admin()) {
            let after = super::outbox::rows(admin).await?;
            let counts = OutboxCounts {
                filled,
                leased: total.leased,
                empty_leases: total.empty_leases,
                redelivered: total.redelivered,
                after,
            };
            point.rows_left = after.pending;
            point.duplicates = counts.duplicates();
            point.outbox = Some(counts);
        } else {
            point.rows_left = self.rows_left().await?;
            // A win that neither a reset nor a row left accounts for shared its plan-round.
            let unaccounted = total.wins.saturating_sub(total.resets_found + point.rows_left);
            point.duplicates = unaccounted;
            if spec.rounds() {
                let rounds = rounds.counts();
                point.rounds = Some(rounds.rounds);
                point.empty_rounds = rounds.empty;
                point.duplicates = rounds.duplicates.max(unaccounted);
            } else if workload == Workload::Hot {
                point.duplicates = FreeHot::duplicates(&total);
            }
        }
        Ok((point, total.hist))
    }
}
