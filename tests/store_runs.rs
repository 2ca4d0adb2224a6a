//! Task-run transitions on both backends: BatchRunTasks rules, promotion, replicas
//! taking work with SKIP LOCKED, finishing, canceling, skipping, batches that name no
//! task, the cleaner, and status writes under each mode.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use common::{PgFixture, run};
use hasim::actors::{ClaimAvailableRuns, StoreActor};
use hasim::clock::Clock;
use hasim::history::History;
use hasim::model::{EventType, ReplicaId, RunStatus, TaskId, TaskState};
use hasim::store::{Backend, MemoryStore, NewPlan, RaisedEvent, RunOutcome, StatusWrite, Store};

const FENCED: StatusWrite = StatusWrite::Fenced;

fn plan_of(tasks: usize) -> NewPlan {
    NewPlan {
        project: "demo".into(),
        title: "rollout".into(),
        tasks: (1..=tasks).map(|i| format!("t{i}")).collect(),
    }
}

const REPLICAS: usize = 8;
const PLANS: usize = 50;
const TASKS: usize = 10;

/// Eight replicas poll for AVAILABLE runs at once until none is left; every run must
/// be taken by exactly one of them.
async fn every_run_taken_once(claimers: Vec<Addr<StoreActor>>, db: impl Store) {
    let mut total = 0;
    for _ in 0..PLANS {
        let plan = db.create_plan(&plan_of(TASKS)).await.unwrap();
        total += db.create_pending_runs(plan.plan, &plan.tasks).await.unwrap().changed.len();
    }
    assert_eq!(db.promote_pending().await.unwrap().len(), total);

    let pollers: Vec<_> = claimers
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            actix::spawn(async move {
                let replica = ReplicaId::nth(i + 1);
                let mut taken = Vec::new();
                loop {
                    let runs = store
                        .send(ClaimAvailableRuns { replica: replica.clone(), limit: 3 })
                        .await
                        .unwrap()
                        .unwrap();
                    if runs.is_empty() {
                        return (replica, taken);
                    }
                    taken.extend(runs.into_iter().map(|r| r.run));
                }
            })
        })
        .collect();
    let mut owner = HashMap::new();
    let mut replicas_busy = 0;
    for poller in pollers {
        let (replica, taken) = poller.await.unwrap();
        replicas_busy += usize::from(!taken.is_empty());
        for run in taken {
            if let Some(other) = owner.insert(run, replica.clone()) {
                panic!("run {run} taken by both {other} and {replica}");
            }
        }
    }
    assert_eq!(owner.len(), total, "every run taken");
    assert!(replicas_busy > 1, "the work was spread over several replicas");
}

#[test]
fn eight_replicas_take_every_available_run_exactly_once_on_postgres() {
    run(async {
        let pg = PgFixture::new().await;
        // One run, one history: its writes are numbered across every replica.
        let history = History::new(Clock::start());
        let mut claimers = Vec::new();
        for r in 1..=REPLICAS {
            claimers.push(
                StoreActor::new(ReplicaId::nth(r), Backend::Postgres(pg.store(2).await), history.clone())
                    .start(),
            );
        }
        every_run_taken_once(claimers, pg.store(1).await).await;
    });
}

#[test]
fn eight_replicas_take_every_available_run_exactly_once_in_memory() {
    run(async {
        let db = MemoryStore::new();
        let history = History::new(Clock::start());
        let claimers = (1..=REPLICAS)
            .map(|r| StoreActor::new(ReplicaId::nth(r), Backend::Memory(db.clone()), history.clone()).start())
            .collect();
        every_run_taken_once(claimers, db).await;
    });
}

