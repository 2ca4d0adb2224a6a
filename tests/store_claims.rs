//! The claim protocol of `plan_webhook_delivery`, on both backends, through the
//! store actors replicas use.

mod common;

use std::time::Duration;

use actix::prelude::*;
use common::{PgFixture, run};
use hasim::Error;
use hasim::actors::{ClaimEvent, CreatePlan, ResetClaim, StoreActor};
use hasim::clock::Clock;
use hasim::history::History;
use hasim::model::{EventType, PlanId, ReplicaId};
use hasim::store::{Backend, Claim, MemoryStore, NewPlan, Store};

const CLAIMERS: usize = 32;
const PLANS: usize = 1_000;

fn new_plan(n: usize) -> NewPlan {
    NewPlan { project: "demo".into(), title: format!("rollout {n}"), tasks: vec!["t1".into(), "t2".into()] }
}

/// `CLAIMERS` store actors (one per replica) claim every plan in the same order, so
/// each plan is raced for by all of them at once; returns the winners per plan.
async fn race(claimers: Vec<Addr<StoreActor>>, plans: &[PlanId]) -> Vec<usize> {
    let mut racers = Vec::new();
    for (i, claimer) in claimers.into_iter().enumerate() {
        let plans = plans.to_vec();
        racers.push(actix::spawn(async move {
            let mut won = Vec::new();
            for plan in plans {
                let event = if i % 2 == 0 { EventType::PipelineFailed } else { EventType::PipelineCompleted };
                let claim = claimer.send(ClaimEvent { plan, event }).await.expect("mailbox").expect("claim");
                if claim == Claim::Won {
                    won.push(plan);
                }
            }
            won
        }));
    }
    let mut winners = vec![0; plans.len()];
    for racer in racers {
        for plan in racer.await.expect("claimer task") {
            winners[(plan.0 - plans[0].0) as usize] += 1;
        }
    }
    winners
}

async fn create_plans(db: &impl Store) -> Vec<PlanId> {
    let mut plans = Vec::with_capacity(PLANS);
    for n in 0..PLANS {
        plans.push(db.create_plan(&new_plan(n)).await.expect("create plan").plan);
    }
    plans
}

#[track_caller]
fn assert_one_winner_each(winners: &[usize]) {
    let bad: Vec<(usize, usize)> = winners.iter().copied().enumerate().filter(|&(_, w)| w != 1).collect();
    assert!(bad.is_empty(), "plans (index, winners) without exactly one winner: {bad:?}");
}

/// The 32-replica races take up to 64 of the server's 100 connections each: one at a
/// time, so that tests running beside them still get theirs.
static ONE_RACE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// 32 store actors, each on a pool of `connections` of its own (holding one of them
/// when `holding`), race for every plan's claim: one winner each, a row each.
#[track_caller]
fn thirty_two_race_on_postgres(connections: u32, holding: bool) {
    let _race = ONE_RACE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let pg = PgFixture::new().await;
        let plans = create_plans(&pg.store(1).await).await;
        // One run, one history: its writes are numbered across every replica.
        let history = History::new(Clock::start());
        let mut claimers = Vec::new();
        for r in 1..=CLAIMERS {
            let store = Backend::Postgres(pg.store(connections).await);
            let actor = StoreActor::new(ReplicaId::nth(r), store, history.clone());
            claimers.push(if holding { actor.holding_connection() } else { actor }.start());
        }
        assert_one_winner_each(&race(claimers, &plans).await);
        assert_eq!(pg.store(1).await.claims().await.unwrap().len(), PLANS);
    });
}

#[test]
fn thirty_two_pools_race_on_a_thousand_plans_and_each_plan_has_one_winner_on_postgres() {
    thirty_two_race_on_postgres(2, false);
}

#[test]
fn thirty_two_store_actors_each_holding_one_connection_race_and_each_plan_has_one_winner_on_postgres() {
    // A pool of one: any use of the pool beside the held connection would wait for
    // it, and time out.
    thirty_two_race_on_postgres(1, true);
}

