//! A [`Case`] as a scenario file: the text a search runs and the file it writes.
//!
//! Plans are `p1`, `p2`, ..., tasks `t1`, `t2`, ...; every time is in whole
//! milliseconds. Going through the text (rather than building a `Scenario` directly)
//! means a written counterexample is exactly what ran, and that the scenario format's
//! own validation vouches for every generated case.

use std::fmt::Write;

use crate::check::Verdict;
use crate::model::EventType;
use crate::scenario::{self, Scenario, ScenarioError};
use crate::strategy::StrategyKind;

use super::case::{Case, CrashWhen, EndpointCase, FaultCase, PointCase, SpanCase};
use crate::faults::CrashPoint;

/// The contract's deadline in generated scenarios: the faults a case can hold keep a
/// correct design away from the database or the endpoint for far less than this, so
/// `late` means the design was slow, not that the cluster was cut off.
pub const DEADLINE: &str = "5s";

/// What a rendered file says besides the case: its name, comments, and the
/// violation it is expected to show.
#[derive(Debug, Clone, Default)]
pub struct Annotations {
    /// The scenario's `name`.
    pub name: String,
    /// Its `description`.
    pub description: String,
    /// Comment lines at the top of the file (without `# `).
    pub comments: Vec<String>,
    /// The violation the file expects, for one strategy.
    pub expect: Option<ExpectedVerdict>,
}

/// An `[[expect]]` that names one strategy's verdict on one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedVerdict {
    /// The strategy it applies to.
    pub strategy: StrategyKind,
    /// The plan, by position in the case; `None` (a delivery that names no plan of
    /// the run): the expectation is only that the run fails.
    pub plan: Option<usize>,
    /// The event.
    pub event: EventType,
    /// Its episode.
    pub episode: u32,
    /// The verdict.
    pub verdict: Verdict,
}

impl Case {
    /// The case as a scenario file run under `strategy`.
    pub fn to_toml(&self, strategy: StrategyKind, notes: &Annotations) -> String {
        let mut out = String::new();
        for line in &notes.comments {
            let _ = writeln!(out, "# {line}");
        }
        let name = if notes.name.is_empty() { "generated" } else { &notes.name };
        let description =
            if notes.description.is_empty() { "A generated scenario." } else { &notes.description };
        let _ = writeln!(out, "name = {}", quote(name));
        let _ = writeln!(out, "description = {}", quote(description));
        let _ = writeln!(out, "seed = {}", self.seed);
        let _ = writeln!(out, "strategy = \"{strategy}\"");
        let _ = writeln!(out, "deadline = \"{DEADLINE}\"");
        let _ = writeln!(out, "\n[cluster]\nreplicas = {}", self.replicas.max(1));
        if self.has_a_pair() {
            let replication = self.replication.as_str();
            let _ = writeln!(
                out,
                "\n[database]\ntopology = \"primary-standby\"\nreplication = \"{replication}\""
            );
        }
        self.write_plans(&mut out);
        self.write_timeline(&mut out);
        self.write_faults(&mut out);
        if let Some(e) = notes.expect {
            let _ = write!(out, "\n[[expect]]\nstrategy = \"{}\"\n", e.strategy);
            match e.plan {
                Some(plan) => {
                    let _ = write!(
                        out,
                        "plan = \"p{}\"\npass = false\n\
                         verdicts = [{{ event = \"{}\", episode = {}, verdict = \"{}\" }}]\n",
                        plan + 1,
                        e.event.as_str(),
                        e.episode,
                        e.verdict
                    );
                }
                None => out.push_str("pass = false\n"),
            }
        }
        out
    }

    /// The case as a validated scenario run under `strategy`.
    pub fn scenario(&self, strategy: StrategyKind) -> Result<Scenario, ScenarioError> {
        let text = self.to_toml(strategy, &Annotations::default());
        scenario::parse("<generated>", &text)
    }

    fn write_plans(&self, out: &mut String) {
        for (p, plan) in self.plans.iter().enumerate() {
            let _ = writeln!(out, "\n[[plans]]\nname = \"p{}\"", p + 1);
            for (t, task) in plan.tasks.iter().enumerate() {
                let _ = write!(out, "  [[plans.tasks]]\n  name = \"t{}\"\n", t + 1);
                if !task.attempts.is_empty() {
                    let attempts: Vec<String> = task
                        .attempts
                        .iter()
                        .map(|a| {
                            let outcome = if a.failed { "failed" } else { "done" };
                            format!("{{ outcome = \"{outcome}\", after = \"{}ms\" }}", a.after.max(1))
                        })
                        .collect();
                    let _ = writeln!(out, "  attempts = [{}]", attempts.join(", "));
                }
            }
        }
    }

    fn write_timeline(&self, out: &mut String) {
        let mut actions: Vec<(u32, usize, String)> = Vec::new();
        for (p, plan) in self.plans.iter().enumerate() {
            let start = u32::from(plan.start);
            actions.push((start, p, self.action_text(start, p, "run", None, plan.via)));
            for a in &plan.actions {
                let at = start + u32::from(a.after.max(1));
                let tasks = plan.task_positions(&a.tasks);
                actions.push((at, p, self.action_text(at, p, a.kind.as_str(), tasks, a.via)));
            }
        }
        // Stable: same-time actions keep plan order, then the plan's own order.
        actions.sort_by_key(|(at, p, _)| (*at, *p));
        for (_, _, text) in actions {
            out.push_str(&text);
        }
    }

