//! Tests of the checker on hand-written histories, built with [`H`].

mod delivery;
mod owed;
mod resolved;
mod robust;
mod sends;
mod stories;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::{CheckInput, EventReport, Report, Request, Verdict, check};
use crate::history::{Entry, Event, Seq};
use crate::model::{EventType, PlanId, ReplicaId, RunId, RunStatus, TaskId};
use crate::store::{Claim, LatestRun, NewRun, PlanState, RunRef, TaskStatus};

const F: EventType = EventType::PipelineFailed;
const C: EventType = EventType::PipelineCompleted;

/// Time between two consecutive entries.
const STEP: Duration = Duration::from_millis(10);

/// A task's runs in the builder's model: (run, attempt, status), oldest first.
type Runs = Vec<(RunId, i32, RunStatus)>;

/// A history builder: assigns seq, invoked and time, and keeps a model of the store
/// so that the final state and failed payloads come out consistent.
#[derive(Default)]
struct H {
    entries: Vec<Entry>,
    requests: Vec<Request>,
    now: Duration,
    by: Option<ReplicaId>,
    next_invoked: Option<Seq>,
    deadline: Option<Duration>,
    /// Per plan: tasks in order and the episode.
    plans: BTreeMap<PlanId, (Vec<TaskId>, u32)>,
    /// Per task: skipped, runs (run, attempt, status).
    tasks: BTreeMap<TaskId, (bool, Runs)>,
    last_run: i64,
    /// Failed tasks per (plan, episode).
    failed: HashMap<(PlanId, u32), Vec<TaskId>>,
    /// What each webhook id announces, and its attempts so far.
    sent: HashMap<String, (PlanId, EventType, u32, u32)>,
    /// Whether requests go without `webhook-id` ([`H::without_ids`]).
    omit_ids: bool,
    final_override: Option<Vec<(PlanId, PlanState)>>,
}

impl H {
    fn new() -> Self {
        H { by: Some(ReplicaId::nth(1)), deadline: Some(Duration::from_secs(5)), ..H::default() }
    }

    /// The seq the next entry gets (to pass to [`H::since`]).
    fn mark(&self) -> Seq {
        self.entries.len() as Seq
    }

    /// The replica that appends the next entries.
    fn on(&mut self, replica: &str) -> &mut Self {
        self.by = Some(ReplicaId(replica.into()));
        self
    }

    /// The next write was invoked at `invoked` (so it overlaps what came since).
    fn since(&mut self, invoked: Seq) -> &mut Self {
        self.next_invoked = Some(invoked);
        self
    }

    fn wait(&mut self, secs: f64) -> &mut Self {
        self.now += Duration::from_secs_f64(secs);
        self
    }

    fn wait_for(&mut self, d: Duration) -> &mut Self {
        self.now += d;
        self
    }

    fn deadline(&mut self, secs: u64) -> &mut Self {
        self.deadline = Some(Duration::from_secs(secs));
        self
    }

    fn push(&mut self, event: Event) -> Seq {
        self.now += STEP;
        let seq = self.mark();
        self.entries.push(Entry { seq, at: self.now, by: self.by.clone(), event });
        seq
    }

    /// `invoked` for a write logged now.
    fn invoked(&mut self) -> Seq {
        self.next_invoked.take().unwrap_or(self.mark())
    }

    fn created(&mut self, plan: i64, tasks: &[i64]) -> &mut Self {
        let tasks: Vec<TaskId> = tasks.iter().map(|t| TaskId(*t)).collect();
        for t in &tasks {
            self.tasks.insert(*t, (false, Vec::new()));
        }
        self.plans.insert(PlanId(plan), (tasks.clone(), 0));
        let invoked = self.invoked();
        self.push(Event::PlanCreated { plan: PlanId(plan), tasks, invoked });
        self
    }