/// A holding store actor runs its operations one at a time, in arrival order: a claim
/// waiting on another replica's uncommitted row holds up the operation after it, which
/// an actor on a pool of two runs at once on its second connection.
#[test]
fn a_store_actor_holding_its_connection_runs_operations_one_at_a_time_in_arrival_order() {
    run(async {
        let pg = PgFixture::new().await;
        let setup = pg.store(1).await;
        let p = setup.create_plan(&new_plan(0)).await.unwrap().plan;
        let q = setup.create_plan(&new_plan(1)).await.unwrap().plan;
        // Another replica's claim of p, not committed yet.
        let mut other = setup.pool().begin().await.unwrap();
        sqlx::query("INSERT INTO plan_webhook_delivery (plan_id, event_type) VALUES ($1, 'PIPELINE_FAILED')")
            .bind(p.0)
            .execute(&mut *other)
            .await
            .unwrap();

        let mut waiting = Vec::new();
        for holding in [true, false] {
            let store = Backend::Postgres(pg.store(2).await);
            let actor = StoreActor::new(ReplicaId::nth(1), store, History::discard());
            let store = if holding { actor.holding_connection() } else { actor }.start();
            let claim = actix::spawn(store.send(ClaimEvent { plan: p, event: EventType::PipelineFailed }));
            tokio::time::sleep(Duration::from_millis(100)).await;
            // The claim waits for as long as the other replica's row is uncommitted,
            // which is until this test commits it: on a holding actor, the reset
            // behind it waits that long too, so a short wait shows it (a lower bound:
            // a busy machine cannot make it come sooner); on a pool of two it runs at
            // once on the second connection, given all the time a busy machine needs.
            let patience = if holding { Duration::from_millis(300) } else { Duration::from_secs(60) };
            let next = tokio::time::timeout(patience, store.send(ResetClaim { plan: q })).await;
            assert_eq!(next.is_err(), holding, "holding: {holding}, the operation after the claim: {next:?}");
            assert!(!claim.is_finished(), "the claim did not wait for the other replica's row");
            waiting.push(claim);
        }
        other.commit().await.unwrap();
        for claim in waiting {
            assert_eq!(claim.await.unwrap().unwrap().unwrap(), Claim::Lost, "the other replica won p");
        }
    });
}

#[test]
fn reset_then_claim_yields_a_new_winner_and_failed_and_completed_share_a_row_on_a_held_connection() {
    run(async {
        let pg = PgFixture::new().await;
        let store = Backend::Postgres(pg.store(1).await);
        let actor = StoreActor::new(ReplicaId::nth(1), store, History::new(Clock::start()));
        // Ends with a claim on a missing plan: a statement's error keeps the connection.
        let store = actor.holding_connection().start();
        reset_and_shared_row(store.clone()).await;
        let plan = store.send(CreatePlan { plan: new_plan(1) }).await.unwrap().unwrap().plan;
        let claim = store.send(ClaimEvent { plan, event: EventType::PipelineFailed }).await.unwrap();
        assert_eq!(claim.unwrap(), Claim::Won);
    });
}

#[test]
fn thirty_two_claimers_race_on_a_thousand_plans_and_each_plan_has_one_winner_in_memory() {
    run(async {
        let db = MemoryStore::new();
        let plans = create_plans(&db).await;
        let history = History::new(Clock::start());
        let claimers = (1..=CLAIMERS)
            .map(|r| StoreActor::new(ReplicaId::nth(r), Backend::Memory(db.clone()), history.clone()).start())
            .collect();
        assert_one_winner_each(&race(claimers, &plans).await);
        assert_eq!(db.claims().await.unwrap().len(), PLANS);
    });
}

/// Reset frees the row for a new winner; FAILED and COMPLETED share one row.
async fn reset_and_shared_row(db: Addr<StoreActor>) {
    let plan = db.send(CreatePlan { plan: new_plan(0) }).await.unwrap().unwrap().plan;
    let claim = |event| db.send(ClaimEvent { plan, event });
    assert_eq!(claim(EventType::PipelineFailed).await.unwrap().unwrap(), Claim::Won);
    assert_eq!(claim(EventType::PipelineFailed).await.unwrap().unwrap(), Claim::Lost);
    assert_eq!(claim(EventType::PipelineCompleted).await.unwrap().unwrap(), Claim::Lost, "one row per plan");

    let reset = db.send(ResetClaim { plan }).await.unwrap().unwrap();
    assert_eq!(reset, Some(EventType::PipelineFailed), "reset returns the event it deleted");
    assert_eq!(db.send(ResetClaim { plan }).await.unwrap().unwrap(), None, "nothing left to reset");
    assert_eq!(
        claim(EventType::PipelineCompleted).await.unwrap().unwrap(),
        Claim::Won,
        "new winner after reset"
    );
    assert_eq!(claim(EventType::PipelineFailed).await.unwrap().unwrap(), Claim::Lost);

    let missing = PlanId(plan.0 + 1_000);
    let err = db.send(ClaimEvent { plan: missing, event: EventType::PipelineFailed }).await.unwrap();
    assert!(matches!(err, Err(Error::NoSuchPlan(p)) if p == missing), "got {err:?}");
}

#[test]
fn reset_then_claim_yields_a_new_winner_and_failed_and_completed_share_a_row_on_postgres() {
    run(async {
        let pg = PgFixture::new().await;
        let store = Backend::Postgres(pg.store(2).await);
        reset_and_shared_row(StoreActor::new(ReplicaId::nth(1), store, History::new(Clock::start())).start())
            .await;
    });
}

#[test]
fn reset_then_claim_yields_a_new_winner_and_failed_and_completed_share_a_row_in_memory() {
    run(async {
        let store = Backend::Memory(MemoryStore::new());
        reset_and_shared_row(StoreActor::new(ReplicaId::nth(1), store, History::new(Clock::start())).start())
            .await;
    });
}
