//! `[[plans]]` and their tasks, and the lookups by name that the timeline, faults
//! and expectations share: a replica by id, a plan by name.

use std::collections::HashMap;
use std::time::Duration;

use toml::Spanned;

use crate::model::ReplicaId;
use crate::scenario::duration::{Humane, RawDurationRange};
use crate::scenario::raw::*;
use crate::script::{Attempt, PlanScript, TaskScript};
use crate::store::RunOutcome;

use super::{DEFAULT_PROJECT, DEFAULT_TASK_DURATION, Result, Validator};

/// Plans an "unknown plan" message lists before it says how many more there are.
const LISTED: usize = 10;

/// What the timeline and faults need to know about a plan.
pub(super) struct PlanNames {
    pub(super) index: usize,
    pub(super) tasks: HashMap<String, usize>,
}

/// Every plan by name.
pub(super) type Names = HashMap<String, PlanNames>;

impl Validator<'_> {
    pub(super) fn plan(
        &self,
        i: usize,
        plan: &Spanned<RawPlan>,
    ) -> Result<(PlanScript, HashMap<String, usize>)> {
        let raw = plan.get_ref();
        let name = self.non_empty(&raw.name, format!("plans[{i}].name"))?;
        let project = match &raw.project {
            None => DEFAULT_PROJECT.to_owned(),
            Some(p) => self.non_empty(p, format!("plans[{i}].project"))?,
        };
        let tasks_raw = match &raw.tasks {
            Some(tasks) if !tasks.get_ref().is_empty() => tasks.get_ref(),
            Some(tasks) => {
                return Err(self.err(tasks, format!("plans[{i}].tasks"), "a plan needs at least one task"));
            }
            None => {
                return Err(self.err(
                    plan,
                    format!("plans[{i}].tasks"),
                    format!("plan {name:?} has no tasks: add a [[plans.tasks]] table under it"),
                ));
            }
        };
        let mut positions = HashMap::new();
        let mut tasks = Vec::new();
        for (j, task) in tasks_raw.iter().enumerate() {
            let key = format!("plans[{i}].tasks[{j}]");
            let script = self.task(&key, task.get_ref())?;
            let task_name = task.get_ref().name.get_ref().as_str();
            if positions.insert(task_name.to_owned(), j).is_some() {
                return Err(self.err(
                    &task.get_ref().name,
                    format!("{key}.name"),
                    format!(
                        "duplicate task name {task_name:?}: task names must be unique within plan {name:?}"
                    ),
                ));
            }
            tasks.push(script);
        }
        Ok((PlanScript { name, project, tasks }, positions))
    }

    pub(super) fn task(&self, key: &str, raw: &RawTask) -> Result<TaskScript> {
        let name = self.non_empty(&raw.name, format!("{key}.name"))?;
        let duration = self.duration_range(raw.duration.as_ref(), &format!("{key}.duration"))?;
        let failure_probability =
            self.probability(raw.failure_probability.as_ref(), &format!("{key}.failure_probability"))?;
        let mut attempts = Vec::new();
        if let Some(list) = &raw.attempts {
            for (n, attempt) in list.get_ref().iter().enumerate() {
                let key = format!("{key}.attempts[{n}]");
                let raw = attempt.get_ref();
                let outcome = match (raw.outcome.get_ref().as_str(), &raw.error) {
                    ("done", None) => RunOutcome::Done,
                    ("done", Some(error)) => {
                        return Err(self.err(
                            error,
                            format!("{key}.error"),
                            "a done attempt has no error; use outcome = \"failed\" to fail with it",
                        ));
                    }
                    ("failed", error) => RunOutcome::Failed {
                        error: match error {
                            Some(error) => error.get_ref().clone(),
                            None => format!("{name} failed on attempt {}", n + 1),
                        },
                    },
                    (other, _) => {
                        return Err(self.err(
                            &raw.outcome,
                            format!("{key}.outcome"),
                            format!("unknown outcome {other:?} (known: done, failed)"),
                        ));
                    }
                };
                attempts.push(Attempt { outcome, duration: raw.after.get_ref().0 });
            }
        }
        Ok(TaskScript { name, attempts, failure_probability, duration })
    }

    /// A task's duration, one or a range (`[low, high]`); the default when absent.
    pub(super) fn duration_range(
        &self,
        d: Option<&Spanned<RawDurationRange>>,
        key: &str,
    ) -> Result<(Duration, Duration)> {
        Ok(match d {
            None => (DEFAULT_TASK_DURATION, DEFAULT_TASK_DURATION),
            Some(d) => match *d.get_ref() {
                RawDurationRange::One(d) => (d, d),
                RawDurationRange::Range(low, high) if low <= high => (low, high),
                RawDurationRange::Range(low, high) => {
                    return Err(self.err(
                        d,
                        key,
                        format!(
                            "the range [{}, {}] is backwards: write [low, high]",
                            Humane(low),
                            Humane(high)
                        ),
                    ));
                }
            },
        })
    }

    /// A failure probability, 0 when absent.
    pub(super) fn probability(&self, p: Option<&Spanned<f64>>, key: &str) -> Result<f64> {
        let Some(p) = p else { return Ok(0.0) };
        let value = *p.get_ref();
        if !(0.0..=1.0).contains(&value) {
            return Err(self.err(
                p,
                key,
                format!("{value} is not a probability: it must be between 0 and 1"),
            ));
        }
        Ok(value)
    }

    pub(super) fn replica(&self, s: &Str, key: impl Into<String>, replicas: usize) -> Result<ReplicaId> {
        if (1..=replicas).any(|n| ReplicaId::nth(n).as_str() == s.get_ref()) {
            return Ok(ReplicaId(s.get_ref().clone()));
        }
        let known = if replicas == 1 { "r1".to_owned() } else { format!("r1..r{replicas}") };
        let count = if replicas == 1 { "1 replica".to_owned() } else { format!("{replicas} replicas") };
        Err(self.err(
            s,
            key,
            format!("unknown replica {:?}: this scenario has {count}, {known}", s.get_ref()),
        ))
    }

    pub(super) fn plan_index(&self, s: &Str, key: impl Into<String>, names: &Names) -> Result<usize> {
        names.get(s.get_ref().as_str()).map(|p| p.index).ok_or_else(|| {
            let mut known: Vec<(&usize, &String)> = names.iter().map(|(n, p)| (&p.index, n)).collect();
            known.sort();
            let mut listed: Vec<String> = known.iter().take(LISTED).map(|(_, n)| format!("{n:?}")).collect();
            if known.len() > LISTED {
                listed.push(format!("and {} more", known.len() - LISTED));
            }
            self.err(s, key, format!("unknown plan {:?} (plans: {})", s.get_ref(), listed.join(", ")))
        })
    }
}
