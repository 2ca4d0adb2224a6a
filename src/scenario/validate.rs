//! From the file as written ([`RawScenario`]) to a [`Scenario`] ready to run: names
//! resolved to indices, defaults filled in, and everything that cannot make sense
//! refused with the key and position of the offending value.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::{Error as ValueError, StrDeserializer};
use toml::Spanned;

use super::duration::{Humane, RawDurationRange};
use super::error::{ScenarioError, Source};
use super::raw::*;
use super::{ClaimCheck, EventRef, Expectation, Scenario, Target};
use crate::actors::ActionKind;
use crate::check::Verdict;
use crate::cluster::{ClusterSpec, TimedAction};
use crate::faults::{CrashPoint, Fault, FaultKind, Trigger};
use crate::model::{EventType, ReplicaId};
use crate::script::{Attempt, PlanScript, TaskScript};
use crate::store::RunOutcome;
use crate::strategy::StrategyKind;
use crate::webhook::{Answer, EndpointFault, Scope, Secret};
use crate::world::{ClusterConfig, WebhookPolicy};

type Result<T> = std::result::Result<T, ScenarioError>;

/// Most replicas a scenario may ask for.
pub const MAX_REPLICAS: i64 = 32;
/// `deadline` when the file gives none.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);
/// `max_duration` when the file gives none.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(30);
/// A task's duration when the file gives none.
pub const DEFAULT_TASK_DURATION: Duration = Duration::from_millis(40);
/// A plan's project when the file gives none.
pub const DEFAULT_PROJECT: &str = "demo";
/// The built-in receiver's answer when the file gives none.
pub const DEFAULT_STATUS: u16 = 200;
/// The seed when the file gives none.
pub const DEFAULT_SEED: u64 = 1;

/// The fault kinds, as files name them.
const FAULT_KINDS: &str = "crash, db-partition, db-latency, db-reset, endpoint";

/// Validates `raw`, read from `src`.
pub(crate) fn validate(src: Source<'_>, raw: RawScenario) -> Result<Scenario> {
    Validator { src }.scenario(raw)
}

struct Validator<'a> {
    src: Source<'a>,
}

/// What the timeline and faults need to know about a plan.
struct PlanNames<'r> {
    index: usize,
    tasks: HashMap<&'r str, usize>,
}

/// A fault kind, once its name is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Crash,
    DbPartition,
    DbLatency,
    DbReset,
    Endpoint,
}

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "crash" => Kind::Crash,
            "db-partition" => Kind::DbPartition,
            "db-latency" => Kind::DbLatency,
            "db-reset" => Kind::DbReset,
            "endpoint" => Kind::Endpoint,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Crash => "crash",
            Kind::DbPartition => "db-partition",
            Kind::DbLatency => "db-latency",
            Kind::DbReset => "db-reset",
            Kind::Endpoint => "endpoint",
        }
    }

    /// The keys a fault of this kind takes, besides `kind`.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Crash => &["at", "when", "replica", "restart_after"],
            Kind::DbPartition => &["at", "until", "replica"],
            Kind::DbLatency => &["at", "until", "replica", "latency"],
            Kind::DbReset => &["at", "replica"],
            Kind::Endpoint => &["at", "until", "status", "retry_after", "hang", "reset", "requests"],
        }
    }
}

