//! The outbox design's rules, each against a value worked out from the design
//! (`src/strategy/outbox.rs`) and the contract, not from another run: the rows that
//! many writers racing on one plan leave on Postgres, the lease count a row stops
//! at, and how a relay numbers its tries across leases.

mod common;

use std::collections::BTreeSet;

use common::{PgFixture, run};
use futures_util::future::join_all;
use hasim::check::Verdict;
use hasim::history::Event;
use hasim::model::{EventType, PlanId, ReplicaId, RunId, TaskId};
use hasim::store::{NewPlan, PgStore, RaisedEvent, RunOutcome, StatusWrite, Store};
use hasim::strategy::outbox::MAX_LEASES;

/// Tasks per plan, and writers racing on each plan: one per task.
const WRITERS: usize = 8;
/// Plans raced on at once.
const PLANS: usize = 6;

fn failed() -> RunOutcome {
    RunOutcome::Failed { error: "boom".into() }
}

/// `PLANS` plans of `WRITERS` tasks, every task's first run RUNNING on a replica of
/// its own; returns per plan its id, tasks and (run, replica) per task.
async fn running_plans(db: &PgStore) -> Vec<(PlanId, Vec<TaskId>, Vec<(RunId, ReplicaId)>)> {
    let mut plans = Vec::new();
    for p in 0..PLANS {
        let tasks = (1..=WRITERS).map(|t| format!("t{t}")).collect();
        let plan = db.create_plan(&NewPlan { project: "p".into(), title: format!("plan {p}"), tasks }).await;
        let plan = plan.expect("create a plan");
        db.create_pending_runs(plan.plan, &plan.tasks).await.expect("runs");
        plans.push((plan.plan, plan.tasks, Vec::new()));
    }
    db.promote_pending().await.expect("promote");
    // Taken one at a time, lowest run id first: each run by a replica of its own.
    for (i, slot) in (0..PLANS * WRITERS).map(|i| (i, i / WRITERS)) {
        let replica = ReplicaId::nth(i + 1);
        let [taken] = &db.claim_available_runs(&replica, 1).await.expect("take a run")[..] else {
            panic!("one run for {replica}");
        };
        assert_eq!(taken.plan, plans[slot].0, "runs are taken in plan order");
        plans[slot].2.push((taken.run, replica));
    }
    plans
}

/// One store per writer, each on a pool of its own with its connection open, so the
/// writes reach the server at once.
async fn writers(pg: &PgFixture) -> Vec<PgStore> {
    let mut stores = Vec::new();
    for _ in 0..WRITERS {
        let store = pg.store(1).await;
        store.claims().await.expect("the pool connects");
        stores.push(store);
    }
    stores
}

/// Every run of every plan ends at once, each by its replica on its own connection, as
/// `outcome(plan index, task index)` says (`None`: it does not end). Returns how many
/// rows the writes said they raised, and the outbox after them.
async fn race(
    pg: &PgFixture,
    outcome: impl Fn(usize, usize) -> Option<RunOutcome>,
    skip: impl Fn(usize) -> Vec<usize>,
) -> (Vec<(PlanId, Vec<TaskId>)>, usize, BTreeSet<RaisedEvent>) {
    let db = pg.store(2).await;
    let plans = running_plans(&db).await;
    let stores = writers(pg).await;
    let mut ends = Vec::new();
    let mut skips = Vec::new();
    for (p, (plan, tasks, runs)) in plans.iter().enumerate() {
        for (t, (run, replica)) in runs.iter().enumerate() {
            if let Some(outcome) = outcome(p, t) {
                let store = stores[t].clone();
                let (run, replica) = (*run, replica.clone());
                ends.push(async move {
                    let raised = store.finish_run_raising(run, &replica, &outcome, StatusWrite::Fenced).await;
                    raised.expect("a status write").raised.len()
                });
            }
        }
        let skipped: Vec<TaskId> = skip(p).into_iter().map(|t| tasks[t]).collect();
        if !skipped.is_empty() {
            let (store, plan) = (stores[p % WRITERS].clone(), *plan);
            skips.push(async move {
                let raised = store.skip_tasks_raising(plan, &skipped, "skipped by the user").await;
                raised.expect("a skip").raised.len()
            });
        }
    }
    let (ended, skipped) = tokio::join!(join_all(ends), join_all(skips));
    let raised = ended.iter().chain(&skipped).sum();
    let outbox = db.outbox().await.expect("the outbox").into_iter().map(|r| r.event).collect();
    let plans = plans.into_iter().map(|(plan, tasks, _)| (plan, tasks)).collect();
    (plans, raised, outbox)
}

