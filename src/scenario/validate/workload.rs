//! `[[workload]]`: a day's load in a few lines. Each entry is a plan template with a
//! count; its plans are named `<name>-0001`, `<name>-0002`, ... and each is run once,
//! at a moment drawn from the scenario's seed: uniformly over a window (`over`) or as
//! arrivals at a rate (`rate`, plans per second, exponential gaps). The draw is the
//! same for the same file and seed, so a workload replays like any other scenario.
//! What the users do next (retry what failed, skip it) is said by `[[reactions]]`.

use std::collections::HashMap;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use toml::Spanned;

use crate::scenario::duration::Humane;
use crate::scenario::raw::*;
use crate::script::{PlanScript, TaskScript};
use crate::spec::{ActionKind, TimedAction};

use super::{DEFAULT_PROJECT, Result, Validator};

/// Most plans one workload entry may make.
pub const MAX_PLANS: i64 = 100_000;
/// Most tasks a workload plan may have.
pub const MAX_TASKS: i64 = 1_000;
/// The plans' name prefix when the entry gives none.
pub const DEFAULT_NAME: &str = "plan";
/// Mixed into the seed so that arrivals do not share draws with task outcomes.
const ARRIVALS: u64 = 0x5741_524b_4c4f_4144;

/// A plan a workload made: its script, its tasks' positions by name, and when it runs.
pub(super) struct MadePlan {
    pub(super) script: PlanScript,
    pub(super) tasks: HashMap<String, usize>,
    pub(super) at: Duration,
}

impl Validator<'_> {
    /// The plans of workload entry `w`, in the order they start.
    pub(super) fn workload(
        &self,
        w: usize,
        raw: &Spanned<RawWorkload>,
        seed: u64,
        max_duration: Duration,
    ) -> Result<Vec<MadePlan>> {
        let entry = raw.get_ref();
        let key = |k: &str| format!("workload[{w}].{k}");
        let count: usize = self.int(&entry.plans, &key("plans"), 1..MAX_PLANS + 1, "1 to 100000 plans")?;
        let name = match &entry.name {
            None => DEFAULT_NAME.to_owned(),
            Some(n) => self.non_empty(n, key("name"))?,
        };
        let project = match &entry.project {
            None => DEFAULT_PROJECT.to_owned(),
            Some(p) => self.non_empty(p, key("project"))?,
        };
        let tasks: usize = match &entry.tasks {
            None => 1,
            Some(n) => self.int(n, &key("tasks"), 1..MAX_TASKS + 1, "1 to 1000 tasks per plan")?,
        };
        let duration = self.duration_range(entry.duration.as_ref(), &key("duration"))?;
        let failure_probability =
            self.probability(entry.failure_probability.as_ref(), &key("failure_probability"))?;
        let starts = self.arrivals(w, entry, count, seed, max_duration)?;

        let task_width = digits(tasks);
        let template: Vec<TaskScript> = (1..=tasks)
            .map(|t| TaskScript {
                name: format!("t{t:0task_width$}"),
                attempts: Vec::new(),
                failure_probability,
                duration,
            })
            .collect();
        let positions: HashMap<String, usize> =
            template.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
        let width = digits(count);
        Ok(starts
            .into_iter()
            .enumerate()
            .map(|(k, at)| MadePlan {
                script: PlanScript {
                    name: format!("{name}-{:0width$}", k + 1),
                    project: project.clone(),
                    tasks: template.clone(),
                },
                tasks: positions.clone(),
                at,
            })
            .collect())
    }

    /// When each of the `count` plans starts, in order.
    fn arrivals(
        &self,
        w: usize,
        entry: &RawWorkload,
        count: usize,
        seed: u64,
        max_duration: Duration,
    ) -> Result<Vec<Duration>> {
        let key = |k: &str| format!("workload[{w}].{k}");
        let start = match &entry.start {
            None => Duration::ZERO,
            Some(s) => self.moment(s, &key("start"), max_duration)?,
        };
        let mut rng =
            ChaCha8Rng::seed_from_u64(seed ^ ARRIVALS ^ (w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        match (&entry.over, &entry.rate) {
            (Some(_), Some(rate)) => {
                Err(self.err(rate, key("rate"), "give over (a window) or rate (plans per second), not both"))
            }
            (None, None) => Err(self.err_span(
                entry.plans.span(),
                key("over"),
                "a workload needs its plans' start: over = \"10s\" (at random moments in a window) \
                 or rate = 100 (plans per second)",
            )),
            (Some(over), None) => {
                let window = over.get_ref().0;
                if window.is_zero() {
                    return Err(self.err(over, key("over"), "must be more than 0"));
                }
                let end = start.saturating_add(window);
                if end > max_duration {
                    return Err(self.err(
                        over,
                        key("over"),
                        format!(
                            "the window ends at {}, after max_duration ({}): shorten it or raise max_duration",
                            Humane(end),
                            Humane(max_duration)
                        ),
                    ));
                }
                let micros = window.as_micros() as u64;
                let mut starts: Vec<Duration> = (0..count)
                    .map(|_| start + Duration::from_micros(rng.random_range(0..micros.max(1))))
                    .collect();
                starts.sort();
                Ok(starts)
            }
            (None, Some(rate)) => {
                let per_second = *rate.get_ref();
                if !(per_second.is_finite() && per_second > 0.0) {
                    return Err(self.err(
                        rate,
                        key("rate"),
                        format!("{per_second} plans per second: must be more than 0"),
                    ));
                }
                let mut at = start;
                let mut starts = Vec::with_capacity(count);
                for _ in 0..count {
                    let u: f64 = rng.random_range(0.0..1.0);
                    let gap = -(1.0 - u).ln() / per_second;
                    at += Duration::from_micros((gap * 1e6) as u64);
                    starts.push(at);
                }
                let last = *starts.last().expect("at least one plan");
                if last >= max_duration {
                    return Err(self.err(
                        rate,
                        key("rate"),
                        format!(
                            "at {per_second} plans per second the last of {count} plans starts at \
                             {:.1}s, not before max_duration ({}): raise the rate or max_duration",
                            last.as_secs_f64(),
                            Humane(max_duration)
                        ),
                    ));
                }
                Ok(starts)
            }
        }
    }
}

/// The runs of the plans a workload made, as timeline actions.
pub(super) fn runs(first_plan: usize, made: &[MadePlan]) -> impl Iterator<Item = TimedAction> + '_ {
    made.iter().enumerate().map(move |(k, plan)| TimedAction {
        at: plan.at,
        plan: first_plan + k,
        action: ActionKind::Run,
        tasks: None,
        via: None,
    })
}

