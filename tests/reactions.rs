//! `[[reactions]]` from the outside: a user who retries what failed, on both stores.
//! The reaction shows in the history as the user's action, the run waits for it, a
//! rule acts at most `max` times per plan and only on the plans it watches.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use hasim::check::Verdict;
use hasim::history::{Entry, Event};
use hasim::model::{EventType, RunStatus, TaskState};
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::sim::Database;

const MS: Duration = Duration::from_millis(1);

/// Postgres runs are timed in real milliseconds: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn postgres() -> Database {
    Database::Postgres { url: common::database_url(), keep_schema: false }
}

/// Runs the scenario `text` (plans, timeline, reactions) under the outbox.
#[track_caller]
fn run(text: &str, database: Database) -> ScenarioRun {
    let _turn = match database {
        Database::Postgres { .. } => Some(ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())),
        Database::Memory => None,
    };
    let file =
        format!("name = \"reactions\"\ndescription = \"a user who reacts\"\nstrategy = \"outbox\"\n{text}");
    let scenario = hasim::scenario::parse("reactions.toml", &file).unwrap_or_else(|e| panic!("{e}"));
    let options = RunOptions { database, strategy: None, seed: None };
    let run = run_scenario(&scenario, &options).expect("the run");
    assert!(run.result.quiesced, "the run went quiet");
    assert_eq!(run.result.leaked_actors, 0);
    run
}

/// The user actions a reaction caused, with the rule each names.
fn reactions(run: &ScenarioRun) -> Vec<(&Entry, usize)> {
    run.result
        .history
        .iter()
        .filter_map(|e| match e.event {
            Event::UserAction { reaction: Some(rule), .. } => Some((e, rule)),
            _ => None,
        })
        .collect()
}

/// The FAILED run ends of the history.
fn failures(run: &ScenarioRun) -> Vec<&Entry> {
    run.result
        .history
        .iter()
        .filter(|e| matches!(e.event, Event::RunEnded { status: RunStatus::Failed, .. }))
        .collect()
}

/// Distinct accepted deliveries of `event` in the receiver's log.
fn deliveries(run: &ScenarioRun, event: EventType) -> usize {
    let ids: BTreeSet<_> = run
        .result
        .requests
        .iter()
        .filter(|r| r.answer.is_accepted() && r.payload.as_ref().is_some_and(|p| p.event == event))
        .map(|r| r.webhook_id.clone())
        .collect();
    ids.len()
}

const FAILS_ONCE: &str = r#"
[[plans]]
name = "deploy"

  [[plans.tasks]]
  name = "migrate"
  attempts = [
    { outcome = "failed", error = "syntax error", after = "80ms" },
    { outcome = "done", after = "40ms" },
  ]

  [[plans.tasks]]
  name = "build"
  duration = "20ms"

[[timeline]]
at = "0ms"
plan = "deploy"
action = "run"
"#;

const RETRY_AFTER_300MS: &str = r#"
[[reactions]]
when = "task-failed"
plan = "deploy"
action = "retry"
after = "300ms"
"#;

#[track_caller]
fn assert_the_user_retries_and_the_plan_completes(database: Database) {
    let run = run(&format!("{FAILS_ONCE}{RETRY_AFTER_300MS}"), database);
    let failed = failures(&run);
    assert_eq!(failed.len(), 1, "migrate fails once");
    let Event::RunEnded { task: migrate, .. } = failed[0].event else { unreachable!() };
    let reacted = reactions(&run);
    assert_eq!(reacted.len(), 1, "one reaction");
    let (retry, rule) = reacted[0];
    let Event::UserAction { action, tasks, .. } = &retry.event else { unreachable!() };
    assert_eq!((rule, action.as_str(), tasks.as_slice()), (0, "retry", [migrate].as_slice()));
    assert!(
        retry.seq > failed[0].seq && retry.at >= failed[0].at + 300 * MS,
        "{retry:?} after {:?}",
        failed[0]
    );
    let (_, state) = &run.result.final_state[0];
    assert!(state.tasks.iter().all(|t| t.state() == TaskState::Done), "{state:?}");
    let events: Vec<_> = run.result.report.events.iter().map(|e| (e.event, e.episode, e.verdict)).collect();
    assert_eq!(
        events,
        [
            (EventType::PipelineFailed, 1, Verdict::Delivered),
            (EventType::PipelineCompleted, 2, Verdict::Delivered)
        ],
        "{:#?}",
        run.result.report
    );
    assert_eq!(deliveries(&run, EventType::PipelineFailed), 1);
    assert_eq!(deliveries(&run, EventType::PipelineCompleted), 1);
}

#[test]
fn a_user_retries_what_failed_and_the_plan_completes_on_the_memory_store() {
    assert_the_user_retries_and_the_plan_completes(Database::Memory);
}

#[test]
fn a_user_retries_what_failed_and_the_plan_completes_on_postgres() {
    assert_the_user_retries_and_the_plan_completes(postgres());
}

