//! From the file as written ([`RawScenario`]) to a [`Scenario`] ready to run: names
//! resolved to indices, defaults filled in, and everything that cannot make sense
//! refused with the key and position of the offending value.

mod cluster;
mod database;
mod endpoint;
mod expect;
mod fault_kind;
mod faults;
mod plans;
mod policy;
mod reactions;
mod timeline;
mod when;
mod workload;

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::duration::Humane;
use super::error::{ScenarioError, Source};
use super::raw::*;
use super::{ClaimCheck, Scenario, Target};
use crate::spec::ClusterSpec;
use crate::strategy::StrategyKind;
use plans::{Names, PlanNames};

type Result<T> = std::result::Result<T, ScenarioError>;

pub use crate::spec::{DEFAULT_DEADLINE, DEFAULT_MAX_DURATION, DEFAULT_PROJECT, DEFAULT_SEED};

/// Most replicas a scenario may ask for.
pub const MAX_REPLICAS: i64 = 32;
/// A task's duration when the file gives none.
pub const DEFAULT_TASK_DURATION: Duration = Duration::from_millis(40);
/// The built-in receiver's answer when the file gives none.
pub const DEFAULT_STATUS: u16 = 200;

/// Validates `raw`, read from `src`.
pub(crate) fn validate(src: Source<'_>, raw: RawScenario) -> Result<Scenario> {
    Validator { src }.scenario(raw)
}

struct Validator<'a> {
    src: Source<'a>,
}