/// The life of one plan: run, fail, retry rules, skip, cancel, and the episode.
async fn lifecycle(db: impl Store) {
    let r1 = ReplicaId::nth(1);
    let plan = db.create_plan(&plan_of(3)).await.unwrap();
    let [a, b, c]: [TaskId; 3] = plan.tasks.clone().try_into().unwrap();
    assert_eq!(db.plan_state(plan.plan).await.unwrap().episode, 0);

    let first = db.create_pending_runs(plan.plan, &[a, b, c, a]).await.unwrap();
    assert_eq!(
        first.changed.iter().map(|r| (r.task, r.attempt)).collect::<Vec<_>>(),
        [(a, 1), (b, 1), (c, 1)]
    );
    assert_eq!(first.episode, 1);
    let again = db.create_pending_runs(plan.plan, &[a, b, c]).await.unwrap();
    assert!(again.changed.is_empty(), "open runs block a new batch");
    assert_eq!(again.episode, 1, "an empty batch starts no episode");

    db.promote_pending().await.unwrap();
    let taken = db.claim_available_runs(&r1, 10).await.unwrap();
    assert_eq!(taken.len(), 3);
    let failed = RunOutcome::Failed { error: "syntax error".into() };
    let ended = db.finish_run(taken[0].run, &r1, &failed, FENCED).await.unwrap().expect("was RUNNING on r1");
    assert_eq!((ended.task, ended.status), (a, RunStatus::Failed));
    assert!(
        db.finish_run(taken[0].run, &r1, &RunOutcome::Done, FENCED).await.unwrap().is_none(),
        "already ended"
    );
    assert!(
        db.finish_run(taken[1].run, &ReplicaId::nth(2), &RunOutcome::Done, FENCED).await.unwrap().is_none(),
        "not r2's"
    );
    db.finish_run(taken[1].run, &r1, &RunOutcome::Done, FENCED).await.unwrap().unwrap();

    let state = db.plan_state(plan.plan).await.unwrap();
    let states: Vec<TaskState> = state.tasks.iter().map(|t| t.state()).collect();
    assert_eq!(states, [TaskState::Failed, TaskState::Done, TaskState::Open]);
    assert_eq!(state.tasks[0].latest.as_ref().unwrap().error.as_deref(), Some("syntax error"));

    let retry = db.create_pending_runs(plan.plan, &[a, b]).await.unwrap();
    assert_eq!(
        retry.changed.iter().map(|r| (r.task, r.attempt)).collect::<Vec<_>>(),
        [(a, 2)],
        "DONE blocks"
    );
    assert_eq!(retry.episode, 2);

    let cancel = db.cancel_runs(plan.plan, &[a, c]).await.unwrap();
    assert_eq!(cancel.canceled.iter().map(|r| r.task).collect::<Vec<_>>(), [a], "the PENDING retry");
    assert_eq!(
        cancel.running.iter().map(|(r, who)| (r.task, who.clone())).collect::<Vec<_>>(),
        [(c, r1.clone())]
    );

    let skip = db.skip_tasks(plan.plan, &[a, a], "not needed").await.unwrap();
    assert_eq!((skip.changed.as_slice(), skip.episode), ([a].as_slice(), 3));
    let skip_again = db.skip_tasks(plan.plan, &[a], "not needed").await.unwrap();
    assert_eq!((skip_again.changed.len(), skip_again.episode), (0, 3));
    assert!(
        db.create_pending_runs(plan.plan, &[a]).await.unwrap().changed.is_empty(),
        "skipped tasks never run"
    );

    db.finish_run(taken[2].run, &r1, &RunOutcome::Canceled, FENCED).await.unwrap().unwrap();
    let states: Vec<TaskState> =
        db.plan_state(plan.plan).await.unwrap().tasks.iter().map(|t| t.state()).collect();
    assert_eq!(states, [TaskState::Skipped, TaskState::Done, TaskState::Canceled]);

    let other = db.create_plan(&plan_of(1)).await.unwrap();
    assert!(
        db.create_pending_runs(other.plan, &[a]).await.unwrap().changed.is_empty(),
        "a's plan is not this one"
    );
}