fn event(plan: PlanId, event: EventType, episode: u32) -> RaisedEvent {
    RaisedEvent { plan, event, episode }
}

// Expected rows, from the design: the plan row's lock makes the writes to one plan
// commit one after another, and each sees the ones before it. So the last DONE sees
// every other task done and raises PIPELINE_COMPLETED (without the lock, each of
// eight concurrent writers could see the seven others RUNNING and none would); the
// first FAILED raises PIPELINE_FAILED for the episode and the others find the row
// there (the key is plan, event type, episode), so each event is raised once.

#[test]
fn many_replicas_ending_every_run_of_a_plan_at_once_raise_its_completion_once_on_postgres() {
    run(async {
        let pg = PgFixture::new().await;
        let (plans, raised, outbox) = race(&pg, |_, _| Some(RunOutcome::Done), |_| vec![]).await;
        let want: BTreeSet<RaisedEvent> =
            plans.iter().map(|(plan, _)| event(*plan, EventType::PipelineCompleted, 1)).collect();
        assert_eq!(outbox, want);
        assert_eq!(raised, PLANS, "one write per plan says it raised the row");
    });
}

#[test]
fn many_replicas_failing_runs_of_a_plan_at_once_raise_one_failure_and_no_completion_on_postgres() {
    run(async {
        let pg = PgFixture::new().await;
        // Plan p: its first p + 1 tasks fail, the others end DONE, all at once. Every
        // plan has a failed task, so none is complete.
        let outcome = |p: usize, t: usize| Some(if t <= p { failed() } else { RunOutcome::Done });
        let (plans, raised, outbox) = race(&pg, outcome, |_| vec![]).await;
        let want: BTreeSet<RaisedEvent> =
            plans.iter().map(|(plan, _)| event(*plan, EventType::PipelineFailed, 1)).collect();
        assert_eq!(outbox, want);
        assert_eq!(raised, PLANS);
    });
}

#[test]
fn a_skip_racing_the_last_runs_raises_the_completion_once_in_the_skips_episode_on_postgres() {
    run(async {
        let pg = PgFixture::new().await;
        // Every task but the last ends DONE while the user skips the last one (still
        // RUNNING). The plan is complete only once the skip and every DONE have
        // committed, and the skip started episode 2: whichever write commits last
        // raises PIPELINE_COMPLETED for episode 2, and no write raises episode 1's.
        let last = WRITERS - 1;
        let outcome = |_: usize, t: usize| (t < last).then_some(RunOutcome::Done);
        let (plans, raised, outbox) = race(&pg, outcome, |_| vec![last]).await;
        let want: BTreeSet<RaisedEvent> =
            plans.iter().map(|(plan, _)| event(*plan, EventType::PipelineCompleted, 2)).collect();
        assert_eq!(outbox, want);
        assert_eq!(raised, PLANS);
    });
}

