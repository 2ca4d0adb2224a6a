//! The history knows what committed: a write whose answer never came is logged as
//! indeterminate and resolved after the run from the store's commit log, on both
//! stores alike; faults at `after-commit` lose a write's reply for real.

mod common;

use hasim::check::Verdict;
use hasim::history::{Entry, Event};
use hasim::model::EventType;
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::sim::Database;
use hasim::strategy::StrategyKind;

/// Postgres runs take real time: one at a time, so they do not starve each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn postgres() -> Database {
    Database::Postgres { url: common::database_url(), keep_schema: false }
}

/// One plan whose one task fails at 60 ms on two replicas, with `faults` (TOML).
fn failing_plan(faults: &str) -> String {
    format!(
        r#"name = "story"
description = "a failing task and a fault"
seed = 5

[cluster]
replicas = 2

[[plans]]
name = "deploy"
  [[plans.tasks]]
  name = "t1"
  attempts = [{{ outcome = "failed", error = "boom", after = "60ms" }}]

[[timeline]]
at = "0ms"
plan = "deploy"
action = "run"

{faults}"#
    )
}

#[track_caller]
fn run(text: &str, strategy: StrategyKind, database: Database) -> ScenarioRun {
    let _turn = matches!(database, Database::Postgres { .. })
        .then(|| ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner()));
    let scenario = hasim::scenario::parse("story.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let options = RunOptions { database, strategy: Some(strategy), seed: None };
    run_scenario(&scenario, &options).expect("these tests need Postgres")
}

/// The `StoreResolved` entries of `op`, and the entries each is followed by.
fn resolutions<'a>(run: &'a ScenarioRun, op: &str) -> Vec<(bool, Vec<&'a Entry>)> {
    let history = &run.result.history;
    history
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.event {
            Event::StoreResolved { op: o, committed, invoked, .. } if o == op => {
                let changes = history[i + 1..].iter().take_while(|c| c.event.invoked() == Some(*invoked));
                let changes = changes.filter(|c| !matches!(c.event, Event::StoreResolved { .. }));
                Some((*committed, changes.collect()))
            }
            _ => None,
        })
        .collect()
}

#[track_caller]
fn failed_verdict(run: &ScenarioRun) -> Verdict {
    let event = run.result.report.events.iter().find(|e| e.event == EventType::PipelineFailed);
    event.expect("PIPELINE_FAILED is owed").verdict
}

#[track_caller]
fn witness(run: &ScenarioRun) -> &str {
    let event = run.result.report.events.iter().find(|e| e.event == EventType::PipelineFailed);
    &event.expect("PIPELINE_FAILED is owed").witness.summary
}

/// A claim whose reply is lost to a crash: the claim committed (the commit log says
/// so, the row is there), nobody sends, and the witness tells it.
#[track_caller]
fn claim_reply_lost_to_a_crash(database: Database) {
    let faults = r#"[[faults]]
kind = "crash"
when = { replica = "any", point = "after-commit", op = "claim" }
restart_after = "200ms"
"#;
    let run = run(&failing_plan(faults), StrategyKind::SEED_CLAIM, database);
    let history = &run.result.history;
    assert!(
        history.iter().any(|e| matches!(&e.event, Event::StoreDropped { op, .. } if op == "ClaimEvent")),
        "the claim was cut off in flight"
    );
    let resolved = resolutions(&run, "ClaimEvent");
    assert_eq!(resolved.len(), 1, "one claim to resolve");
    let (committed, changes) = &resolved[0];
    assert!(committed, "the claim committed");
    assert!(
        matches!(
            changes.as_slice(),
            [Entry { event: Event::ClaimAttempted { claim: hasim::store::Claim::Won, .. }, .. }]
        ),
        "the committed claim is logged as won: {changes:?}"
    );
    assert_eq!(run.result.claims.len(), 1, "the row is in the table");
    assert_eq!(failed_verdict(&run), Verdict::Lost);
    assert!(witness(&run).contains("committed though its answer never came"), "{}", witness(&run));
    assert!(run.result.requests.is_empty(), "nobody sent");
}