impl<'a> Validator<'a> {
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
            None => StrategyKind::SeedClaim,
            Some(s) => self.strategy(s, "strategy")?,
        };
        let deadline = self.positive(raw.deadline.as_ref(), "deadline")?.unwrap_or(DEFAULT_DEADLINE);
        let max_duration =
            self.positive(raw.max_duration.as_ref(), "max_duration")?.unwrap_or(DEFAULT_MAX_DURATION);
        let mut config = self.cluster(raw.cluster.as_ref())?;
        let replicas = config.replicas;
        let (target, secret, default_status) = match &raw.webhook {
            None => (Target::Builtin, None, DEFAULT_STATUS),
            Some(webhook) => self.webhook(webhook.get_ref(), &mut config.webhook)?,
        };

        let plans_raw = match &raw.plans {
            Some(plans) if !plans.get_ref().is_empty() => plans.get_ref(),
            Some(plans) => {
                return Err(self.err(plans, "plans", "at least one plan is required: add a [[plans]] table"));
            }
            None => {
                return Err(self.err_span(
                    0..0,
                    "plans",
                    "at least one plan is required: add a [[plans]] table",
                ));
            }
        };
        let mut names: HashMap<&str, PlanNames<'_>> = HashMap::new();
        let mut plans = Vec::new();
        for (i, plan) in plans_raw.iter().enumerate() {
            let (script, tasks) = self.plan(i, plan)?;
            let name = plan.get_ref().name.get_ref().as_str();
            if names.insert(name, PlanNames { index: i, tasks }).is_some() {
                return Err(self.err(
                    &plan.get_ref().name,
                    format!("plans[{i}].name"),
                    format!("duplicate plan name {name:?}: plan names must be unique"),
                ));
            }
            plans.push(script);
        }

        let timeline = match &raw.timeline {
            Some(timeline) if !timeline.get_ref().is_empty() => {
                self.timeline(timeline.get_ref(), &names, replicas, max_duration)?
            }
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

        let mut faults = Vec::new();
        if let Some(raw_faults) = &raw.faults {
            for (i, fault) in raw_faults.get_ref().iter().enumerate() {
                faults.push(self.fault(i, fault, replicas, max_duration, &target)?);
            }
        }

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
                plans,
                timeline,
                faults,
                claim_snapshots,
                deadline,
                max_duration,
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

    fn strategy(&self, s: &Spanned<String>, key: impl Into<String>) -> Result<StrategyKind> {
        s.get_ref().parse().map_err(|message: String| self.err(s, key, message))
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

    fn cluster(&self, cluster: Option<&Spanned<RawCluster>>) -> Result<ClusterConfig> {
        let mut config = ClusterConfig::default();
        let Some(cluster) = cluster else { return Ok(config) };
        let raw = cluster.get_ref();
        if let Some(n) = &raw.replicas {
            config.replicas = self.int(
                n,
                "cluster.replicas",
                1..MAX_REPLICAS + 1,
                &format!("a cluster has 1 to {MAX_REPLICAS} replicas"),
            )?;
        }
        if let Some(tick) = self.positive(raw.tick.as_ref(), "cluster.tick")? {
            config.tick = tick;
        }
        if let Some(heartbeat) = self.positive(raw.heartbeat.as_ref(), "cluster.heartbeat")? {
            config.heartbeat = heartbeat;
        }
        if let Some(after) = self.positive(raw.abandon_after.as_ref(), "cluster.abandon_after")? {
            config.abandon_after = after;
        }
        if config.abandon_after <= config.heartbeat {
            let message = format!(
                "abandon_after ({}) must exceed heartbeat ({}): a live replica would look dead between beats",
                Humane(config.abandon_after),
                Humane(config.heartbeat)
            );
            return Err(match (&raw.abandon_after, &raw.heartbeat) {
                (Some(after), _) => self.err(after, "cluster.abandon_after", message),
                (None, Some(heartbeat)) => self.err(
                    heartbeat,
                    "cluster.heartbeat",
                    format!("{message} (abandon_after is the default)"),
                ),
                (None, None) => self.err(cluster, "cluster", message),
            });
        }
        if let Some(n) = &raw.runs_per_tick {
            config.runs_per_tick = self.int(
                n,
                "cluster.runs_per_tick",
                1..i64::from(u32::MAX) + 1,
                "a replica takes at least 1 run per tick",
            )?;
        }
        Ok(config)
    }

    fn webhook(&self, raw: &RawWebhook, policy: &mut WebhookPolicy) -> Result<(Target, Option<Secret>, u16)> {
        let target = match (&raw.receiver, &raw.url) {
            (Some(_), Some(url)) => {
                return Err(self.err(
                    url,
                    "webhook.url",
                    "give receiver or url, not both: receiver = \"builtin\" is hasim's own, url an outside one",
                ));
            }
            (Some(receiver), None) => {
                if receiver.get_ref() != "builtin" {
                    return Err(self.err(
                        receiver,
                        "webhook.receiver",
                        format!(
                            "unknown receiver {:?}: the only receiver is \"builtin\"; for another \
                             endpoint use url = \"http://host:port/path\"",
                            receiver.get_ref()
                        ),
                    ));
                }
                Target::Builtin
            }
            (None, Some(url)) => Target::Url(self.url(url)?),
            (None, None) => Target::Builtin,
        };
        if let Some(timeout) = self.positive(raw.timeout.as_ref(), "webhook.timeout")? {
            policy.timeout = timeout;
        }
        if let Some(n) = &raw.attempts {
            policy.attempts = self.int(
                n,
                "webhook.attempts",
                1..i64::from(u32::MAX) + 1,
                "attempts counts every try, so at least 1 (1 = no retry)",
            )?;
        }
        if let Some(backoff) = &raw.backoff {
            policy.backoff = backoff.get_ref().0;
        }
        let secret = match &raw.secret {
            None => None,
            Some(s) => {
                Some(Secret::parse(s.get_ref()).map_err(|e| self.err(s, "webhook.secret", e.to_string()))?)
            }
        };
        let status = match &raw.status {
            None => DEFAULT_STATUS,
            Some(status) => {
                if target != Target::Builtin {
                    return Err(self.err(
                        status,
                        "webhook.status",
                        "status is the built-in receiver's answer; an outside url answers for itself",
                    ));
                }
                self.int(status, "webhook.status", 200..300, "the normal answer must accept: 200 to 299")?
            }
        };
        Ok((target, secret, status))
    }

    fn url(&self, url: &Str) -> Result<String> {
        let text = url.get_ref();
        let host = text.strip_prefix("http://").map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
        match host {
            None => Err(self.err(
                url,
                "webhook.url",
                format!("{text:?} is not an http:// URL: hasim sends plain HTTP, e.g. \"http://127.0.0.1:8080/hook\""),
            )),
            Some("") => Err(self.err(url, "webhook.url", format!("{text:?} has no host, e.g. \"http://127.0.0.1:8080/hook\""))),
            Some(_) if text.chars().any(char::is_whitespace) => {
                Err(self.err(url, "webhook.url", format!("{text:?} contains white space")))
            }
            Some(_) => Ok(text.clone()),
        }
    }

    fn plan<'r>(
        &self,
        i: usize,
        plan: &'r Spanned<RawPlan>,
    ) -> Result<(PlanScript, HashMap<&'r str, usize>)> {
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
            if positions.insert(task_name, j).is_some() {
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

    fn task(&self, key: &str, raw: &RawTask) -> Result<TaskScript> {
        let name = self.non_empty(&raw.name, format!("{key}.name"))?;
        let duration = match &raw.duration {
            None => (DEFAULT_TASK_DURATION, DEFAULT_TASK_DURATION),
            Some(d) => match *d.get_ref() {
                RawDurationRange::One(d) => (d, d),
                RawDurationRange::Range(low, high) if low <= high => (low, high),
                RawDurationRange::Range(low, high) => {
                    return Err(self.err(
                        d,
                        format!("{key}.duration"),
                        format!(
                            "the range [{}, {}] is backwards: write [low, high]",
                            Humane(low),
                            Humane(high)
                        ),
                    ));
                }
            },
        };
        let failure_probability = match &raw.failure_probability {
            None => 0.0,
            Some(p) => {
                let value = *p.get_ref();
                if !(0.0..=1.0).contains(&value) {
                    return Err(self.err(
                        p,
                        format!("{key}.failure_probability"),
                        format!("{value} is not a probability: it must be between 0 and 1"),
                    ));
                }
                value
            }
        };
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

    fn replica(&self, s: &Str, key: impl Into<String>, replicas: usize) -> Result<ReplicaId> {
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

    fn plan_index(
        &self,
        s: &Str,
        key: impl Into<String>,
        names: &HashMap<&str, PlanNames<'_>>,
    ) -> Result<usize> {
        names.get(s.get_ref().as_str()).map(|p| p.index).ok_or_else(|| {
            let mut known: Vec<(&usize, &&str)> = names.iter().map(|(n, p)| (&p.index, n)).collect();
            known.sort();
            let known: Vec<String> = known.into_iter().map(|(_, n)| format!("{n:?}")).collect();
            self.err(s, key, format!("unknown plan {:?} (plans: {})", s.get_ref(), known.join(", ")))
        })
    }

    fn timeline(
        &self,
        raw: &[Spanned<RawAction>],
        names: &HashMap<&str, PlanNames<'_>>,
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
            let tasks = match &a.tasks {
                None => None,
                Some(list) if list.get_ref().is_empty() => {
                    return Err(self.err(
                        list,
                        key("tasks"),
                        "empty task list: leave tasks out to act on every task",
                    ));
                }
                Some(list) => {
                    let known = &names[plan_name].tasks;
                    let mut positions = Vec::new();
                    for (j, task) in list.get_ref().iter().enumerate() {
                        let Some(&position) = known.get(task.get_ref().as_str()) else {
                            let mut names: Vec<(&usize, &&str)> = known.iter().map(|(n, p)| (p, n)).collect();
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
        // A plan exists once its first `run` created it: every other action on it must
        // come strictly after that.
        for (i, entry) in raw.iter().enumerate() {
            let a = entry.get_ref();
            if a.action.get_ref() == "run" {
                continue;
            }
            let plan = timeline[i].plan;
            let first_run = raw
                .iter()
                .zip(&timeline)
                .filter(|(r, t)| t.plan == plan && r.get_ref().action.get_ref() == "run")
                .map(|(_, t)| t.at)
                .min();
            let verb = a.action.get_ref();
            let plan_name = a.plan.get_ref();
            match first_run {
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
                Some(first) if first >= timeline[i].at => {
                    return Err(self.err(
                        &a.at,
                        format!("timeline[{i}].at"),
                        format!(
                            "a {verb} must come after the first run of plan {plan_name:?} (at {}), which \
                             creates it; this one is at {}",
                            Humane(first),
                            Humane(timeline[i].at)
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(timeline)
    }

    fn fault(
        &self,
        i: usize,
        fault: &Spanned<RawFault>,
        replicas: usize,
        max_duration: Duration,
        target: &Target,
    ) -> Result<Fault> {
        let f = fault.get_ref();
        let key = |k: &str| format!("faults[{i}].{k}");
        let kind = Kind::parse(f.kind.get_ref()).ok_or_else(|| {
            self.err(
                &f.kind,
                key("kind"),
                format!("unknown fault kind {:?} (known: {FAULT_KINDS})", f.kind.get_ref()),
            )
        })?;

        // Keys of other kinds, reported in file order.
        let present: [(&str, Option<Range<usize>>); 11] = [
            ("at", f.at.as_ref().map(Spanned::span)),
            ("until", f.until.as_ref().map(Spanned::span)),
            ("when", f.when.as_ref().map(Spanned::span)),
            ("replica", f.replica.as_ref().map(Spanned::span)),
            ("restart_after", f.restart_after.as_ref().map(Spanned::span)),
            ("latency", f.latency.as_ref().map(Spanned::span)),
            ("status", f.status.as_ref().map(Spanned::span)),
            ("retry_after", f.retry_after.as_ref().map(Spanned::span)),
            ("hang", f.hang.as_ref().map(Spanned::span)),
            ("reset", f.reset.as_ref().map(Spanned::span)),
            ("requests", f.requests.as_ref().map(Spanned::span)),
        ];
        let stray = present
            .iter()
            .filter_map(|(k, span)| span.clone().map(|s| (s, *k)))
            .filter(|(_, k)| !kind.keys().contains(k))
            .min_by_key(|(s, _)| s.start);
        if let Some((span, k)) = stray {
            return Err(self.err_span(span, key(k), stray_key_message(kind, k)));
        }

        let kind = match kind {
            Kind::Crash => {
                let restart_after = f.restart_after.as_ref().map(|d| d.get_ref().0);
                let (replica, trigger) = match (&f.at, &f.when) {
                    (Some(_), Some(when)) => {
                        return Err(self.err(
                            when,
                            key("when"),
                            "give at (a time) or when (a crash point), not both",
                        ));
                    }
                    (None, None) => {
                        return Err(self.err(
                            fault,
                            key("at"),
                            "a crash needs a trigger: at = \"300ms\", or when = { replica = \"r1\", \
                             point = \"after-claim\" }",
                        ));
                    }
                    (Some(at), None) => {
                        let at = self.moment(at, &key("at"), max_duration)?;
                        let Some(replica) = &f.replica else {
                            return Err(self.err(
                                fault,
                                key("replica"),
                                "missing required key `replica`: which replica crashes (r1, r2, ...)",
                            ));
                        };
                        (self.replica(replica, key("replica"), replicas)?, Trigger::At { at, until: None })
                    }
                    (None, Some(when)) => {
                        let w = when.get_ref();
                        let replica = self.replica(&w.replica, key("when.replica"), replicas)?;
                        if let Some(given) = &f.replica
                            && given.get_ref() != replica.as_str()
                        {
                            return Err(self.err(
                                given,
                                key("replica"),
                                format!(
                                    "{:?} is not the replica of when ({replica}): a crash at a crash point \
                                     strikes that replica; leave replica out or make them equal",
                                    given.get_ref()
                                ),
                            ));
                        }
                        let point = CrashPoint::ALL
                            .into_iter()
                            .find(|p| p.as_str() == w.point.get_ref())
                            .ok_or_else(|| {
                                let known: Vec<&str> = CrashPoint::ALL.iter().map(|p| p.as_str()).collect();
                                self.err(
                                    &w.point,
                                    key("when.point"),
                                    format!(
                                        "unknown crash point {:?} (known: {})",
                                        w.point.get_ref(),
                                        known.join(", ")
                                    ),
                                )
                            })?;
                        let nth = match &w.nth {
                            None => 1,
                            Some(n) => self.int(
                                n,
                                &key("when.nth"),
                                1..i64::from(u32::MAX) + 1,
                                "nth counts passages from 1 (the first time the replica gets there)",
                            )?,
                        };
                        (replica.clone(), Trigger::When { replica, point, nth })
                    }
                };
                return Ok(Fault { index: i, kind: FaultKind::Crash { replica, restart_after }, trigger });
            }
            Kind::DbPartition | Kind::DbLatency | Kind::DbReset => {
                let Some(replica) = &f.replica else {
                    return Err(self.err(
                        fault,
                        key("replica"),
                        format!("missing required key `replica`: whose DB link the {} strikes", kind.name()),
                    ));
                };
                let replica = self.replica(replica, key("replica"), replicas)?;
                match kind {
                    Kind::DbPartition => FaultKind::DbPartition { replica },
                    Kind::DbReset => FaultKind::DbReset { replica },
                    _ => {
                        let Some(latency) = &f.latency else {
                            return Err(self.err(
                                fault,
                                key("latency"),
                                "missing required key `latency`: the delay added to the link, e.g. latency = \"40ms\"",
                            ));
                        };
                        FaultKind::DbLatency { replica, latency: latency.get_ref().0 }
                    }
                }
            }
            Kind::Endpoint => {
                if let Target::Url(url) = target {
                    return Err(self.err(
                        &f.kind,
                        key("kind"),
                        format!(
                            "endpoint faults act on the built-in receiver, but webhooks go to {url}; \
                             remove webhook.url or this fault"
                        ),
                    ));
                }
                FaultKind::Endpoint(self.endpoint(i, fault)?)
            }
        };

        // Time-triggered faults other than crashes.
        let at = match (&f.at, &kind) {
            (Some(at), _) => self.moment(at, &key("at"), max_duration)?,
            (None, FaultKind::Endpoint(EndpointFault { scope: Scope::NextRequests(_), .. })) => {
                Duration::ZERO
            }
            (None, _) => {
                return Err(self.err(
                    fault,
                    key("at"),
                    format!(
                        "missing required key `at`: when the {} starts, e.g. at = \"300ms\"",
                        f.kind.get_ref()
                    ),
                ));
            }
        };
        let until = match &f.until {
            None => None,
            Some(until) => {
                let end = until.get_ref().0;
                if end <= at {
                    return Err(self.err(
                        until,
                        key("until"),
                        format!("until ({}) must be after at ({})", Humane(end), Humane(at)),
                    ));
                }
                if end > max_duration {
                    return Err(self.err(
                        until,
                        key("until"),
                        format!(
                            "{} is beyond max_duration ({}): the run has stopped by then; \
                             leave until out to last to the end",
                            Humane(end),
                            Humane(max_duration)
                        ),
                    ));
                }
                Some(end)
            }
        };
        let kind = match kind {
            FaultKind::Endpoint(EndpointFault { behaviour, scope: Scope::Window { .. } }) => {
                FaultKind::Endpoint(EndpointFault { behaviour, scope: Scope::Window { from: at, until } })
            }
            other => other,
        };
        Ok(Fault { index: i, kind, trigger: Trigger::At { at, until } })
    }

    /// An endpoint fault's behaviour and scope (a window's bounds are filled in by the
    /// caller).
    fn endpoint(&self, i: usize, fault: &Spanned<RawFault>) -> Result<EndpointFault> {
        let f = fault.get_ref();
        let key = |k: &str| format!("faults[{i}].{k}");
        for (name, flag) in [("hang", &f.hang), ("reset", &f.reset)] {
            if let Some(flag) = flag
                && !flag.get_ref()
            {
                return Err(self.err(
                    flag,
                    key(name),
                    format!("{name} = false does nothing: write {name} = true, or leave it out"),
                ));
            }
        }
        let mut given: Vec<(&str, Range<usize>)> = [
            ("status", f.status.as_ref().map(Spanned::span)),
            ("hang", f.hang.as_ref().map(Spanned::span)),
            ("reset", f.reset.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
        given.sort_by_key(|(_, span)| span.start);
        if let [(first, _), (second, span), ..] = given.as_slice() {
            return Err(self.err_span(
                span.clone(),
                key(second),
                format!("give one of status, hang or reset: {first} and {second} cannot both happen"),
            ));
        }
        let behaviour = match (&f.status, &f.hang, &f.reset) {
            (Some(status), _, _) => {
                let code = self.int(status, &key("status"), 100..600, "an HTTP status is 100 to 599")?;
                Answer::Status { code, retry_after: f.retry_after.as_ref().map(|d| d.get_ref().0) }
            }
            (None, Some(_), _) => Answer::Hang,
            (None, None, Some(_)) => Answer::Reset,
            (None, None, None) => {
                return Err(self.err(
                    fault,
                    key("status"),
                    "an endpoint fault needs what the endpoint does: status = 503, hang = true or reset = true",
                ));
            }
        };
        if let (Some(after), false) = (&f.retry_after, matches!(behaviour, Answer::Status { .. })) {
            return Err(self.err(
                after,
                key("retry_after"),
                "retry_after goes with status (e.g. status = 429)",
            ));
        }
        let scope = match &f.requests {
            Some(n) => {
                if let Some(until) = &f.until {
                    return Err(self.err(
                        until,
                        key("until"),
                        "give until (a time window) or requests (the next N requests), not both",
                    ));
                }
                let n = self.int(
                    n,
                    &key("requests"),
                    1..i64::from(u32::MAX) + 1,
                    "requests = N answers the next N requests; N is at least 1",
                )?;
                Scope::NextRequests(n)
            }
            None => Scope::Window { from: Duration::ZERO, until: None },
        };
        Ok(EndpointFault { behaviour, scope })
    }

    fn strategies(
        &self,
        key: &str,
        strategy: Option<&Str>,
        strategies: Option<&List<String>>,
    ) -> Result<Vec<StrategyKind>> {
        match (strategy, strategies) {
            (Some(_), Some(list)) => {
                Err(self.err(list, format!("{key}.strategies"), "give strategy or strategies, not both"))
            }
            (Some(s), None) => Ok(vec![self.strategy(s, format!("{key}.strategy"))?]),
            (None, Some(list)) if list.get_ref().is_empty() => Err(self.err(
                list,
                format!("{key}.strategies"),
                "empty list: leave strategies out to apply to every strategy",
            )),
            (None, Some(list)) => {
                let mut kinds = Vec::new();
                for (j, s) in list.get_ref().iter().enumerate() {
                    let kind = self.strategy(s, format!("{key}.strategies[{j}]"))?;
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                }
                Ok(kinds)
            }
            (None, None) => Ok(Vec::new()),
        }
    }

    fn event(&self, s: &Str, key: String) -> Result<EventType> {
        s.get_ref().parse().map_err(|_| {
            let known: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
            self.err(s, key, format!("unknown event {:?} (known: {})", s.get_ref(), known.join(", ")))
        })
    }

    fn episode(&self, n: Option<&Int>, key: String) -> Result<Option<u32>> {
        n.map(|n| {
            self.int(n, &key, 1..i64::from(u32::MAX) + 1, "episodes count from 1 (the plan's first run)")
        })
        .transpose()
    }

    fn expectation(
        &self,
        i: usize,
        e: &Spanned<RawExpect>,
        names: &HashMap<&str, PlanNames<'_>>,
        target: &Target,
    ) -> Result<Expectation> {
        let key = format!("expect[{i}]");
        let raw = e.get_ref();
        let strategies = self.strategies(&key, raw.strategy.as_ref(), raw.strategies.as_ref())?;
        let plan = raw.plan.as_ref().map(|p| self.plan_index(p, format!("{key}.plan"), names)).transpose()?;
        if plan.is_none() {
            for (name, span) in [
                ("deliveries", raw.deliveries.as_ref().map(Spanned::span)),
                ("verdicts", raw.verdicts.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = span {
                    return Err(self.err_span(
                        span,
                        format!("{key}.{name}"),
                        format!(
                            "{name} are per plan: add plan = \"...\" (without a plan only pass is allowed)"
                        ),
                    ));
                }
            }
        }
        let pass = raw.pass.as_ref().map(|p| *p.get_ref());
        let deliveries = match &raw.deliveries {
            None => None,
            Some(list) if *target != Target::Builtin => {
                return Err(self.err(
                    list,
                    format!("{key}.deliveries"),
                    "deliveries are read from the built-in receiver's log, and webhooks go to webhook.url: \
                     expect verdicts instead",
                ));
            }
            Some(list) => {
                let mut refs = Vec::new();
                for (j, d) in list.get_ref().iter().enumerate() {
                    let d = d.get_ref();
                    let event = self.event(&d.event, format!("{key}.deliveries[{j}].event"))?;
                    let episode =
                        self.episode(d.episode.as_ref(), format!("{key}.deliveries[{j}].episode"))?;
                    let r = EventRef { event, episode };
                    if episode.is_some() && refs.contains(&r) {
                        return Err(self.err(
                            &list.get_ref()[j],
                            format!("{key}.deliveries[{j}]"),
                            "listed twice: deliveries are distinct, each (event, episode) once",
                        ));
                    }
                    refs.push(r);
                }
                Some(refs)
            }
        };
        let mut verdicts: Vec<(EventRef, Verdict)> = Vec::new();
        if let Some(list) = &raw.verdicts {
            for (j, v) in list.get_ref().iter().enumerate() {
                let raw_v = v.get_ref();
                let event = self.event(&raw_v.event, format!("{key}.verdicts[{j}].event"))?;
                let episode = self.episode(raw_v.episode.as_ref(), format!("{key}.verdicts[{j}].episode"))?;
                let verdict = parse_verdict(raw_v.verdict.get_ref()).ok_or_else(|| {
                    let known: Vec<&str> = Verdict::ALL.iter().map(|v| v.as_str()).collect();
                    self.err(
                        &raw_v.verdict,
                        format!("{key}.verdicts[{j}].verdict"),
                        format!(
                            "unknown verdict {:?} (known: {})",
                            raw_v.verdict.get_ref(),
                            known.join(", ")
                        ),
                    )
                })?;
                let r = EventRef { event, episode };
                if verdicts.iter().any(|(seen, _)| *seen == r) {
                    return Err(self.err(
                        v,
                        format!("{key}.verdicts[{j}]"),
                        "this event already has a verdict in this expectation",
                    ));
                }
                verdicts.push((r, verdict));
            }
        }
        if pass.is_none() && deliveries.is_none() && verdicts.is_empty() {
            return Err(self.err(
                e,
                key,
                "this expectation says nothing: give pass, deliveries or verdicts (deliveries and verdicts need a plan)",
            ));
        }
        Ok(Expectation { strategies, plan, pass, deliveries, verdicts })
    }

    fn claim_check(
        &self,
        i: usize,
        c: &Spanned<RawClaim>,
        names: &HashMap<&str, PlanNames<'_>>,
        max_duration: Duration,
    ) -> Result<ClaimCheck> {
        let key = format!("claims[{i}]");
        let raw = c.get_ref();
        let at = self.moment(&raw.at, &format!("{key}.at"), max_duration)?;
        let strategies = self.strategies(&key, raw.strategy.as_ref(), raw.strategies.as_ref())?;
        let mut rows = Vec::new();
        for (j, row) in raw.rows.get_ref().iter().enumerate() {
            let r = row.get_ref();
            let plan = self.plan_index(&r.plan, format!("{key}.rows[{j}].plan"), names)?;
            let event = self.event(&r.event, format!("{key}.rows[{j}].event"))?;
            if rows.contains(&(plan, event)) {
                return Err(self.err(row, format!("{key}.rows[{j}]"), "this row is listed twice"));
            }
            rows.push((plan, event));
        }
        Ok(ClaimCheck { at, strategies, rows })
    }
}

/// Why `key` does not belong on a fault of `kind`.
fn stray_key_message(kind: Kind, key: &str) -> String {
    let allowed = kind.keys().join(", ");
    match (kind, key) {
        (_, "when") => format!(
            "when (a crash point) triggers crash faults only; a {} fault starts at a time: use at",
            kind.name()
        ),
        (Kind::Crash, "until") => {
            "a crash is an instant: until does not apply (restart_after brings the replica back)".into()
        }
        (Kind::DbReset, "until") => {
            "a db-reset is an instant (it kills the replica's connections once): until does not apply".into()
        }
        _ => {
            let owners: Vec<&str> =
                [Kind::Crash, Kind::DbPartition, Kind::DbLatency, Kind::DbReset, Kind::Endpoint]
                    .into_iter()
                    .filter(|k| k.keys().contains(&key))
                    .map(Kind::name)
                    .collect();
            format!(
                "{key} does not apply to a {} fault (it is for {}); a {} fault takes: kind, {allowed}",
                kind.name(),
                owners.join(", "),
                kind.name()
            )
        }
    }
}

/// The verdict a file names, through the checker's own serde names.
fn parse_verdict(name: &str) -> Option<Verdict> {
    let deserializer: StrDeserializer<'_, ValueError> = name.into_deserializer();
    Verdict::deserialize(deserializer).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_names_are_the_checkers() {
        let names: std::collections::HashSet<&str> = Verdict::ALL.iter().map(|v| v.as_str()).collect();
        assert_eq!(names.len(), Verdict::ALL.len());
        for v in Verdict::ALL {
            assert_eq!(parse_verdict(v.as_str()), Some(v));
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{}\"", v.as_str()));
        }
        assert_eq!(parse_verdict("Lost"), None);
    }

    #[test]
    fn every_kind_takes_at_and_names_its_own_keys() {
        for kind in [Kind::Crash, Kind::DbPartition, Kind::DbLatency, Kind::DbReset, Kind::Endpoint] {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
            assert!(kind.keys().contains(&"at"));
            assert!(FAULT_KINDS.contains(kind.name()));
        }
        assert!(stray_key_message(Kind::Crash, "latency").contains("it is for db-latency"));
        assert!(stray_key_message(Kind::DbLatency, "when").contains("crash faults only"));
    }
}
