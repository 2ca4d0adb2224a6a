//! `[[reactions]]`: what the users do when something happens to a plan.

use toml::Spanned;

use crate::reactions::{Reaction, When, Which};
use crate::scenario::raw::*;
use crate::spec::{ActionKind, TimedAction};

use super::plans::Names;
use super::{Result, Validator};

/// `max` when the file gives none.
pub const DEFAULT_MAX: u32 = 1;

impl Validator<'_> {
    pub(super) fn reactions(
        &self,
        raw: &[Spanned<RawReaction>],
        names: &Names,
        timeline: &[TimedAction],
        replicas: usize,
    ) -> Result<Vec<Reaction>> {
        raw.iter()
            .enumerate()
            .map(|(i, r)| self.reaction(i, r.get_ref(), names, timeline, replicas))
            .collect()
    }

    fn reaction(
        &self,
        i: usize,
        r: &RawReaction,
        names: &Names,
        timeline: &[TimedAction],
        replicas: usize,
    ) -> Result<Reaction> {
        let key = |k: &str| format!("reactions[{i}].{k}");
        let when = When::ALL.into_iter().find(|w| w.as_str() == r.when.get_ref()).ok_or_else(|| {
            let known: Vec<&str> = When::ALL.iter().map(|w| w.as_str()).collect();
            self.err(
                &r.when,
                key("when"),
                format!("unknown trigger {:?} (known: {})", r.when.get_ref(), known.join(", ")),
            )
        })?;
        let plan = match &r.plan {
            None => None,
            Some(name) => {
                let plan = self.plan_index(name, key("plan"), names)?;
                if !timeline.iter().any(|a| a.plan == plan && a.action == ActionKind::Run) {
                    return Err(self.err(
                        name,
                        key("plan"),
                        format!(
                            "plan {:?} never runs, so nothing can happen to it: a plan is created by its \
                             first action = \"run\" in the timeline",
                            name.get_ref()
                        ),
                    ));
                }
                Some(plan)
            }
        };
        let action = match r.action.get_ref().as_str() {
            "retry" => ActionKind::Run,
            "skip" => ActionKind::Skip,
            "cancel" => ActionKind::Cancel,
            "run" => {
                return Err(self.err(
                    &r.action,
                    key("action"),
                    "a reaction acts on a plan that exists: write \"retry\" (the same request as run); \
                     known: retry, skip, cancel",
                ));
            }
            other => {
                return Err(self.err(
                    &r.action,
                    key("action"),
                    format!("unknown action {other:?} (known: retry, skip, cancel)"),
                ));
            }
        };
        let tasks = match (&r.tasks, when) {
            (None, When::TaskFailed) => Which::Failed,
            (None, When::PlanComplete) => Which::All,
            (Some(tasks), _) => match (tasks.get_ref().as_str(), when) {
                ("all", _) => Which::All,
                ("failed", When::TaskFailed) => Which::Failed,
                ("failed", When::PlanComplete) => {
                    return Err(self.err(
                        tasks,
                        key("tasks"),
                        "a complete plan has no failed task: write \"all\", or leave tasks out, \
                         with when = \"plan-complete\"",
                    ));
                }
                (other, _) => {
                    return Err(self.err(
                        tasks,
                        key("tasks"),
                        format!(
                            "unknown tasks {other:?}: write \"failed\" (the tasks that failed) or \"all\" \
                             (every task of the plan)"
                        ),
                    ));
                }
            },
        };
        let via = match &r.via {
            None => None,
            Some(via) if via.get_ref() == "any" => None,
            Some(via) => Some(self.replica(via, key("via"), replicas).map_err(|mut e| {
                e.message.push_str(", or \"any\" for round-robin");
                e
            })?),
        };
        let max = match &r.max {
            None => DEFAULT_MAX,
            Some(max) => self.int(max, &key("max"), 1..i64::from(u32::MAX), "max must be 1 or more")?,
        };
        Ok(Reaction { when, plan, action, tasks, after: r.after.get_ref().0, via, max })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::ReplicaId;
    use crate::reactions::{Reaction, When, Which};
    use crate::scenario::parse;
    use crate::spec::ActionKind;

    const BASE: &str = "name = \"n\"\ndescription = \"d\"\n\
        [[plans]]\nname = \"deploy\"\n[[plans.tasks]]\nname = \"t1\"\n\
        [[plans]]\nname = \"idle\"\n[[plans.tasks]]\nname = \"t1\"\n\
        [[timeline]]\nat = \"0ms\"\nplan = \"deploy\"\naction = \"run\"\n";

    fn reactions(extra: &str) -> Vec<Reaction> {
        parse("r.toml", &format!("{BASE}{extra}")).unwrap_or_else(|e| panic!("{e}")).spec.reactions
    }

    fn error(extra: &str) -> String {
        parse("r.toml", &format!("{BASE}{extra}")).unwrap_err().to_string()
    }

    #[test]
    fn defaults_retry_what_failed_once_round_robin() {
        let r = reactions("[[reactions]]\nwhen = \"task-failed\"\naction = \"retry\"\nafter = \"500ms\"\n");
        let expected = Reaction {
            when: When::TaskFailed,
            plan: None,
            action: ActionKind::Run,
            tasks: Which::Failed,
            after: Duration::from_millis(500),
            via: None,
            max: 1,
        };
        assert_eq!(r, [expected]);
    }

    #[test]
    fn every_key_reads() {
        let r = reactions(
            "[[reactions]]\nwhen = \"task-failed\"\nplan = \"deploy\"\naction = \"skip\"\ntasks = \"all\"\n\
             after = \"1s\"\nvia = \"r2\"\nmax = 3\n\
             [[reactions]]\nwhen = \"plan-complete\"\naction = \"cancel\"\nafter = \"0ms\"\nvia = \"any\"\n",
        );
        assert_eq!(
            (r[0].plan, r[0].action, r[0].tasks, r[0].max),
            (Some(0), ActionKind::Skip, Which::All, 3)
        );
        assert_eq!(r[0].via, Some(ReplicaId::nth(2)));
        assert_eq!((r[1].when, r[1].tasks, r[1].via.clone()), (When::PlanComplete, Which::All, None));
    }

    #[test]
    fn what_cannot_work_is_refused_with_its_key() {
        let rule = |k: &str| {
            format!("[[reactions]]\nwhen = \"task-failed\"\naction = \"retry\"\nafter = \"1ms\"\n{k}\n")
        };
        for (extra, expected) in [
            (rule("plan = \"idle\""), "reactions[0].plan: plan \"idle\" never runs"),
            (rule("via = \"r9\""), "or \"any\" for round-robin"),
            (rule("max = 0"), "reactions[0].max: 0 is out of range"),
            (rule("tasks = \"some\""), "reactions[0].tasks: unknown tasks \"some\""),
            (
                "[[reactions]]\nwhen = \"plan-complete\"\naction = \"retry\"\nafter = \"1ms\"\ntasks = \"failed\"\n"
                    .to_owned(),
                "a complete plan has no failed task",
            ),
            (
                "[[reactions]]\nwhen = \"task-failed\"\naction = \"run\"\nafter = \"1ms\"\n".to_owned(),
                "write \"retry\"",
            ),
        ] {
            let e = error(&extra);
            assert!(e.contains(expected), "{extra}: {e}");
        }
    }
}