#[test]
fn a_claim_whose_reply_is_lost_to_a_crash_committed_and_nobody_sends_in_memory() {
    claim_reply_lost_to_a_crash(Database::Memory);
}

#[test]
fn a_claim_whose_reply_is_lost_to_a_crash_committed_and_nobody_sends_on_postgres() {
    claim_reply_lost_to_a_crash(postgres());
}

/// A claim whose reply is lost to a connection reset: the replica lives and sees an
/// error, the claim committed all the same.
#[track_caller]
fn claim_reply_lost_to_a_reset(database: Database) {
    let faults = r#"[[faults]]
kind = "db-reset"
when = { replica = "any", point = "after-commit", op = "claim" }
"#;
    let run = run(&failing_plan(faults), StrategyKind::SEED_CLAIM, database);
    let history = &run.result.history;
    assert!(
        history.iter().any(|e| matches!(
            &e.event,
            Event::StoreFailed { op, op_id: Some(_), .. } if op == "ClaimEvent"
        )),
        "the claim failed at its replica: {history:#?}"
    );
    assert!(history.iter().all(|e| !matches!(e.event, Event::Crashed { .. })), "nobody crashed");
    let resolved = resolutions(&run, "ClaimEvent");
    assert_eq!(resolved.len(), 1, "one claim to resolve");
    assert!(resolved[0].0, "the claim committed");
    assert_eq!(run.result.claims.len(), 1, "the row is in the table");
    assert_eq!(failed_verdict(&run), Verdict::Lost);
}

#[test]
fn a_claim_whose_reply_is_lost_to_a_reset_committed_though_its_replica_saw_an_error_in_memory() {
    claim_reply_lost_to_a_reset(Database::Memory);
}

#[test]
fn a_claim_whose_reply_is_lost_to_a_reset_committed_though_its_replica_saw_an_error_on_postgres() {
    claim_reply_lost_to_a_reset(postgres());
}

/// A FAILED status write that committed after its replica died: the outbox's relay
/// on the other replica announces it, and the checker finds that correct (before the
/// commit log, it called the delivery unexpected and the event lost).
/// `op` is the point's: the status write, or the outbox insert of the same write.
#[track_caller]
fn status_write_committed_after_the_replica_died(database: Database, op: &str) {
    let faults = format!(
        r#"[[faults]]
kind = "crash"
when = {{ replica = "any", point = "after-commit", op = "{op}" }}
"#
    );
    let run = run(&failing_plan(&faults), StrategyKind::OUTBOX, database);
    let resolved = resolutions(&run, "FinishRunRaising");
    assert_eq!(resolved.len(), 1, "the status write to resolve");
    let (committed, changes) = &resolved[0];
    assert!(committed, "the status write committed");
    assert!(
        changes.iter().any(|e| matches!(
            e.event,
            Event::RunEnded { status: hasim::model::RunStatus::Failed, by_cleaner: false, .. }
        )),
        "the run ended FAILED by its own replica: {changes:?}"
    );
    assert!(
        changes.iter().any(|e| matches!(e.event, Event::EventsRaised { .. })),
        "the outbox row came in the same transaction"
    );
    assert_eq!(failed_verdict(&run), Verdict::Delivered, "{}", witness(&run));
    assert!(run.result.report.pass, "{:?}", run.result.report.stray);
}

#[test]
fn a_status_write_committed_after_its_replica_died_is_announced_by_the_outbox_in_memory() {
    status_write_committed_after_the_replica_died(Database::Memory, "status-write");
}

#[test]
fn an_outbox_insert_committed_after_its_replica_died_is_announced_in_memory() {
    status_write_committed_after_the_replica_died(Database::Memory, "outbox-insert");
}