#[test]
fn batch_rules_transitions_and_episodes_on_postgres() {
    run(async {
        let pg = PgFixture::new().await;
        lifecycle(pg.store(2).await).await;
    });
}

#[test]
fn batch_rules_transitions_and_episodes_in_memory() {
    run(async { lifecycle(MemoryStore::new()).await });
}

/// Batches that name no task, on a fresh plan and on a complete one: each returns an
/// empty batch in the current episode and changes no task, run or outbox row.
async fn empty_batches(db: impl Store) {
    let r1 = ReplicaId::nth(1);
    let fresh = db.create_plan(&plan_of(1)).await.unwrap();
    let nothing = db.create_pending_runs(fresh.plan, &[]).await.unwrap();
    assert_eq!((nothing.changed.len(), nothing.episode), (0, 0));

    let plan = db.create_plan(&plan_of(2)).await.unwrap();
    db.create_pending_runs(plan.plan, &plan.tasks).await.unwrap();
    db.promote_pending().await.unwrap();
    for run in db.claim_available_runs(&r1, 10).await.unwrap() {
        db.finish_run(run.run, &r1, &RunOutcome::Done, FENCED).await.unwrap().unwrap();
    }
    let (state, outbox) = (db.plan_state(plan.plan).await.unwrap(), db.outbox().await.unwrap());
    assert_eq!(state.episode, 1);

    let run = db.create_pending_runs(plan.plan, &[]).await.unwrap();
    assert_eq!((run.changed.len(), run.episode), (0, 1));
    let skip = db.skip_tasks(plan.plan, &[], "nothing").await.unwrap();
    assert_eq!((skip.changed.len(), skip.episode), (0, 1));
    let raising = db.skip_tasks_raising(plan.plan, &[], "nothing").await.unwrap();
    assert_eq!((raising.value.changed.len(), raising.value.episode), (0, 1));
    assert!(raising.raised.is_empty(), "an empty skip of a complete plan raises nothing");
    assert_eq!(db.cancel_runs(plan.plan, &[]).await.unwrap(), Default::default());

    assert_eq!(db.plan_state(plan.plan).await.unwrap(), state);
    assert_eq!(db.outbox().await.unwrap(), outbox);
    assert_eq!(db.plan_state(fresh.plan).await.unwrap().episode, 0);
}

#[test]
fn empty_batches_change_nothing_on_postgres() {
    run(async {
        let pg = PgFixture::new().await;
        empty_batches(pg.store(2).await).await;
    });
}

#[test]
fn empty_batches_change_nothing_in_memory() {
    run(async { empty_batches(MemoryStore::new()).await });
}

/// The cleaner fails RUNNING runs of replicas whose heartbeat went stale, and only those.
async fn cleaner(db: impl Store) {
    let (r1, r2) = (ReplicaId::nth(1), ReplicaId::nth(2));
    let plan = db.create_plan(&plan_of(2)).await.unwrap();
    db.create_pending_runs(plan.plan, &plan.tasks).await.unwrap();
    db.promote_pending().await.unwrap();
    db.heartbeat(&r1).await.unwrap();
    db.heartbeat(&r2).await.unwrap();
    let on_r1 = db.claim_available_runs(&r1, 1).await.unwrap();
    let on_r2 = db.claim_available_runs(&r2, 1).await.unwrap();

    assert!(db.fail_abandoned_runs(Duration::from_secs(3600)).await.unwrap().is_empty(), "both fresh");
    // r2's heartbeat is older than STALE, certainly; r1's is fresh unless the machine
    // stalled for STALE between r1's heartbeat and the cleaner's statement, which the
    // test measures: then r1 may be stale too, and only r2's fate is certain.
    const STALE: Duration = Duration::from_secs(1);
    tokio::time::sleep(STALE + STALE / 2).await;
    let fresh = std::time::Instant::now();
    db.heartbeat(&r1).await.unwrap();
    let failed = db.fail_abandoned_runs(STALE).await.unwrap();
    let r1_surely_fresh = fresh.elapsed() < STALE;
    let stale: Vec<(hasim::model::RunId, &ReplicaId, RunStatus)> =
        failed.iter().map(|f| (f.run, &f.replica, f.status)).collect();
    let r2_failed = (on_r2[0].run, &r2, RunStatus::Failed);
    if r1_surely_fresh {
        assert_eq!(stale, [r2_failed], "only r2 is stale");
    } else {
        assert!(stale.contains(&r2_failed), "r2 is stale: {stale:?}");
    }
    let state = db.plan_state(plan.plan).await.unwrap();
    let error = state.tasks[1].latest.as_ref().unwrap().error.clone().unwrap();
    assert_eq!(error, hasim::store::abandoned_error(&r2));
    assert!(
        db.finish_run(on_r2[0].run, &r2, &RunOutcome::Done, FENCED).await.unwrap().is_none(),
        "too late for r2"
    );
    if r1_surely_fresh {
        assert!(db.finish_run(on_r1[0].run, &r1, &RunOutcome::Done, FENCED).await.unwrap().is_some());
    }
}

