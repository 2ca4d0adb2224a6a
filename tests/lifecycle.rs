//! The whole rollout lifecycle through the actors, against real Postgres and a real
//! HTTP receiver, judged by the checker.

mod common;

use std::time::Duration;

use common::{database_url, run};
use hasim::check::Verdict;
use hasim::faults::{CrashPoint, Fault, FaultKind, Trigger};
use hasim::history::Event;
use hasim::judge::RunResult;
use hasim::model::{EventType, ReplicaId, RunStatus};
use hasim::script::{PlanScript, TaskScript};
use hasim::sim::{Setup, execute};
use hasim::spec::ActionKind;
use hasim::spec::ClusterConfig;
use hasim::spec::{ClusterSpec, TimedAction};
use hasim::store::RunOutcome;
use hasim::strategy::StrategyKind;
use hasim::webhook::{PolicyKeys, WebhookPolicies};

const MS: Duration = Duration::from_millis(1);

/// The contract's deadline in these runs.
const DEADLINE: Duration = Duration::from_secs(2);

/// These runs keep real time on a shared machine: a request answered within half the
/// deadline is not timed out and sent again (the default 100 ms would turn a slow
/// round trip into a `retried`), and half the deadline is left for it to arrive.
fn webhook() -> WebhookPolicies {
    let every = PolicyKeys { timeout: Some(DEADLINE / 2), ..PolicyKeys::default() };
    WebhookPolicies { every, by_strategy: vec![] }
}

fn spec(plans: Vec<PlanScript>, timeline: Vec<TimedAction>) -> ClusterSpec {
    ClusterSpec {
        seed: 7,
        config: ClusterConfig::default(),
        strategy: StrategyKind::SEED_CLAIM,
        webhook: webhook(),
        plans,
        timeline,
        reactions: vec![],
        faults: vec![],
        claim_snapshots: vec![],
        deadline: DEADLINE,
        max_duration: Duration::from_secs(20),
        database: hasim::topology::DatabaseSpec::default(),
    }
}

fn run_all(plan: usize, at: Duration) -> TimedAction {
    TimedAction { at, plan, action: ActionKind::Run, tasks: None, via: None }
}

fn plan(name: &str, tasks: Vec<TaskScript>) -> PlanScript {
    PlanScript { name: name.into(), project: "demo".into(), tasks }
}

#[track_caller]
fn on_postgres(spec: ClusterSpec) -> RunResult {
    let trace = run(async { execute(spec, &Setup::postgres(database_url())).await.expect("the run") });
    assert_eq!(trace.leaked_actors, 0, "every actor of the run stopped");
    RunResult::checked(trace)
}

/// The distinct accepted deliveries (one per webhook-id: a retry of an accepted
/// request is the same delivery) as (plan title, event, episode).
fn deliveries(result: &RunResult) -> Vec<(String, EventType, u32)> {
    let mut seen = std::collections::HashSet::new();
    result
        .requests
        .iter()
        .filter(|r| r.answer.is_accepted() && seen.insert(r.webhook_id.clone()))
        .map(|r| {
            let p = r.payload.as_ref().expect("a payload");
            (p.title.clone(), p.event, p.episode)
        })
        .collect()
}

#[test]
fn a_failed_task_retried_to_success_announces_failed_then_completed_once_each() {
    let failing = TaskScript::done_after("t2", 20 * MS)
        .then(RunOutcome::Failed { error: "syntax error".into() }, 40 * MS);
    let tasks = vec![
        TaskScript::done_after("t1", 30 * MS),
        failing.then(RunOutcome::Done, 30 * MS),
        TaskScript::done_after("t3", 50 * MS),
        TaskScript::done_after("t4", 10 * MS),
    ];
    let retry =
        TimedAction { at: 600 * MS, plan: 0, action: ActionKind::Run, tasks: Some(vec![1]), via: None };
    let result = on_postgres(spec(vec![plan("deploy", tasks)], vec![run_all(0, MS), retry]));

    assert!(result.quiesced, "the cluster went quiet");
    assert_eq!(
        deliveries(&result),
        [("deploy".into(), EventType::PipelineFailed, 1), ("deploy".into(), EventType::PipelineCompleted, 2)]
    );
    assert!(result.requests.iter().all(|r| r.signature_ok), "every signature verifies");
    let failed = result.requests[0].payload.as_ref().unwrap();
    assert_eq!(failed.failed_tasks.len(), 1);
    assert_eq!(failed.failed_tasks[0].error, "syntax error");
    assert!(result.report.pass, "{:#?}", result.report);
    let verdicts: Vec<Verdict> = result.report.events.iter().map(|e| e.verdict).collect();
    assert_eq!(verdicts, [Verdict::Delivered, Verdict::Delivered]);
}