    /// BatchRunTasks creating a run for each of `tasks` (all of them: the test says what changes).
    fn runs(&mut self, plan: i64, tasks: &[i64]) -> &mut Self {
        let mut runs = Vec::new();
        for t in tasks {
            self.last_run += 1;
            let task = self.tasks.get_mut(&TaskId(*t)).expect("task of a created plan");
            let attempt = task.1.len() as i32 + 1;
            task.1.push((RunId(self.last_run), attempt, RunStatus::Pending));
            runs.push(NewRun { run: RunId(self.last_run), task: TaskId(*t), attempt });
        }
        let episode = self.advance(plan, !runs.is_empty());
        let invoked = self.invoked();
        self.push(Event::RunsCreated { plan: PlanId(plan), runs, episode, invoked });
        self
    }

    fn advance(&mut self, plan: i64, changed: bool) -> u32 {
        let ep = &mut self.plans.get_mut(&PlanId(plan)).expect("created plan").1;
        *ep += u32::from(changed);
        *ep
    }

    fn latest(&mut self, task: i64) -> &mut (RunId, i32, RunStatus) {
        self.tasks.get_mut(&TaskId(task)).and_then(|t| t.1.last_mut()).expect("task has a run")
    }

    fn plan_of(&self, task: i64) -> PlanId {
        *self.plans.iter().find(|(_, (ts, _))| ts.contains(&TaskId(task))).expect("task of a plan").0
    }

    /// The pending scheduler makes `runs` AVAILABLE.
    fn promoted(&mut self, runs: &[i64]) -> &mut Self {
        let runs: Vec<RunId> = runs.iter().map(|r| RunId(*r)).collect();
        for (_, task_runs) in self.tasks.values_mut() {
            for run in task_runs.iter_mut().filter(|(id, _, _)| runs.contains(id)) {
                run.2 = RunStatus::Available;
            }
        }
        let invoked = self.invoked();
        self.push(Event::RunsPromoted { runs, invoked });
        self
    }

    /// The task's latest run is taken by the current replica.
    fn started(&mut self, task: i64) -> &mut Self {
        let plan = self.plan_of(task);
        let latest = self.latest(task);
        latest.2 = RunStatus::Running;
        let (run, attempt) = (latest.0, latest.1);
        let invoked = self.invoked();
        self.push(Event::RunStarted { run, task: TaskId(task), plan, attempt, invoked });
        self
    }

    fn ended(&mut self, task: i64, status: RunStatus, by_cleaner: bool) -> &mut Self {
        let plan = self.plan_of(task);
        let latest = self.latest(task);
        // A run that had ended already is overwritten, as an unfenced status write does.
        let overwrote = (!latest.2.is_open()).then_some(latest.2);
        latest.2 = status;
        let (run, attempt) = (latest.0, latest.1);
        if status == RunStatus::Failed {
            let ep = self.plans[&plan].1;
            self.failed.entry((plan, ep)).or_default().push(TaskId(task));
        }
        let error = (status == RunStatus::Failed).then(|| "boom".to_owned());
        let invoked = self.invoked();
        self.push(Event::RunEnded {
            run,
            task: TaskId(task),
            plan,
            attempt,
            status,
            overwrote,
            error,
            by_cleaner,
            invoked,
        });
        self
    }

    fn failed(&mut self, task: i64) -> &mut Self {
        self.ended(task, RunStatus::Failed, false)
    }

    fn done(&mut self, task: i64) -> &mut Self {
        self.ended(task, RunStatus::Done, false)
    }

    fn skip(&mut self, plan: i64, tasks: &[i64]) -> &mut Self {
        let mut changed = Vec::new();
        for t in tasks {
            let task = self.tasks.get_mut(&TaskId(*t)).expect("task");
            if !task.0 {
                task.0 = true;
                changed.push(TaskId(*t));
            }
        }
        let episode = self.advance(plan, !changed.is_empty());
        let invoked = self.invoked();
        self.push(Event::TasksSkipped { plan: PlanId(plan), tasks: changed, episode, invoked });
        self
    }

    fn cancel(&mut self, plan: i64, tasks: &[i64]) -> &mut Self {
        let mut canceled = Vec::new();
        for t in tasks {
            let latest = self.latest(*t);
            if matches!(latest.2, RunStatus::Pending | RunStatus::Available) {
                latest.2 = RunStatus::Canceled;
                canceled.push(RunRef { run: latest.0, task: TaskId(*t) });
            }
        }
        let invoked = self.invoked();
        self.push(Event::RunsCanceled { plan: PlanId(plan), canceled, running: Vec::new(), invoked });
        self
    }

