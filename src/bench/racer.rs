//! A replica's driver during a run: it warms up, waits for the start signal, then
//! sends its operations one at a time (through its actors, or straight to its store
//! when profiling) and tallies every answer. `spread` and `cycle` are here; `hot` is in
//! `hot` (its rounds in `rounds`), the outbox relay in `outbox`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, watch};

use super::hot::HotShape;
use super::mechanism::{self, ClaimActor, Mechanism, MechanismClaim};
use super::rounds::HotShared;
use super::{Histogram, PlanRange, Stop, Workload};
use crate::actors::{ClaimEvent, LeaseEvents, MarkDelivered, ResetClaim, StoreActor};
use crate::model::{EventType, PlanId, ReplicaId};
use crate::store::{Backend, Claim, LeasedEvent, RaisedEvent, Store};
use crate::{Error, Result};

/// The event every bench claim is for.
pub(super) const EVENT: EventType = EventType::PipelineFailed;

/// The start signal: when the run ends, if it ends by time.
#[derive(Clone, Copy, Debug)]
pub(super) struct Go {
    pub(super) deadline: Option<Instant>,
}

impl Go {
    /// Whether a replica that has done `done_so_far` operations (or rounds) is done.
    pub(super) fn over(&self, stop: Stop, done_so_far: u64) -> bool {
        match (stop, self.deadline) {
            (Stop::ClaimsPerReplica(n), _) => done_so_far >= n,
            (_, Some(deadline)) => Instant::now() >= deadline,
            (_, None) => true,
        }
    }
}

/// What one replica counted.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) claims: u64,
    pub(super) wins: u64,
    pub(super) errors: u64,
    pub(super) first_error: Option<String>,
    pub(super) resets_found: u64,
    /// Resets of a won claim that found no row: another replica's reset had deleted it.
    pub(super) resets_missed: u64,
    /// `outbox`: rows leased, leases that found none, marks that found a row delivered.
    pub(super) leased: u64,
    pub(super) empty_leases: u64,
    pub(super) redelivered: u64,
    pub(super) hist: Histogram,
    pub(super) end: Option<Instant>,
}

impl Tally {
    pub(super) fn error(&mut self, e: &Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    pub(super) fn merge(&mut self, other: Tally) {
        self.claims += other.claims;
        self.wins += other.wins;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.resets_found += other.resets_found;
        self.resets_missed += other.resets_missed;
        self.leased += other.leased;
        self.empty_leases += other.empty_leases;
        self.redelivered += other.redelivered;
        self.hist.merge(&other.hist);
    }

    /// One claim, timed; `Some(true)` when won.
    pub(super) async fn timed_claim(&mut self, ops: &mut impl ClaimOps, plan: PlanId) -> Option<bool> {
        let sent = Instant::now();
        let claim = ops.claim(plan).await;
        self.hist.record(sent.elapsed());
        self.claims += 1;
        match claim {
            Ok(Claim::Won) => {
                self.wins += 1;
                Some(true)
            }
            Ok(Claim::Lost) => Some(false),
            Err(e) => {
                self.error(&e);
                None
            }
        }
    }

    /// Resets a won plan's claim, counting whether the row was there.
    pub(super) async fn reset_won(&mut self, ops: &mut impl ClaimOps, plan: PlanId) {
        match ops.reset(plan).await {
            Ok(Some(_)) => self.resets_found += 1,
            // Another replica deleted this winner's row: it had won too.
            Ok(None) => self.resets_missed += 1,
            Err(e) => self.error(&e),
        }
    }
}

/// A replica's claim and reset, however they reach the store.
pub(super) trait ClaimOps {
    /// Claims `plan` for the bench's event.
    async fn claim(&mut self, plan: PlanId) -> Result<Claim>;
    /// Deletes `plan`'s claim row; the event it was for, if there was one.
    async fn reset(&mut self, plan: PlanId) -> Result<Option<EventType>>;
}

/// One replica's driver: sends its operations one at a time.
pub(super) struct Racer {
    pub(super) index: usize,
    pub(super) id: ReplicaId,
    pub(super) store: Addr<StoreActor>,
    pub(super) claimer: Option<Addr<ClaimActor>>,
    /// The store the actors hold, when the path bypasses them.
    pub(super) direct: Option<Backend>,
    pub(super) mechanism: Mechanism,
    pub(super) plans: PlanRange,
    pub(super) warm: PlanId,
    pub(super) stop: Stop,
    pub(super) rng: ChaCha8Rng,
    /// `outbox`: how long a lease lasts (longer than the run).
    pub(super) lease: Duration,
    pub(super) ready: mpsc::Sender<()>,
    pub(super) go: watch::Receiver<Option<Go>>,
    /// `hot`: free or in rounds.
    pub(super) shape: HotShape,
    /// `hot --shape rounds`: the rounds, shared by the racers.
    pub(super) rounds: Arc<HotShared>,
}

impl ClaimOps for Racer {
    async fn claim(&mut self, plan: PlanId) -> Result<Claim> {
        match (&self.direct, &self.claimer) {
            (Some(Backend::Postgres(pg)), _) if self.mechanism != Mechanism::OnConflict => {
                mechanism::claim(pg, self.mechanism, plan, EVENT).await
            }
            (Some(backend), _) => backend.claim_event(plan, EVENT).await,
            (None, None) => self
                .store
                .send(ClaimEvent { plan, event: EVENT })
                .await
                .map_err(|_| Error::ActorGone("store"))?,
            (None, Some(claimer)) => claimer
                .send(MechanismClaim { mechanism: self.mechanism, plan, event: EVENT })
                .await
                .map_err(|_| Error::ActorGone("claim"))?,
        }
    }