impl Validator<'_> {
    fn err<T>(&self, at: &Spanned<T>, key: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        self.src.error(at.span(), key, message)
    }

    fn err_span(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.src.error(span, key, message)
    }

    fn scenario(&self, raw: RawScenario) -> Result<Scenario> {
        let name = self.non_empty(&raw.name, "name")?;
        let description = self.non_empty(&raw.description, "description")?;
        let seed = match &raw.seed {
            None => DEFAULT_SEED,
            Some(seed) => u64::try_from(*seed.get_ref())
                .map_err(|_| self.err(seed, "seed", "must be 0 or more (it seeds every random choice)"))?,
        };
        let strategy = match &raw.strategy {
            None => StrategyKind::SEED_CLAIM,
            Some(s) => self.strategy(s, "strategy")?,
        };
        let deadline = self.positive(raw.deadline.as_ref(), "deadline")?.unwrap_or(DEFAULT_DEADLINE);
        let max_duration =
            self.positive(raw.max_duration.as_ref(), "max_duration")?.unwrap_or(DEFAULT_MAX_DURATION);
        let config = self.cluster(raw.cluster.as_ref())?;
        let database = self.database(raw.database.as_ref())?;
        let replicas = config.replicas;
        let (target, secret, default_status) = match &raw.webhook {
            None => (Target::Builtin, None, DEFAULT_STATUS),
            Some(webhook) => self.webhook(webhook.get_ref())?,
        };
        let webhook = self.policies(raw.webhook.as_ref().map(Spanned::get_ref))?;

        let plans_raw = raw.plans.as_ref().map(|p| p.get_ref().as_slice()).unwrap_or_default();
        let workloads = raw.workload.as_ref().map(|w| w.get_ref().as_slice()).unwrap_or_default();
        if plans_raw.is_empty() && workloads.is_empty() {
            let message = "at least one plan is required: add a [[plans]] table (or a [[workload]] of many)";
            return Err(match &raw.plans {
                Some(plans) => self.err(plans, "plans", message),
                None => self.err_span(0..0, "plans", message),
            });
        }
        let mut names = Names::new();
        let mut plans = Vec::new();
        for (i, plan) in plans_raw.iter().enumerate() {
            let (script, tasks) = self.plan(i, plan)?;
            if names.insert(script.name.clone(), PlanNames { index: i, tasks }).is_some() {
                return Err(self.err(
                    &plan.get_ref().name,
                    format!("plans[{i}].name"),
                    format!("duplicate plan name {:?}: plan names must be unique", script.name),
                ));
            }
            plans.push(script);
        }
        let mut runs = Vec::new();
        for (w, entry) in workloads.iter().enumerate() {
            let made = self.workload(w, entry, seed, max_duration)?;
            runs.extend(workload::runs(plans.len(), &made));
            for plan in made {
                let index = plans.len();
                if names.insert(plan.script.name.clone(), PlanNames { index, tasks: plan.tasks }).is_some() {
                    let at = entry.get_ref().name.as_ref().map_or(entry.span(), Spanned::span);
                    return Err(self.err_span(
                        at,
                        format!("workload[{w}].name"),
                        format!(
                            "this workload's plan {:?} has the name of another plan: give it another name",
                            plan.script.name
                        ),
                    ));
                }
                plans.push(plan.script);
            }
        }

        let mut timeline = match &raw.timeline {
            Some(timeline) if !timeline.get_ref().is_empty() => {
                self.timeline(timeline.get_ref(), &names, &runs, replicas, max_duration)?
            }
            Some(_) | None if !runs.is_empty() => Vec::new(),
            Some(timeline) => {
                return Err(self.err(
                    timeline,
                    "timeline",
                    "at least one user action is required: add a [[timeline]] table that runs a plan",
                ));
            }
            None => {
                return Err(self.err_span(
                    0..0,
                    "timeline",
                    "at least one user action is required: add a [[timeline]] table that runs a plan",
                ));
            }
        };
        timeline.extend(runs);

        let reactions = match &raw.reactions {
            None => Vec::new(),
            Some(list) => self.reactions(list.get_ref(), &names, &timeline, replicas)?,
        };

        let mut faults = Vec::new();
        if let Some(raw_faults) = &raw.faults {
            for (i, fault) in raw_faults.get_ref().iter().enumerate() {
                faults.extend(self.fault(i, fault, faults.len(), replicas, max_duration, &target)?);
            }
        }
        self.faults_fit_the_database(raw.faults.as_ref(), &faults, database)?;

        let mut expectations = Vec::new();
        if let Some(expect) = &raw.expect {
            for (i, e) in expect.get_ref().iter().enumerate() {
                expectations.push(self.expectation(i, e, &names, &target)?);
            }
        }

        let mut claim_checks = Vec::new();
        if let Some(claims) = &raw.claims {
            for (i, c) in claims.get_ref().iter().enumerate() {
                claim_checks.push(self.claim_check(i, c, &names, max_duration)?);
            }
        }
        let mut claim_snapshots: Vec<Duration> = claim_checks.iter().map(|c: &ClaimCheck| c.at).collect();
        claim_snapshots.sort();
        claim_snapshots.dedup();

        Ok(Scenario {
            name,
            description,
            spec: ClusterSpec {
                seed,
                config,
                strategy,
                webhook,
                plans,
                timeline,
                reactions,
                faults,
                claim_snapshots,
                deadline,
                max_duration,
                database,
            },
            target,
            secret,
            default_status,
            expectations,
            claim_checks,
        })
    }

    fn non_empty(&self, s: &Str, key: impl Into<String>) -> Result<String> {
        if s.get_ref().trim().is_empty() {
            return Err(self.err(s, key, "must not be empty"));
        }
        Ok(s.get_ref().clone())
    }

    /// A duration that must be more than zero.
    fn positive(&self, d: Option<&Dur>, key: &str) -> Result<Option<Duration>> {
        match d {
            Some(d) if d.get_ref().0.is_zero() => Err(self.err(d, key, "must be more than 0")),
            Some(d) => Ok(Some(d.get_ref().0)),
            None => Ok(None),
        }
    }

    /// A moment of the run: it must come before `max_duration`.
    fn moment(&self, d: &Dur, key: &str, max_duration: Duration) -> Result<Duration> {
        let at = d.get_ref().0;
        if at >= max_duration {
            return Err(self.err(
                d,
                key,
                format!(
                    "{} is not before max_duration ({}): the run has stopped by then; \
                     move it earlier or raise max_duration",
                    Humane(at),
                    Humane(max_duration)
                ),
            ));
        }
        Ok(at)
    }

    /// An integer in `range`, converted.
    fn int<T: TryFrom<i64>>(&self, n: &Int, key: &str, range: Range<i64>, what: &str) -> Result<T> {
        let value = *n.get_ref();
        if !range.contains(&value) {
            return Err(self.err(n, key, format!("{value} is out of range: {what}")));
        }
        T::try_from(value).map_err(|_| self.err(n, key, format!("{value} is out of range: {what}")))
    }
}