#[test]
fn cleaner_fails_only_runs_of_stale_replicas_on_postgres() {
    run(async {
        let pg = PgFixture::new().await;
        cleaner(pg.store(2).await).await;
    });
}

#[test]
fn cleaner_fails_only_runs_of_stale_replicas_in_memory() {
    run(async { cleaner(MemoryStore::new()).await });
}

/// A replica's status write under `write`: fenced, it needs the run RUNNING on the
/// writer; status-guarded, RUNNING on any replica; unfenced, nothing, and it
/// overwrites an end (the cleaner's FAILED, a DONE) and says which.
async fn status_writes(db: impl Store, write: StatusWrite) {
    use RunStatus::{Canceled, Done, Failed};
    let (r1, r2) = (ReplicaId::nth(1), ReplicaId::nth(2));
    let plan = db.create_plan(&plan_of(3)).await.unwrap();
    db.create_pending_runs(plan.plan, &plan.tasks).await.unwrap();
    db.promote_pending().await.unwrap();
    let on_r1 = db.claim_available_runs(&r1, 2).await.unwrap();
    let on_r2 = db.claim_available_runs(&r2, 1).await.unwrap();
    let (a, b, c) = (on_r1[0].run, on_r1[1].run, on_r2[0].run);
    db.heartbeat(&r2).await.unwrap();
    // r1 never beat: the cleaner fails its runs a and b.
    let cleaned = db.fail_abandoned_runs(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(cleaned.iter().map(|e| (e.run, e.overwrote)).collect::<Vec<_>>(), [(a, None), (b, None)]);
    let (guarded, unfenced) = (write != FENCED, write == StatusWrite::Unfenced);
    let ended = |e: Option<hasim::store::EndedRun>| e.map(|e| (e.replica, e.status, e.overwrote));

    // r1's link heals and it writes DONE over the cleaner's FAILED.
    let late = db.finish_run(a, &r1, &RunOutcome::Done, write).await.unwrap();
    assert_eq!(
        ended(late),
        unfenced.then_some((r1.clone(), Done, Some(Failed))),
        "{write}: DONE over FAILED"
    );
    // r1 writes FAILED on b, FAILED already (a write tried again after its answer was lost).
    let again = db.finish_run(b, &r1, &RunOutcome::Failed { error: "boom".into() }, write).await.unwrap();
    assert_eq!(ended(again), unfenced.then_some((r1.clone(), Failed, Some(Failed))), "{write}: FAILED again");
    // r1 writes DONE on c, which r2 holds RUNNING.
    let foreign = db.finish_run(c, &r1, &RunOutcome::Done, write).await.unwrap();
    assert_eq!(ended(foreign), guarded.then_some((r1.clone(), Done, None)), "{write}: r2's run");
    // r2 then writes CANCELED on c: RUNNING when fenced, DONE by r1 otherwise.
    let cancel = db.finish_run(c, &r2, &RunOutcome::Canceled, write).await.unwrap();
    let want = match write {
        StatusWrite::Fenced => Some((r2.clone(), Canceled, None)),
        StatusWrite::StatusGuarded => None,
        StatusWrite::Unfenced => Some((r2.clone(), Canceled, Some(Done))),
    };
    assert_eq!(ended(cancel), want, "{write}: CANCELED on c");
    assert!(db.finish_run(hasim::model::RunId(999), &r1, &RunOutcome::Done, write).await.unwrap().is_none());

    let state = db.plan_state(plan.plan).await.unwrap();
    let states: Vec<TaskState> = state.tasks.iter().map(|t| t.state()).collect();
    let want = match write {
        StatusWrite::Fenced => [TaskState::Failed, TaskState::Failed, TaskState::Canceled],
        StatusWrite::StatusGuarded => [TaskState::Failed, TaskState::Failed, TaskState::Done],
        StatusWrite::Unfenced => [TaskState::Done, TaskState::Failed, TaskState::Canceled],
    };
    assert_eq!(states, want, "{write}");
    let errors: Vec<Option<String>> = state.tasks.iter().map(|t| t.latest.clone().unwrap().error).collect();
    let abandoned = Some(hasim::store::abandoned_error(&r1));
    let a_error = if unfenced { None } else { abandoned.clone() };
    let b_error = if unfenced { Some("boom".to_owned()) } else { abandoned };
    assert_eq!(errors, [a_error, b_error, None], "{write}: the write replaces the error");
}

/// The raising status write: an unfenced DONE over the cleaner's FAILED completes the
/// plan and raises PIPELINE_COMPLETED beside the cleaner's PIPELINE_FAILED; a guarded
/// write is refused and raises nothing.
async fn status_writes_raising(db: impl Store, write: StatusWrite) {
    let r1 = ReplicaId::nth(1);
    let plan = db.create_plan(&plan_of(1)).await.unwrap();
    db.create_pending_runs(plan.plan, &plan.tasks).await.unwrap();
    db.promote_pending().await.unwrap();
    let run = db.claim_available_runs(&r1, 1).await.unwrap()[0].run;
    let cleaned = db.fail_abandoned_runs_raising(Duration::from_secs(3600)).await.unwrap();
    let failed = RaisedEvent { plan: plan.plan, event: EventType::PipelineFailed, episode: 1 };
    assert_eq!(cleaned.raised, [failed]);
    let late = db.finish_run_raising(run, &r1, &RunOutcome::Done, write).await.unwrap();
    let completed = RaisedEvent { plan: plan.plan, event: EventType::PipelineCompleted, episode: 1 };
    if write == StatusWrite::Unfenced {
        assert_eq!(late.value.map(|e| e.overwrote), Some(Some(RunStatus::Failed)));
        assert_eq!(late.raised, [completed]);
    } else {
        assert_eq!((late.value, late.raised), (None, vec![]), "{write}");
    }
    let outbox: Vec<RaisedEvent> = db.outbox().await.unwrap().into_iter().map(|r| r.event).collect();
    // In key order: plan, episode, event type as spelled.
    let want = if write == StatusWrite::Unfenced { vec![completed, failed] } else { vec![failed] };
    assert_eq!(outbox, want, "{write}");
}

#[test]
fn status_writes_are_guarded_as_each_mode_says_on_postgres() {
    run(async {
        for write in StatusWrite::ALL {
            let pg = PgFixture::new().await;
            status_writes(pg.store(2).await, write).await;
            status_writes_raising(pg.store(2).await, write).await;
        }
    });
}

#[test]
fn status_writes_are_guarded_as_each_mode_says_in_memory() {
    run(async {
        for write in StatusWrite::ALL {
            status_writes(MemoryStore::new(), write).await;
            status_writes_raising(MemoryStore::new(), write).await;
        }
    });
}