    async fn reset(&mut self, plan: PlanId) -> Result<Option<EventType>> {
        match &self.direct {
            Some(backend) => backend.reset_claim(plan).await,
            None => self.store.send(ResetClaim { plan }).await.map_err(|_| Error::ActorGone("store"))?,
        }
    }
}

impl Racer {
    /// Leases up to `limit` outbox rows for this replica.
    pub(super) async fn lease(&mut self, limit: u32) -> Result<Vec<LeasedEvent>> {
        let max_leases = super::outbox::MAX_LEASES;
        match &self.direct {
            Some(backend) => backend.lease_events(&self.id, limit, self.lease, max_leases).await,
            None => self
                .store
                .send(LeaseEvents { replica: self.id.clone(), limit, lease: self.lease, max_leases })
                .await
                .map_err(|_| Error::ActorGone("store"))?,
        }
    }

    /// Marks an outbox row delivered; false when it already was.
    pub(super) async fn mark(&mut self, event: RaisedEvent) -> Result<bool> {
        match &self.direct {
            Some(backend) => backend.mark_delivered(event).await,
            None => self.store.send(MarkDelivered { event }).await.map_err(|_| Error::ActorGone("store"))?,
        }
    }

    /// Runs the statements of `workload` once on the replica's own warm-up plan (a
    /// lease of no row and a mark of none, for `outbox`), so connections are open and
    /// statements prepared before the clock starts (pgbench prepares before it too).
    async fn warm_up(&mut self, workload: Workload, tally: &mut Tally) {
        let warm = self.warm;
        let done = match workload {
            Workload::Outbox => match self.lease(0).await {
                Ok(_) => self.mark(RaisedEvent { plan: warm, event: EVENT, episode: 0 }).await.map(|_| ()),
                Err(e) => Err(e),
            },
            _ => match self.claim(warm).await {
                Ok(_) => self.reset(warm).await.map(|_| ()),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = done {
            tally.error(&e);
        }
    }

    /// Warms up, says so, waits for the start signal, runs `workload` until the stop.
    pub(super) async fn run(mut self, workload: Workload) -> Tally {
        let mut tally = Tally::default();
        self.warm_up(workload, &mut tally).await;
        let _ = self.ready.send(()).await;
        let go = match self.go.wait_for(Option::is_some).await {
            Ok(go) => *go,
            Err(_) => None,
        };
        let Some(go) = go else { return tally };
        match workload {
            Workload::Hot if self.shape == HotShape::Rounds => self.rounds(go, &mut tally).await,
            Workload::Hot => self.free_hot(go, &mut tally).await,
            Workload::Outbox => self.relay(go, &mut tally).await,
            Workload::Spread | Workload::Cycle => self.free(workload, go, &mut tally).await,
        }
        tally.end = Some(Instant::now());
        tally
    }

    /// Whether this replica is done after `done_so_far` operations (or rounds).
    pub(super) fn done(&self, go: Go, done_so_far: u64) -> bool {
        go.over(self.stop, done_so_far)
    }

    /// `spread` and `cycle`: claim after claim, no coordination.
    async fn free(&mut self, workload: Workload, go: Go, tally: &mut Tally) {
        let own = self.plans.nth(self.index as u64);
        loop {
            let plan = match workload {
                Workload::Spread => self.plans.nth(self.rng.random_range(0..u64::from(self.plans.count))),
                _ => own,
            };
            // spread keeps what it won; cycle sends (a no-op) and resets.
            if tally.timed_claim(self, plan).await == Some(true) && workload == Workload::Cycle {
                tally.reset_won(self, plan).await;
            }
            if self.done(go, tally.claims) {
                break;
            }
        }
    }
}