#[test]
fn an_outbox_insert_committed_after_its_replica_died_is_announced_on_postgres() {
    status_write_committed_after_the_replica_died(postgres(), "outbox-insert");
}

#[test]
fn a_status_write_committed_after_its_replica_died_is_announced_by_the_outbox_on_postgres() {
    status_write_committed_after_the_replica_died(postgres(), "status-write");
}

/// A write that never reached the server: the link is partitioned just before the
/// claim, the claim waits on it, and the replica crashes. The commit log has no row:
/// it did not commit, and nothing of it is logged.
#[track_caller]
fn a_write_that_did_not_commit(database: Database) {
    let faults = r#"[[faults]]
kind = "db-partition"
when = { replica = "any", point = "before-claim" }
heal_after = "2s"

[[faults]]
kind = "crash"
replica = "r1"
at = "600ms"

[[faults]]
kind = "crash"
replica = "r2"
at = "600ms"
"#;
    let run = run(&failing_plan(faults), StrategyKind::SEED_CLAIM, database);
    let history = &run.result.history;
    assert!(
        history.iter().any(|e| matches!(&e.event, Event::StoreDropped { op, .. } if op == "ClaimEvent")),
        "the claim was cut off: {history:#?}"
    );
    let resolved = resolutions(&run, "ClaimEvent");
    assert_eq!(resolved.len(), 1, "the claim to resolve");
    let (committed, changes) = &resolved[0];
    assert!(!committed, "the claim did not commit");
    assert!(changes.is_empty(), "nothing of it is logged");
    assert!(run.result.claims.is_empty(), "no row in the table");
    assert_eq!(failed_verdict(&run), Verdict::Lost);
}

#[test]
fn a_write_that_did_not_reach_the_server_is_resolved_as_not_committed_in_memory() {
    a_write_that_did_not_commit(Database::Memory);
}

#[test]
fn a_write_that_did_not_reach_the_server_is_resolved_as_not_committed_on_postgres() {
    a_write_that_did_not_commit(postgres());
}

/// A reply held by a partition at `after-commit` arrives when the link heals: the
/// claim is answered late, nothing is indeterminate, and the winner sends.
#[track_caller]
fn a_held_reply_arrives_late(database: Database) {
    let faults = r#"[[faults]]
kind = "db-partition"
when = { replica = "any", point = "after-commit", op = "claim" }
heal_after = "200ms"
"#;
    let run = run(&failing_plan(faults), StrategyKind::SEED_CLAIM, database);
    let history = &run.result.history;
    let healed =
        history.iter().find(|e| matches!(e.event, Event::FaultEnded { .. })).expect("the link healed");
    let claim = history
        .iter()
        .find(|e| matches!(e.event, Event::ClaimAttempted { claim: hasim::store::Claim::Won, .. }))
        .expect("the claim was answered");
    assert!(claim.seq > healed.seq, "the answer came after the heal");
    assert!(resolutions(&run, "ClaimEvent").is_empty(), "nothing to resolve");
    assert_eq!(failed_verdict(&run), Verdict::Delivered, "{}", witness(&run));
}

#[test]
fn a_reply_held_at_after_commit_arrives_when_the_link_heals_in_memory() {
    a_held_reply_arrives_late(Database::Memory);
}

#[test]
fn a_reply_held_at_after_commit_arrives_when_the_link_heals_on_postgres() {
    a_held_reply_arrives_late(postgres());
}

