//! The memory store with the in-process endpoint on a paused clock: the same runs as
//! on Postgres, fast, and a function of (spec, seed).

use std::time::Duration;

use hasim::check::Verdict;
use hasim::faults::{CrashPoint, Fault, FaultKind, Trigger};
use hasim::judge::RunResult;
use hasim::model::{EventType, ReplicaId};
use hasim::script::{PlanScript, TaskScript};
use hasim::sim::{Setup, execute};
use hasim::spec::ActionKind;
use hasim::spec::ClusterConfig;
use hasim::spec::{ClusterSpec, TimedAction};
use hasim::store::RunOutcome;
use hasim::strategy::StrategyKind;
use hasim::webhook::WebhookPolicies;

const MS: Duration = Duration::from_millis(1);

fn paused(spec: ClusterSpec) -> RunResult {
    let system = actix::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap()
    });
    let trace = system.block_on(execute(spec, &Setup::memory())).expect("the run");
    assert_eq!(trace.leaked_actors, 0);
    RunResult::checked(trace)
}

fn retry_story(seed: u64) -> ClusterSpec {
    let failing = TaskScript::done_after("t2", 20 * MS)
        .then(RunOutcome::Failed { error: "syntax error".into() }, 40 * MS)
        .then(RunOutcome::Done, 30 * MS);
    let tasks = vec![
        TaskScript::done_after("t1", 30 * MS),
        failing,
        TaskScript {
            failure_probability: 0.0,
            duration: (10 * MS, 90 * MS),
            ..TaskScript::done_after("t3", MS)
        },
        TaskScript::done_after("t4", 10 * MS),
    ];
    let timeline = vec![
        TimedAction { at: MS, plan: 0, action: ActionKind::Run, tasks: None, via: None },
        TimedAction { at: 600 * MS, plan: 0, action: ActionKind::Run, tasks: Some(vec![1]), via: None },
    ];
    ClusterSpec {
        seed,
        config: ClusterConfig::default(),
        strategy: StrategyKind::SEED_CLAIM,
        webhook: WebhookPolicies::default(),
        plans: vec![PlanScript { name: "deploy".into(), project: "demo".into(), tasks }],
        timeline,
        reactions: vec![],
        faults: vec![],
        claim_snapshots: vec![300 * MS, 610 * MS],
        deadline: Duration::from_secs(2),
        max_duration: Duration::from_secs(30),
        database: hasim::topology::DatabaseSpec::default(),
    }
}

#[test]
fn a_retried_failure_announces_failed_then_completed_on_the_memory_store() {
    let result = paused(retry_story(7));
    assert!(result.quiesced && result.report.pass, "{:#?}", result.report);
    let events: Vec<(EventType, u32, Verdict)> =
        result.report.events.iter().map(|e| (e.event, e.episode, e.verdict)).collect();
    assert_eq!(
        events,
        [
            (EventType::PipelineFailed, 1, Verdict::Delivered),
            (EventType::PipelineCompleted, 2, Verdict::Delivered)
        ]
    );
    let rows = |i: usize| result.claim_snapshots[i].rows.iter().map(|r| r.event).collect::<Vec<_>>();
    assert_eq!(rows(0), [EventType::PipelineFailed], "the FAILED claim holds the row after the failure");
    assert!(rows(1).is_empty(), "the retry reset the row");
}

#[test]
fn the_same_seed_replays_the_same_history() {
    let (a, b) = (paused(retry_story(11)), paused(retry_story(11)));
    assert_eq!(a.history, b.history);
    assert_eq!(a.requests, b.requests);
    let c = paused(retry_story(12));
    assert_ne!(a.history, c.history, "another seed draws other durations");
}

#[test]
fn a_crash_after_the_claim_loses_the_failed_event_on_the_memory_store() {
    let mut spec = retry_story(7);
    spec.config.replicas = 1;
    spec.faults = vec![Fault {
        index: 0,
        kind: FaultKind::Crash { replica: ReplicaId::nth(1), restart_after: Some(100 * MS) },
        trigger: Trigger::When { replica: ReplicaId::nth(1), point: CrashPoint::AfterClaim, nth: 1 },
    }];
    let result = paused(spec);
    let failed = &result.report.events[0];
    assert_eq!(
        (failed.event, failed.verdict),
        (EventType::PipelineFailed, Verdict::Lost),
        "{:#?}",
        result.report
    );
    assert!(failed.witness.summary.contains("after-claim"), "{}", failed.witness.summary);
}