/// A row leased `max_leases` times is not leased again, and is no work left.
#[test]
fn a_row_is_leased_at_most_max_leases_times_on_postgres() {
    run(async {
        let pg = PgFixture::new().await;
        let db = pg.store(2).await;
        let new = NewPlan { project: "p".into(), title: "t".into(), tasks: vec!["x".into()] };
        let plan = db.create_plan(&new).await.unwrap();
        db.create_pending_runs(plan.plan, &plan.tasks).await.unwrap();
        db.promote_pending().await.unwrap();
        let r1 = ReplicaId::nth(1);
        let run = db.claim_available_runs(&r1, 1).await.unwrap()[0].run;
        db.finish_run_raising(run, &r1, &failed(), StatusWrite::Fenced).await.unwrap();
        // Leases that expire at once: each call may take the row again, until three.
        let mut counts = Vec::new();
        for _ in 0..5 {
            let leased = db.lease_events(&r1, 8, std::time::Duration::ZERO, 3).await.unwrap();
            counts.push(leased.iter().map(|l| l.leases).collect::<Vec<_>>());
        }
        assert_eq!(counts, [vec![1], vec![2], vec![3], vec![], vec![]]);
        assert!(!db.work_left(3).await.unwrap(), "a row out of leases is no work");
        assert!(db.work_left(4).await.unwrap(), "with a fourth lease allowed it is");
        assert_eq!(db.outbox().await.unwrap()[0].leases, 3);
    });
}

/// One plan whose only task fails at about 40 ms, under the outbox, with an endpoint
/// that refuses the first `refusals` requests, on the memory store.
fn refused_at_first(refusals: u32) -> hasim::scenario::Scenario {
    let text = format!(
        r#"
name = "refused-at-first"
description = "The endpoint refuses the first requests; the outbox relays keep leasing the row."
seed = 3
strategy = "outbox"
max_duration = "60s"

[cluster]
replicas = 2

[webhook]
attempts = 3
timeout = "100ms"
backoff = "50ms"

[[plans]]
name = "deploy"
  [[plans.tasks]]
  name = "only"
  attempts = [{{ outcome = "failed", error = "boom", after = "40ms" }}]

[[timeline]]
at = "0ms"
plan = "deploy"
action = "run"

[[faults]]
kind = "endpoint"
status = 503
requests = {refusals}
"#
    );
    hasim::scenario::parse("refused-at-first.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

/// The (webhook id, attempt) of every send, in log order.
fn sends(run: &hasim::runner::ScenarioRun) -> Vec<(String, u32)> {
    run.result
        .history
        .iter()
        .filter_map(|e| match &e.event {
            Event::SendStarted { webhook_id, attempt, .. } => Some((webhook_id.clone(), *attempt)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_relay_numbers_its_tries_on_from_the_last_lease_so_the_event_is_one_delivery_retried() {
    // Three tries a lease: the first lease's three and the second's first are refused,
    // the fifth try is accepted: a second lease, since a lease holds three tries.
    // One id throughout, numbered 1 to 5; the receiver
    // dedupes on the id, so the event is one delivery retried, not a duplicate.
    let run = common::run_on_memory(&refused_at_first(4), None);
    let sends = sends(&run);
    let id = &sends[0].0;
    assert_eq!(sends, (1..=5).map(|a| (id.clone(), a)).collect::<Vec<_>>());
    let [e] = &run.result.report.events[..] else { panic!("one event: {:#?}", run.result.report) };
    assert_eq!((e.verdict, e.attempts, e.deliveries), (Verdict::Retried, 5, 1));
}

#[test]
fn relays_stop_after_max_leases_of_refusals_and_the_event_is_undeliverable() {
    // Refused forever (more requests than could be made): MAX_LEASES leases of three
    // tries each, numbered on from one lease to the next, then nothing more.
    let tries = MAX_LEASES * 3;
    let run = common::run_on_memory(&refused_at_first(tries + 10), None);
    let sends = sends(&run);
    let id = &sends[0].0;
    assert_eq!(sends, (1..=tries).map(|a| (id.clone(), a)).collect::<Vec<_>>());
    assert_eq!(run.result.requests.len() as u32, tries, "the receiver got every try and no more");
    let [e] = &run.result.report.events[..] else { panic!("one event: {:#?}", run.result.report) };
    assert_eq!(e.verdict, Verdict::Undeliverable);
    assert!(run.result.quiesced, "a row out of leases leaves no work: the run goes quiet");
}