#[test]
fn twenty_plans_spread_over_three_replicas_complete_once_each() {
    let plans: Vec<PlanScript> = (0..20)
        .map(|p| {
            plan(
                &format!("p{p}"),
                (0..5).map(|t| TaskScript::done_after(format!("t{t}"), (10 + t * 7) * MS)).collect(),
            )
        })
        .collect();
    let timeline = (0..20).map(|p| run_all(p, Duration::from_millis(1 + p as u64 * 5))).collect();
    let result = on_postgres(spec(plans, timeline));

    assert!(result.quiesced);
    let mut got = deliveries(&result);
    got.sort();
    let mut want: Vec<_> = (0..20).map(|p| (format!("p{p}"), EventType::PipelineCompleted, 1)).collect();
    want.sort();
    assert_eq!(got, want, "one PIPELINE_COMPLETED per plan, no duplicate");
    let runners: std::collections::BTreeSet<_> = result
        .history
        .iter()
        .filter(|e| matches!(e.event, Event::RunStarted { .. }))
        .filter_map(|e| e.by.clone())
        .collect();
    assert_eq!(runners.len(), 3, "runs were spread over every replica: {runners:?}");
    assert!(result.report.pass, "{:#?}", result.report);
}

#[test]
fn a_crash_right_after_winning_the_failed_claim_loses_the_event_and_the_witness_names_it() {
    let tasks = vec![
        TaskScript::done_after("t1", 20 * MS).then(RunOutcome::Failed { error: "boom".into() }, 20 * MS),
    ];
    let mut spec = spec(vec![plan("doomed", tasks)], vec![run_all(0, MS)]);
    spec.config.replicas = 1;
    spec.faults = vec![Fault {
        index: 0,
        kind: FaultKind::Crash { replica: ReplicaId::nth(1), restart_after: Some(100 * MS) },
        trigger: Trigger::When { replica: ReplicaId::nth(1), point: CrashPoint::AfterClaim, nth: 1 },
    }];
    let result = on_postgres(spec);

    assert!(result.quiesced);
    assert!(deliveries(&result).is_empty(), "nothing was sent");
    assert!(!result.report.pass);
    let lost = &result.report.events[0];
    assert_eq!((lost.event, lost.verdict), (EventType::PipelineFailed, Verdict::Lost));
    assert!(lost.witness.summary.contains("crashed"), "{}", lost.witness.summary);
    assert!(lost.witness.summary.contains("after-claim"), "{}", lost.witness.summary);
}

#[test]
fn a_replica_crashing_with_running_runs_has_them_failed_by_the_cleaner_and_the_run_ends() {
    // One replica takes all six runs in one write (a tick takes up to eight). It
    // crashes once the short run's DONE has committed: the five long runs are
    // RUNNING on it then, whatever the machine's speed, since they end seconds later.
    let mut tasks = vec![TaskScript::done_after("short", 100 * MS)];
    tasks.extend((1..6).map(|t| TaskScript::done_after(format!("long{t}"), 2000 * MS)));
    let mut spec = spec(vec![plan("long", tasks)], vec![run_all(0, MS)]);
    spec.config.replicas = 1;
    spec.faults = vec![Fault {
        index: 0,
        kind: FaultKind::Crash { replica: ReplicaId::nth(1), restart_after: Some(50 * MS) },
        trigger: Trigger::When { replica: ReplicaId::nth(1), point: CrashPoint::AfterStatusWrite, nth: 1 },
    }];
    let result = on_postgres(spec);

    assert!(result.quiesced, "the run ended without hanging");
    let started = result.history.iter().filter(|e| matches!(e.event, Event::RunStarted { .. })).count();
    assert_eq!(started, 6, "r1 took every run");
    let abandoned = result
        .history
        .iter()
        .filter(|e| matches!(&e.event, Event::RunEnded { by_cleaner: true, status: RunStatus::Failed, .. }))
        .count();
    assert_eq!(abandoned, 5, "the cleaner failed the five runs r1 held when it crashed");
    assert!(
        result
            .history
            .iter()
            .any(|e| matches!(&e.event, Event::Restarted { replica } if replica.0 == "r1.2"))
    );
    // seed-claim's cleaner sends nothing: the failure it causes is lost.
    let failed = result.report.events.iter().find(|e| e.event == EventType::PipelineFailed).expect("owed");
    assert_eq!(failed.verdict, Verdict::Lost);
}