    fn action_text(
        &self,
        at: u32,
        plan: usize,
        action: &str,
        tasks: Option<Vec<usize>>,
        via: Option<u8>,
    ) -> String {
        let mut text =
            format!("\n[[timeline]]\nat = \"{at}ms\"\nplan = \"p{}\"\naction = \"{action}\"\n", plan + 1);
        if let Some(tasks) = tasks {
            let names: Vec<String> = tasks.iter().map(|t| format!("\"t{}\"", t + 1)).collect();
            let _ = writeln!(text, "tasks = [{}]", names.join(", "));
        }
        if let Some(r) = via {
            let _ = writeln!(text, "via = \"{}\"", self.replica(r));
        }
        text
    }

    /// The `when` of a DB link fault at a point.
    fn point_when(&self, replica: u8, w: PointCase) -> String {
        let name = if w.any { "any".to_owned() } else { self.replica(replica) };
        when_keys(&name, w.point, w.nth)
    }

    fn write_faults(&self, out: &mut String) {
        for fault in &self.faults {
            out.push_str("\n[[faults]]\n");
            let text = match *fault {
                FaultCase::Crash { replica, when, restart_after, stays_down } => {
                    let name = self.replica(replica);
                    let trigger = match when {
                        CrashWhen::At(at) => format!("at = \"{at}ms\"\nreplica = \"{name}\""),
                        CrashWhen::Point(point, nth) => when_keys(&name, point, nth),
                        CrashWhen::AnyPoint(point, nth) => when_keys("any", point, nth),
                    };
                    // r1 always comes back; a crash of whichever replica may strike r1.
                    let may_strike_r1 = name == "r1" || matches!(when, CrashWhen::AnyPoint(..));
                    let restart = if stays_down && !may_strike_r1 {
                        String::new()
                    } else {
                        format!("\nrestart_after = \"{restart_after}ms\"")
                    };
                    format!("kind = \"crash\"\n{trigger}{restart}")
                }
                FaultCase::DbPartition { replica, at, len } => {
                    let until = u32::from(at) + u32::from(len.max(1));
                    format!(
                        "kind = \"db-partition\"\nreplica = \"{}\"\nat = \"{at}ms\"\nuntil = \"{until}ms\"",
                        self.replica(replica)
                    )
                }
                FaultCase::DbLatency { replica, at, len, latency } => {
                    let until = u32::from(at) + u32::from(len.max(1));
                    format!(
                        "kind = \"db-latency\"\nreplica = \"{}\"\nat = \"{at}ms\"\nuntil = \"{until}ms\"\nlatency = \"{latency}ms\"",
                        self.replica(replica)
                    )
                }
                FaultCase::DbReset { replica, at } => {
                    format!("kind = \"db-reset\"\nreplica = \"{}\"\nat = \"{at}ms\"", self.replica(replica))
                }
                FaultCase::DbResetAt { replica, when: w } => {
                    format!("kind = \"db-reset\"\n{}", self.point_when(replica, w))
                }
                FaultCase::DbPartitionAt { replica, when: w, len } => {
                    let when = self.point_when(replica, w);
                    format!("kind = \"db-partition\"\n{when}\nheal_after = \"{}ms\"", len.max(1))
                }
                FaultCase::DbFailover { at } => format!("kind = \"db-failover\"\nat = \"{at}ms\""),
                FaultCase::ReplicationLag { at, len } => {
                    let until = u32::from(at) + u32::from(len.max(1));
                    format!("kind = \"replication-lag\"\nat = \"{at}ms\"\nuntil = \"{until}ms\"")
                }
                FaultCase::Endpoint { behaviour, span } => {
                    let behaviour = match behaviour {
                        EndpointCase::Status(status) => format!("status = {status}"),
                        EndpointCase::RetryAfter(status, after) => {
                            format!("status = {status}\nretry_after = \"{after}ms\"")
                        }
                        EndpointCase::Hang => "hang = true".to_owned(),
                        EndpointCase::Reset => "reset = true".to_owned(),
                        EndpointCase::Late(delay) => format!("status = 200\ndelay = \"{}ms\"", delay.max(1)),
                    };
                    let span = match span {
                        SpanCase::Requests(n) => format!("requests = {}", n.max(1)),
                        SpanCase::Window { at, len } => {
                            format!(
                                "at = \"{at}ms\"\nuntil = \"{}ms\"",
                                u32::from(at) + u32::from(len.max(1))
                            )
                        }
                    };
                    format!("kind = \"endpoint\"\n{behaviour}\n{span}")
                }
            };
            out.push_str(&text);
            out.push('\n');
        }
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `when = { replica = "r1", point = ..., nth = N }`.
fn when_keys(replica: &str, point: CrashPoint, nth: u8) -> String {
    format!("when = {{ replica = \"{replica}\", {}, nth = {} }}", point.when_keys(), nth.max(1))
}