/// Decimal digits of `n` (at least 2, so names sort the same at any count from 10 up).
fn digits(n: usize) -> usize {
    n.to_string().len().max(2)
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    fn scenario(workload: &str) -> String {
        format!("name = \"w\"\ndescription = \"d\"\nmax_duration = \"20s\"\n[[workload]]\n{workload}\n")
    }

    #[test]
    fn a_workload_makes_named_plans_that_run_in_order_inside_their_window() {
        let s = parse("w.toml", &scenario("plans = 12\ntasks = 3\nover = \"2s\"\nstart = \"1s\"")).unwrap();
        let names: Vec<&str> = s.spec.plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.first(), Some(&"plan-01"));
        assert_eq!(names.last(), Some(&"plan-12"));
        assert!(s.spec.plans.iter().all(|p| p.tasks.len() == 3 && p.tasks[2].name == "t03"));
        let times: Vec<_> = s.spec.timeline.iter().map(|a| a.at).collect();
        assert_eq!(s.spec.timeline.iter().map(|a| a.plan).collect::<Vec<_>>(), (0..12).collect::<Vec<_>>());
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        assert!(times.iter().all(|t| t.as_millis() >= 1000 && t.as_millis() < 3000), "{times:?}");
    }

    #[test]
    fn arrivals_follow_the_seed() {
        let at = |seed: u64| {
            let text = scenario("plans = 50\nrate = 20.0")
                .replace("max_duration", &format!("seed = {seed}\nmax_duration"));
            parse("w.toml", &text).unwrap().spec.timeline.iter().map(|a| a.at).collect::<Vec<_>>()
        };
        assert_eq!(at(3), at(3));
        assert_ne!(at(3), at(4));
        // 50 arrivals at 20 per second take about 2.5 s; far from 0.25 s or 25 s.
        let last = at(3).last().unwrap().as_secs_f64();
        assert!((0.8..8.0).contains(&last), "{last}");
    }

    #[test]
    fn workload_plans_can_be_named_by_the_rest_of_the_file() {
        let text = scenario("plans = 3\nname = \"nightly\"\nover = \"1s\"")
            + "[[expect]]\nplan = \"nightly-03\"\npass = true\n"
            + "[[timeline]]\nat = \"5s\"\nplan = \"nightly-02\"\naction = \"retry\"\n";
        let s = parse("w.toml", &text).unwrap();
        assert_eq!(s.expectations[0].plan, Some(2));
        assert_eq!(s.spec.timeline.iter().filter(|a| a.plan == 1).count(), 2);
    }

    #[test]
    fn bad_workloads_are_refused_with_their_key() {
        for (workload, key, says) in [
            ("plans = 0\nover = \"1s\"", "workload[0].plans", "1 to 100000"),
            ("plans = 3", "workload[0].over", "a workload needs"),
            ("plans = 3\nover = \"1s\"\nrate = 5.0", "workload[0].rate", "not both"),
            ("plans = 3\nover = \"30s\"", "workload[0].over", "after max_duration"),
            ("plans = 3\nrate = 0.0", "workload[0].rate", "must be more than 0"),
            ("plans = 1000\nrate = 10.0", "workload[0].rate", "not before max_duration"),
            ("plans = 3\nover = \"1s\"\ntasks = 0", "workload[0].tasks", "1 to 1000"),
            (
                "plans = 3\nover = \"1s\"\nfailure_probability = 2.0",
                "workload[0].failure_probability",
                "not a probability",
            ),
            ("plans = 3\nover = \"1s\"\nduration = [\"9ms\", \"1ms\"]", "workload[0].duration", "backwards"),
        ] {
            let err = parse("w.toml", &scenario(workload)).unwrap_err();
            assert_eq!(err.key, key, "{workload}: {err}");
            assert!(err.message.contains(says), "{workload}: {err}");
        }
    }
}
