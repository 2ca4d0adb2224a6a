//! [`Watch`]: what the user has seen of the plans, and which reactions that fires.
//!
//! The director shows it a look at every created plan once per tick (each plan's
//! state as the store holds it) and, when a reaction is due, a fresh look at that
//! plan. A failed run triggers at most one reaction of each rule: a run is new to
//! the user once, whatever the rules do with it. A rule waiting to act on a plan does
//! not fire again for it; the failures seen meanwhile are in the fresh look it acts
//! on. A rule acts at most `max` times per plan.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{PlanId, RunId, TaskState};
use crate::store::PlanState;

use super::{Reaction, When, Which};

/// A reaction that fired: rule `rule` for the `plan`-th plan, created as `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firing {
    /// The rule, by position in the scenario's reactions.
    pub rule: usize,
    /// The plan, by position in the scenario's plans.
    pub plan: usize,
    /// The plan's id.
    pub id: PlanId,
}

/// What the user does once a fired reaction's time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// Send the rule's action naming these tasks (positions; `None`: every task).
    Act(Option<Vec<usize>>),
    /// Nothing: no task the action would name has failed any more.
    Pass,
}

/// The user's memory of the plans and of the reactions so far.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    rules: Vec<Reaction>,
    /// Failed runs the user has seen.
    seen_failed: BTreeSet<RunId>,
    /// Plans the user has seen complete.
    seen_complete: BTreeSet<PlanId>,
    /// Actions taken, or fired and not yet decided, per (rule, plan).
    taken: BTreeMap<(usize, PlanId), u32>,
    /// (rule, plan) pairs fired whose action has not been decided yet.
    waiting: BTreeSet<(usize, PlanId)>,
}

impl Watch {
    /// A watch over `rules`.
    pub fn new(rules: Vec<Reaction>) -> Self {
        Watch { rules, ..Watch::default() }
    }

    /// Whether there is nothing to watch for.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rule `index`.
    pub fn rule(&self, index: usize) -> &Reaction {
        &self.rules[index]
    }

    /// One look at the created plans, each as (position in the scenario, id, state),
    /// in the order they were created: the reactions it fires, plan by plan and, for
    /// a plan, in rule order.
    pub fn look(&mut self, plans: &[(usize, PlanId, PlanState)]) -> Vec<Firing> {
        let mut firings = Vec::new();
        for (plan, id, state) in plans {
            let mut failed = false;
            for task in &state.tasks {
                if let Some(run) = task.latest.as_ref().filter(|_| task.state() == TaskState::Failed) {
                    failed |= self.seen_failed.insert(run.run);
                }
            }
            let complete = is_complete(state) && self.seen_complete.insert(*id);
            for (rule, reaction) in self.rules.iter().enumerate() {
                let triggered = match reaction.when {
                    When::TaskFailed => failed,
                    When::PlanComplete => complete,
                };
                let key = (rule, *id);
                let taken = self.taken.get(&key).copied().unwrap_or(0);
                if !triggered || !reaction.watches(*plan) || taken >= reaction.max {
                    continue;
                }
                if self.waiting.insert(key) {
                    self.taken.insert(key, taken + 1);
                    firings.push(Firing { rule, plan: *plan, id: *id });
                }
            }
        }
        firings
    }

    /// The fresh look `state` at the plan of `firing`, when its time has come: what
    /// the user does. A move that passes does not count toward the rule's `max`.
    pub fn act(&mut self, firing: &Firing, state: &PlanState) -> Move {
        let key = (firing.rule, firing.id);
        self.waiting.remove(&key);
        let mut failed = Vec::new();
        for (position, task) in state.tasks.iter().enumerate() {
            if let Some(run) = task.latest.as_ref().filter(|_| task.state() == TaskState::Failed) {
                self.seen_failed.insert(run.run);
                failed.push(position);
            }
        }
        match self.rules[firing.rule].tasks {
            Which::All => Move::Act(None),
            Which::Failed if !failed.is_empty() => Move::Act(Some(failed)),
            Which::Failed => {
                self.refund(key);
                Move::Pass
            }
        }
    }

    /// The fresh look at the plan of `firing` could not be had: the user does
    /// nothing, and the reaction does not count.
    pub fn abandon(&mut self, firing: &Firing) {
        let key = (firing.rule, firing.id);
        if self.waiting.remove(&key) {
            self.refund(key);
        }
    }

    fn refund(&mut self, key: (usize, PlanId)) {
        if let Some(taken) = self.taken.get_mut(&key) {
            *taken = taken.saturating_sub(1);
        }
    }
}