    fn claim(&mut self, plan: i64, event: EventType, won: bool) -> &mut Self {
        let claim = if won { Claim::Won } else { Claim::Lost };
        let invoked = self.invoked();
        self.push(Event::ClaimAttempted { plan: PlanId(plan), event, claim, invoked });
        self
    }

    fn reset(&mut self, plan: i64, deleted: Option<EventType>) -> &mut Self {
        let invoked = self.invoked();
        self.push(Event::ClaimReset { plan: PlanId(plan), deleted, invoked });
        self
    }

    fn checked(&mut self, plan: i64, complete: bool, failed: bool) -> &mut Self {
        self.push(Event::CompletionChecked { plan: PlanId(plan), complete, failed });
        self
    }

    fn crash(&mut self, replica: &str, point: &str) -> &mut Self {
        self.push(Event::Crashed { replica: ReplicaId(replica.into()), point: Some(point.into()) });
        self
    }

    fn fault(&mut self, fault: usize, description: &str) -> &mut Self {
        self.push(Event::FaultStarted { fault, description: description.into() });
        self
    }

    /// The store's final state, from the builder's model.
    fn final_state(&self) -> Vec<(PlanId, PlanState)> {
        if let Some(state) = &self.final_override {
            return state.clone();
        }
        self.plans
            .iter()
            .map(|(plan, (tasks, episode))| {
                let tasks = tasks
                    .iter()
                    .map(|t| {
                        let (skipped, runs) = &self.tasks[t];
                        let latest = runs.last().map(|(run, attempt, status)| LatestRun {
                            run: *run,
                            attempt: *attempt,
                            status: *status,
                            error: None,
                        });
                        TaskStatus {
                            task: *t,
                            name: format!("t{t}"),
                            skipped: *skipped,
                            latest,
                            failed_in: Vec::new(),
                        }
                    })
                    .collect();
                (*plan, PlanState { project: "p".into(), title: "t".into(), episode: *episode, tasks })
            })
            .collect()
    }

    fn input(&self) -> CheckInput {
        CheckInput {
            history: self.entries.clone(),
            requests: self.requests.clone(),
            final_state: self.final_state(),
            deadline: self.deadline.unwrap_or(Duration::from_secs(5)),
            view: Default::default(),
            end: self.now + Duration::from_secs(1),
        }
    }

    fn check(&self) -> Report {
        check(&self.input())
    }
}

/// The report's event (plan, event, episode); panics with the whole report if absent.
fn event(report: &Report, plan: i64, event: EventType, episode: u32) -> &EventReport {
    report
        .events
        .iter()
        .find(|e| e.plan == PlanId(plan) && e.event == event && e.episode == episode)
        .unwrap_or_else(|| panic!("no {event} plan {plan} ep {episode} in {report:#?}"))
}

/// Asserts the verdict of (plan, event, episode), showing the report when it differs.
#[track_caller]
fn assert_verdict(report: &Report, plan: i64, ev: EventType, episode: u32, verdict: Verdict) -> &EventReport {
    let e = event(report, plan, ev, episode);
    assert_eq!(e.verdict, verdict, "{ev} plan {plan} ep {episode}: {}\n{report:#?}", e.witness.summary);
    e
}

/// Asserts the verdict of (plan, event, episode) and its whole witness summary.
#[track_caller]
fn assert_told(report: &Report, plan: i64, ev: EventType, episode: u32, verdict: Verdict, summary: &str) {
    let e = assert_verdict(report, plan, ev, episode, verdict);
    assert_eq!(e.witness.summary, summary);
}

/// Asserts the witness summary contains each of `parts`.
#[track_caller]
fn assert_says(e: &EventReport, parts: &[&str]) {
    for part in parts {
        assert!(e.witness.summary.contains(part), "witness lacks {part:?}: {}", e.witness.summary);
    }
}
