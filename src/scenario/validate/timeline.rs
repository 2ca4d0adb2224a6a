//! `[[timeline]]`: the user actions, each at a moment of the run.

use std::collections::HashMap;
use std::time::Duration;

use toml::Spanned;

use crate::scenario::duration::Humane;
use crate::scenario::raw::*;
use crate::spec::{ActionKind, TimedAction};

use super::plans::Names;
use super::{Result, Validator};

impl Validator<'_> {
    pub(super) fn timeline(
        &self,
        raw: &[Spanned<RawAction>],
        names: &Names,
        generated: &[TimedAction],
        replicas: usize,
        max_duration: Duration,
    ) -> Result<Vec<TimedAction>> {
        let mut timeline = Vec::new();
        for (i, entry) in raw.iter().enumerate() {
            let key = |k: &str| format!("timeline[{i}].{k}");
            let a = entry.get_ref();
            let at = self.moment(&a.at, &key("at"), max_duration)?;
            let plan_name = a.plan.get_ref().as_str();
            let plan = self.plan_index(&a.plan, key("plan"), names)?;
            let action = match a.action.get_ref().as_str() {
                "run" | "retry" => ActionKind::Run,
                "skip" => ActionKind::Skip,
                "cancel" => ActionKind::Cancel,
                other => {
                    return Err(self.err(
                        &a.action,
                        key("action"),
                        format!("unknown action {other:?} (known: run, retry, skip, cancel)"),
                    ));
                }
            };
            // `tasks = []` is the request with no task (an empty batch), for every
            // action: it is what the server would be sent, and changes nothing.
            let tasks = match &a.tasks {
                None => None,
                Some(list) => {
                    let known = &names[plan_name].tasks;
                    let mut positions = Vec::new();
                    for (j, task) in list.get_ref().iter().enumerate() {
                        let Some(&position) = known.get(task.get_ref().as_str()) else {
                            let mut names: Vec<(&usize, &String)> =
                                known.iter().map(|(n, p)| (p, n)).collect();
                            names.sort();
                            let names: Vec<String> =
                                names.into_iter().map(|(_, n)| format!("{n:?}")).collect();
                            return Err(self.err(
                                task,
                                format!("timeline[{i}].tasks[{j}]"),
                                format!(
                                    "unknown task {:?} in plan {plan_name:?} (tasks: {})",
                                    task.get_ref(),
                                    names.join(", ")
                                ),
                            ));
                        };
                        if positions.contains(&position) {
                            return Err(self.err(
                                task,
                                format!("timeline[{i}].tasks[{j}]"),
                                format!("task {:?} is listed twice", task.get_ref()),
                            ));
                        }
                        positions.push(position);
                    }
                    Some(positions)
                }
            };
            let via = match &a.via {
                None => None,
                Some(via) => Some(self.replica(via, key("via"), replicas)?),
            };
            timeline.push(TimedAction { at, plan, action, tasks, via });
        }
        // A plan exists once its first `run` created it (a workload's run or the
        // timeline's): every other action on it must come strictly after that.
        let mut first_run: HashMap<usize, Duration> = HashMap::new();
        let written_runs =
            raw.iter().zip(&timeline).filter(|(r, _)| r.get_ref().action.get_ref() == "run").map(|(_, a)| a);
        for run in generated.iter().chain(written_runs) {
            first_run.entry(run.plan).and_modify(|at| *at = (*at).min(run.at)).or_insert(run.at);
        }
        for (i, (entry, action)) in raw.iter().zip(&timeline).enumerate() {
            let a = entry.get_ref();
            if a.action.get_ref() == "run" {
                continue;
            }
            let verb = a.action.get_ref();
            let plan_name = a.plan.get_ref();
            match first_run.get(&action.plan) {
                None => {
                    return Err(self.err(
                        &a.action,
                        format!("timeline[{i}].action"),
                        format!(
                            "{verb} of plan {plan_name:?}, which never runs: the plan is created by its \
                             first action = \"run\"; add one before this"
                        ),
                    ));
                }
                Some(&first) if first >= action.at => {
                    return Err(self.err(
                        &a.at,
                        format!("timeline[{i}].at"),
                        format!(
                            "a {verb} must come after the first run of plan {plan_name:?} (at {}), which \
                             creates it; this one is at {}",
                            Humane(first),
                            Humane(action.at)
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(timeline)
    }
}
