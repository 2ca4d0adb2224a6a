//! `tasks = []` on a timeline action: the request with no task, an empty batch. It is
//! sent to the server and logged, it changes no task and starts no episode, on the
//! memory store and on Postgres, under every strategy.

mod common;

use hasim::check::Verdict;
use hasim::history::{Entry, Event};
use hasim::model::{EventType, PlanId, RunStatus};
use hasim::runner::{RunOptions, ScenarioRun, run_scenario};
use hasim::scenario::Scenario;
use hasim::sim::Database;
use hasim::spec::ActionKind;
use hasim::strategy::StrategyKind;

/// `deploy` runs and completes (episode 1), then gets an empty retry, skip, cancel and
/// run; `idle` is created by an empty run and never runs anything.
const EMPTY_BATCHES: &str = r#"
name = "empty-batches"
description = "Requests that name no task change nothing."

[cluster]
replicas = 2

[[plans]]
name = "deploy"
  [[plans.tasks]]
  name = "t1"
  attempts = [{ outcome = "done", after = "40ms" }]
  [[plans.tasks]]
  name = "t2"
  attempts = [{ outcome = "done", after = "60ms" }]

[[plans]]
name = "idle"
  [[plans.tasks]]
  name = "only"

[[timeline]]
at = "0ms"
plan = "deploy"
action = "run"

[[timeline]]
at = "0ms"
plan = "idle"
action = "run"
tasks = []

[[timeline]]
at = "500ms"
plan = "deploy"
action = "retry"
tasks = []

[[timeline]]
at = "600ms"
plan = "deploy"
action = "skip"
tasks = []

[[timeline]]
at = "700ms"
plan = "deploy"
action = "cancel"
tasks = []

[[timeline]]
at = "800ms"
plan = "deploy"
action = "run"
tasks = []
"#;

/// A task as the store ends with it: skipped, and its latest run's attempt and status.
type TaskAt = (bool, Option<(i32, RunStatus)>);

fn scenario() -> Scenario {
    hasim::scenario::parse("empty-batches.toml", EMPTY_BATCHES).unwrap_or_else(|e| panic!("{e}"))
}

fn plan_id(run: &ScenarioRun, title: &str) -> PlanId {
    run.result.final_state.iter().find(|(_, s)| s.title == title).map(|(id, _)| *id).expect(title)
}

/// The store write that served the user action at `action`: the first entry after it,
/// by the same replica, that is a batch write on `plan`.
fn served<'a>(history: &'a [Entry], action: &Entry, plan: PlanId) -> &'a Event {
    history
        .iter()
        .filter(|e| e.seq > action.seq && e.by == action.by)
        .map(|e| &e.event)
        .find(|e| {
            matches!(e,
                Event::RunsCreated { plan: p, .. }
                | Event::TasksSkipped { plan: p, .. }
                | Event::RunsCanceled { plan: p, .. } if *p == plan)
        })
        .unwrap_or_else(|| panic!("no batch write after #{}", action.seq))
}