const ALWAYS_FAILS: &str = r#"
[[plans]]
name = "deploy"

  [[plans.tasks]]
  name = "migrate"
  duration = "30ms"
  failure_probability = 1.0

[[timeline]]
at = "0ms"
plan = "deploy"
action = "run"

[[reactions]]
when = "task-failed"
action = "retry"
after = "100ms"
max = 2
"#;

#[track_caller]
fn assert_max_is_respected(database: Database) {
    let run = run(ALWAYS_FAILS, database);
    assert_eq!(reactions(&run).len(), 2, "max = 2");
    assert_eq!(failures(&run).len(), 3, "the first run and the two retries fail");
    let (_, state) = &run.result.final_state[0];
    assert_eq!(state.tasks[0].state(), TaskState::Failed);
    assert_eq!(state.tasks[0].latest.as_ref().map(|r| r.attempt), Some(3));
}

#[test]
fn a_rule_acts_at_most_max_times_when_a_task_always_fails_on_the_memory_store() {
    assert_max_is_respected(Database::Memory);
}

#[test]
fn a_rule_acts_at_most_max_times_when_a_task_always_fails_on_postgres() {
    assert_max_is_respected(postgres());
}

const OTHER_PLAN: &str = r#"
[[plans]]
name = "hotfix"

  [[plans.tasks]]
  name = "patch"
  duration = "20ms"

[[timeline]]
at = "0ms"
plan = "hotfix"
action = "run"

[[reactions]]
when = "task-failed"
plan = "hotfix"
action = "retry"
after = "100ms"
"#;

#[track_caller]
fn assert_a_rule_for_another_plan_does_not_fire(database: Database) {
    let run = run(&format!("{FAILS_ONCE}{OTHER_PLAN}"), database);
    assert_eq!(failures(&run).len(), 1, "deploy's migrate fails");
    assert!(reactions(&run).is_empty(), "the rule watches hotfix, which does not fail");
    let deploy = run.result.final_state.iter().find(|(_, s)| s.title == "deploy").expect("deploy");
    assert_eq!(deploy.1.tasks[0].state(), TaskState::Failed, "nobody retried it");
}

#[test]
fn a_rule_for_another_plan_does_not_fire_on_the_memory_store() {
    assert_a_rule_for_another_plan_does_not_fire(Database::Memory);
}

#[test]
fn a_rule_for_another_plan_does_not_fire_on_postgres() {
    assert_a_rule_for_another_plan_does_not_fire(postgres());
}

#[test]
fn the_run_does_not_end_while_a_reaction_is_to_come() {
    let slow = RETRY_AFTER_300MS.replace("300ms", "3s");
    let run = run(&format!("{FAILS_ONCE}{slow}"), Database::Memory);
    let failed = failures(&run)[0].at;
    let reacted = reactions(&run);
    assert_eq!(reacted.len(), 1, "the cluster was quiet long before the user acted");
    assert!(reacted[0].0.at >= failed + 3000 * MS);
    let (_, state) = &run.result.final_state[0];
    assert!(state.tasks.iter().all(|t| t.state() == TaskState::Done), "{state:?}");
}

#[test]
fn a_retry_after_completion_reopens_nothing_and_announces_nothing_more() {
    let on_complete = r#"
[[reactions]]
when = "plan-complete"
action = "retry"
after = "200ms"
"#;
    let run = run(&format!("{FAILS_ONCE}{RETRY_AFTER_300MS}{on_complete}"), Database::Memory);
    let reacted = reactions(&run);
    let rules: Vec<usize> = reacted.iter().map(|(_, rule)| *rule).collect();
    assert_eq!(rules, [0, 1], "the retry of the failure, then the retry of the complete plan");
    let Event::UserAction { action, tasks, .. } = &reacted[1].0.event else { unreachable!() };
    assert_eq!((action.as_str(), tasks.len()), ("retry", 2), "every task");
    assert!(run.result.report.pass, "{:#?}", run.result.report);
    assert_eq!(deliveries(&run, EventType::PipelineCompleted), 1);
    let (_, state) = &run.result.final_state[0];
    assert!(state.tasks.iter().all(|t| t.state() == TaskState::Done), "{state:?}");
}

#[test]
fn a_run_with_reactions_replays_exactly_on_the_memory_store() {
    let drawn = "name = \"build\"\n  duration = [\"10ms\", \"90ms\"]\n  failure_probability = 0.5";
    let text = format!("{FAILS_ONCE}{RETRY_AFTER_300MS}{OTHER_PLAN}")
        .replace("name = \"build\"\n  duration = \"20ms\"", drawn)
        .replace("plan = \"deploy\"\naction = \"retry\"", "action = \"retry\"\nmax = 3");
    assert!(text.contains(drawn) && text.contains("max = 3"));
    let (a, b) = (run(&text, Database::Memory), run(&text, Database::Memory));
    assert_eq!(a.result.history, b.result.history);
    assert_eq!(a.result.requests, b.result.requests);
    assert!(!reactions(&a).is_empty(), "the run has a reaction to replay");
}