/// The writes a replica makes at every tick (promote, take runs, lease, mark) and the
/// raising status write, made once tagged (recording themselves in the commit log in
/// the same statement) and once untagged (the bare statements `hasim bench` runs), on
/// two fresh schemas in the same state. They must answer alike, and the tagged ones
/// must have logged exactly the answers that changed something: a write that found
/// nothing to do leaves no row (whether it committed or not, nothing changed).
#[test]
fn tagged_writes_answer_what_they_log_and_what_the_bare_statements_answer() {
    use hasim::history::OpId;
    use hasim::model::{ReplicaId, RunId};
    use hasim::store::{ClaimedRun, EndedRun, LeasedEvent, NewPlan, OpTag, PgStore, Raising, RunOutcome};
    use hasim::store::{StatusWrite, Store};
    use std::time::Duration;

    #[derive(Debug, PartialEq)]
    struct Answers {
        promoted: Vec<RunId>,
        taken: Vec<ClaimedRun>,
        ended: Raising<Option<EndedRun>>,
        leased: Vec<LeasedEvent>,
        marked: bool,
        promoted_again: Vec<RunId>,
        marked_again: bool,
    }

    async fn play(db: &PgStore, tagged: bool) -> (Answers, Vec<(OpId, serde_json::Value)>) {
        let r1 = ReplicaId::nth(1);
        let tag = |op: OpId| OpTag { op, replica: r1.clone(), invoked: op * 10, before_commit: None };
        let at = |op: OpId| if tagged { db.tagged(tag(op)) } else { db.clone() };
        let plan = NewPlan { project: "p".into(), title: "t".into(), tasks: vec!["a".into(), "b".into()] };
        let created = db.create_plan(&plan).await.unwrap();
        db.create_pending_runs(created.plan, &created.tasks).await.unwrap();
        let promoted = at(1).promote_pending().await.unwrap();
        let taken = at(2).claim_available_runs(&r1, 8).await.unwrap();
        let failed = RunOutcome::Failed { error: "boom".into() };
        let ended = at(3).finish_run_raising(taken[0].run, &r1, &failed, StatusWrite::Fenced).await.unwrap();
        let leased = at(4).lease_events(&r1, 8, Duration::from_secs(60), 20).await.unwrap();
        let marked = at(5).mark_delivered(leased[0].event).await.unwrap();
        let promoted_again = at(6).promote_pending().await.unwrap();
        let marked_again = at(7).mark_delivered(leased[0].event).await.unwrap();
        let answers = Answers { promoted, taken, ended, leased, marked, promoted_again, marked_again };
        (answers, db.committed(&[1, 2, 3, 4, 5, 6, 7]).await.unwrap())
    }

    common::run(async {
        let (tagged_db, bare_db) = (common::PgFixture::new().await, common::PgFixture::new().await);
        let (tagged, log) = play(&tagged_db.store(2).await, true).await;
        let (bare, bare_log) = play(&bare_db.store(2).await, false).await;
        assert_eq!(tagged, bare);
        assert!(bare_log.is_empty(), "untagged writes log nothing: {bare_log:?}");

        // Worked out from the statements: both runs promoted and taken, run 1 failed
        // (raising PIPELINE_FAILED in episode 1, the batch's), that row leased and
        // marked; promoting again finds nothing, marking again finds it delivered.
        assert_eq!(tagged.promoted.len(), 2);
        assert_eq!(tagged.taken.len(), 2);
        assert_eq!(tagged.ended.raised.len(), 1);
        assert_eq!(tagged.leased.len(), 1);
        assert!(tagged.marked && tagged.promoted_again.is_empty() && !tagged.marked_again);
        let ops: Vec<OpId> = log.iter().map(|(op, _)| *op).collect();
        assert_eq!(ops, vec![1, 2, 3, 4, 5], "writes 6 and 7 changed nothing");
        let value = |op: usize| log[op - 1].1.clone();
        assert_eq!(serde_json::from_value::<Vec<RunId>>(value(1)).unwrap(), tagged.promoted);
        assert_eq!(serde_json::from_value::<Vec<ClaimedRun>>(value(2)).unwrap(), tagged.taken);
        assert_eq!(serde_json::from_value::<Raising<Option<EndedRun>>>(value(3)).unwrap(), tagged.ended);
        assert_eq!(serde_json::from_value::<Vec<LeasedEvent>>(value(4)).unwrap(), tagged.leased);
        assert!(serde_json::from_value::<bool>(value(5)).unwrap());
    });
}