#[track_caller]
fn assert_empty_batches_change_nothing(database: Database) {
    let scenario = scenario();
    for strategy in StrategyKind::all() {
        let options = RunOptions { database: database.clone(), strategy: Some(strategy), seed: None };
        let run = run_scenario(&scenario, &options).unwrap_or_else(|e| panic!("{strategy}: {e}"));
        let report = hasim::report::text::scenario(&run);
        let history = &run.result.history;
        let (deploy, idle) = (plan_id(&run, "deploy"), plan_id(&run, "idle"));

        // Every empty request was issued, and the store answered it with an empty batch
        // in the plan's current episode.
        let empty: Vec<(&Entry, PlanId, &str)> = history
            .iter()
            .filter_map(|e| match &e.event {
                Event::UserAction { plan, action, tasks, .. } if tasks.is_empty() => {
                    Some((e, *plan, action.as_str()))
                }
                _ => None,
            })
            .collect();
        let issued: Vec<(PlanId, &str)> = empty.iter().map(|(_, plan, action)| (*plan, *action)).collect();
        let expected =
            [(idle, "run"), (deploy, "run"), (deploy, "skip"), (deploy, "cancel"), (deploy, "run")];
        assert_eq!(issued, expected, "{strategy}: {report}");
        for (action, plan, verb) in empty {
            let episode = if plan == deploy { 1 } else { 0 };
            match (verb, served(history, action, plan)) {
                ("run", Event::RunsCreated { runs, episode: e, .. }) => {
                    assert!(runs.is_empty() && *e == episode, "{strategy}: {runs:?} in episode {e}");
                }
                ("skip", Event::TasksSkipped { tasks, episode: e, .. }) => {
                    assert!(tasks.is_empty() && *e == episode, "{strategy}: {tasks:?} in episode {e}");
                }
                ("cancel", Event::RunsCanceled { canceled, running, .. }) => {
                    assert!(
                        canceled.is_empty() && running.is_empty(),
                        "{strategy}: {canceled:?} {running:?}"
                    );
                }
                (verb, event) => panic!("{strategy}: {verb} served by {event:?}"),
            }
        }

        // No task changed: deploy's two tasks ran once and are DONE in episode 1; idle
        // never ran anything and is still in episode 0.
        let mut states: Vec<(PlanId, u32, Vec<TaskAt>)> = run
            .result
            .final_state
            .iter()
            .map(|(id, s)| {
                let tasks =
                    s.tasks.iter().map(|t| (t.skipped, t.latest.as_ref().map(|r| (r.attempt, r.status))));
                (*id, s.episode, tasks.collect())
            })
            .collect();
        states.sort_by_key(|(id, _, _)| *id != deploy);
        let done = Some((1, RunStatus::Done));
        let expected = [(deploy, 1, vec![(false, done), (false, done)]), (idle, 0, vec![(false, None)])];
        assert_eq!(states, expected, "{strategy}: {report}");
        let runs_created = history
            .iter()
            .filter(|e| matches!(&e.event, Event::RunsCreated { runs, .. } if !runs.is_empty()));
        assert_eq!(runs_created.count(), 1, "{strategy}: only deploy's first run created runs");
        assert!(run.result.quiesced, "{strategy}: {report}");
        // Nothing new is owed. Only the in-memory design reacts to the empty skip as
        // to any skip, with a completion check on a replica that never announced.
        if strategy != StrategyKind::IN_MEMORY {
            let verdicts: Vec<(PlanId, EventType, u32, Verdict)> =
                run.result.report.events.iter().map(|e| (e.plan, e.event, e.episode, e.verdict)).collect();
            assert_eq!(verdicts, [(deploy, EventType::PipelineCompleted, 1, Verdict::Delivered)], "{report}");
            assert!(run.ok, "{report}");
        }
    }
}

#[test]
fn an_empty_task_list_reads_as_an_empty_batch_for_every_action() {
    let scenario = scenario();
    let actions: Vec<(ActionKind, Option<Vec<usize>>)> =
        scenario.spec.timeline.iter().map(|a| (a.action, a.tasks.clone())).collect();
    let none = Some(vec![]);
    assert_eq!(
        actions,
        [
            (ActionKind::Run, None),
            (ActionKind::Run, none.clone()),
            (ActionKind::Run, none.clone()),
            (ActionKind::Skip, none.clone()),
            (ActionKind::Cancel, none.clone()),
            (ActionKind::Run, none),
        ]
    );
}

#[test]
fn empty_batches_are_issued_logged_and_change_nothing_on_the_memory_store() {
    assert_empty_batches_change_nothing(Database::Memory);
}

#[test]
fn empty_batches_are_issued_logged_and_change_nothing_on_postgres() {
    assert_empty_batches_change_nothing(Database::Postgres {
        url: common::database_url(),
        keep_schema: false,
    });
}