/// Whether every task of the plan is done or skipped.
fn is_complete(state: &PlanState) -> bool {
    !state.tasks.is_empty() && state.tasks.iter().all(|t| t.state().is_complete())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{RunStatus, TaskId};
    use crate::spec::ActionKind;
    use crate::store::{LatestRun, TaskStatus};

    fn rule(when: When, plan: Option<usize>, tasks: Which, max: u32) -> Reaction {
        let after = Duration::from_millis(300);
        Reaction { when, plan, action: ActionKind::Run, tasks, after, via: None, max }
    }

    /// A plan whose tasks' latest runs are `latest` (run id, status); `None`: no run.
    fn state(latest: &[Option<(i64, RunStatus)>]) -> PlanState {
        let tasks = latest
            .iter()
            .enumerate()
            .map(|(i, run)| TaskStatus {
                task: TaskId(i as i64 + 1),
                name: format!("t{}", i + 1),
                skipped: false,
                latest: run.map(|(run, status)| LatestRun {
                    run: RunId(run),
                    attempt: 1,
                    status,
                    error: None,
                }),
                failed_in: Vec::new(),
            })
            .collect();
        PlanState { project: "demo".into(), title: "deploy".into(), episode: 1, tasks }
    }

    use RunStatus::{Done, Failed, Running};
    const DEPLOY: PlanId = PlanId(7);

    #[test]
    fn a_new_failure_fires_once_and_the_user_names_the_failed_tasks() {
        let mut watch = Watch::new(vec![rule(When::TaskFailed, None, Which::Failed, 3)]);
        assert!(watch.look(&[(0, DEPLOY, state(&[Some((1, Running)), None]))]).is_empty());
        let failed = state(&[Some((1, Failed)), Some((2, Done))]);
        let firings = watch.look(&[(0, DEPLOY, failed.clone())]);
        assert_eq!(firings, [Firing { rule: 0, plan: 0, id: DEPLOY }]);
        assert!(watch.look(&[(0, DEPLOY, failed.clone())]).is_empty(), "the same failure, seen again");
        assert_eq!(watch.act(&firings[0], &failed), Move::Act(Some(vec![0])));
        assert!(watch.look(&[(0, DEPLOY, failed)]).is_empty(), "acted on; no new failure since");
    }

    #[test]
    fn failures_seen_while_waiting_join_the_action_and_fire_nothing_more() {
        let mut watch = Watch::new(vec![rule(When::TaskFailed, None, Which::Failed, 5)]);
        let firing = watch.look(&[(0, DEPLOY, state(&[Some((1, Failed)), Some((2, Running))]))]);
        let both = state(&[Some((1, Failed)), Some((2, Failed))]);
        assert!(watch.look(&[(0, DEPLOY, both.clone())]).is_empty(), "the rule is waiting");
        assert_eq!(watch.act(&firing[0], &both), Move::Act(Some(vec![0, 1])));
        let again = state(&[Some((3, Failed)), Some((2, Failed))]);
        assert_eq!(watch.look(&[(0, DEPLOY, again)]).len(), 1, "run 3 is a new failure");
    }

    #[test]
    fn a_rule_acts_at_most_max_times_per_plan() {
        let mut watch = Watch::new(vec![rule(When::TaskFailed, None, Which::Failed, 2)]);
        let mut acted = 0;
        let mut other = 0;
        for run in 1..=5 {
            let (deploy, hotfix) = (state(&[Some((run, Failed))]), state(&[Some((run + 100, Failed))]));
            for firing in watch.look(&[(0, DEPLOY, deploy.clone()), (1, PlanId(8), hotfix.clone())]) {
                let failed = if firing.id == DEPLOY { &deploy } else { &hotfix };
                *(if firing.id == DEPLOY { &mut acted } else { &mut other }) += 1;
                assert!(matches!(watch.act(&firing, failed), Move::Act(_)));
            }
        }
        assert_eq!((acted, other), (2, 2), "two per plan, each plan its own two");
    }

    #[test]
    fn a_rule_for_another_plan_does_not_fire() {
        let mut watch = Watch::new(vec![rule(When::TaskFailed, Some(1), Which::Failed, 1)]);
        assert!(watch.look(&[(0, DEPLOY, state(&[Some((1, Failed))]))]).is_empty());
        let firings = watch.look(&[(1, PlanId(8), state(&[Some((2, Failed))]))]);
        assert_eq!(firings, [Firing { rule: 0, plan: 1, id: PlanId(8) }]);
    }

    #[test]
    fn a_reaction_with_nothing_left_to_act_on_passes_and_does_not_count() {
        let mut watch = Watch::new(vec![rule(When::TaskFailed, None, Which::Failed, 1)]);
        let firing = watch.look(&[(0, DEPLOY, state(&[Some((1, Failed))]))]);
        assert_eq!(watch.act(&firing[0], &state(&[Some((2, Running))])), Move::Pass, "retried meanwhile");
        assert_eq!(watch.look(&[(0, DEPLOY, state(&[Some((3, Failed))]))]).len(), 1, "max is still 1");
        let firing = watch.look(&[(0, DEPLOY, state(&[Some((4, Failed))]))]);
        assert!(firing.is_empty(), "waiting on the last firing");
    }

    #[test]
    fn an_abandoned_reaction_does_not_count() {
        let mut watch = Watch::new(vec![rule(When::TaskFailed, None, Which::All, 1)]);
        let firing = watch.look(&[(0, DEPLOY, state(&[Some((1, Failed))]))]);
        watch.abandon(&firing[0]);
        let firing = watch.look(&[(0, DEPLOY, state(&[Some((2, Failed))]))]);
        assert_eq!(watch.act(&firing[0], &state(&[Some((2, Failed))])), Move::Act(None), "all: every task");
    }

    #[test]
    fn completion_fires_once_per_plan_and_names_every_task() {
        let mut watch = Watch::new(vec![rule(When::PlanComplete, None, Which::All, 3)]);
        assert!(watch.look(&[(0, DEPLOY, state(&[Some((1, Done)), Some((2, Failed))]))]).is_empty());
        let complete = state(&[Some((1, Done)), Some((3, Done))]);
        let firing = watch.look(&[(0, DEPLOY, complete.clone())]);
        assert_eq!(firing.len(), 1);
        assert_eq!(watch.act(&firing[0], &complete), Move::Act(None));
        assert!(watch.look(&[(0, DEPLOY, complete)]).is_empty(), "a plan completes once");
    }

    #[test]
    fn a_skipped_task_is_no_failure() {
        let mut watch = Watch::new(vec![rule(When::TaskFailed, None, Which::Failed, 1)]);
        let mut skipped = state(&[Some((1, Failed)), Some((2, Done))]);
        skipped.tasks[0].skipped = true;
        assert!(watch.look(&[(0, DEPLOY, skipped)]).is_empty());
    }
}
