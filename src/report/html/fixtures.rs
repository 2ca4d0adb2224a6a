//! Hand-written histories and receiver logs for the report's unit tests.

use std::time::Duration;

use crate::check::{DeliveryView, Report};
use crate::history::{Entry, Event, Seq};
use crate::judge::RunResult;
use crate::model::{EventType, PlanId, ReplicaId, RunId, RunStatus, TaskId};
use crate::runner::ScenarioRun;
use crate::store::Claim;
use crate::strategy::StrategyKind;
use crate::trace::Trace;
use crate::webhook::{Answer, Level, Payload, ReceivedRequest};

/// A history being written, one entry at a time.
#[derive(Default)]
pub struct Log {
    pub entries: Vec<Entry>,
}

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Log {
    /// Appends `event` at `at_ms`, by replica incarnation `by`; returns its position.
    pub fn add(&mut self, at_ms: u64, by: Option<&str>, event: Event) -> Seq {
        let seq = self.entries.len() as Seq;
        self.entries.push(Entry { seq, at: ms(at_ms), by: by.map(|b| ReplicaId(b.into())), event });
        seq
    }

    pub fn run_started(&mut self, at_ms: u64, by: &str, run: i64) -> Seq {
        let event =
            Event::RunStarted { run: RunId(run), task: TaskId(run), plan: PlanId(1), attempt: 1, invoked: 0 };
        self.add(at_ms, Some(by), event)
    }

    pub fn run_ended(&mut self, at_ms: u64, by: &str, run: i64, status: RunStatus, by_cleaner: bool) -> Seq {
        let event = Event::RunEnded {
            run: RunId(run),
            task: TaskId(run),
            plan: PlanId(1),
            attempt: 1,
            status,
            overwrote: None,
            error: None,
            by_cleaner,
            invoked: 0,
        };
        self.add(at_ms, Some(by), event)
    }

    pub fn claim(&mut self, at_ms: u64, by: &str, claim: Claim) -> Seq {
        let event =
            Event::ClaimAttempted { plan: PlanId(1), event: EventType::PipelineFailed, claim, invoked: 0 };
        self.add(at_ms, Some(by), event)
    }

    pub fn send(&mut self, at_ms: u64, by: &str, id: &str, attempt: u32) -> Seq {
        let event = Event::SendStarted {
            plan: PlanId(1),
            event: EventType::PipelineFailed,
            episode: 1,
            webhook_id: id.into(),
            attempt,
            id_omitted: false,
        };
        self.add(at_ms, Some(by), event)
    }

    pub fn answer(&mut self, at_ms: u64, by: &str, id: &str, attempt: u32, accepted: bool) -> Seq {
        let event = Event::SendFinished { webhook_id: id.into(), attempt, accepted, outcome: String::new() };
        self.add(at_ms, Some(by), event)
    }

    pub fn crash(&mut self, at_ms: u64, replica: &str) -> Seq {
        self.add(at_ms, Some(replica), Event::Crashed { replica: ReplicaId(replica.into()), point: None })
    }

    pub fn restart(&mut self, at_ms: u64, incarnation: &str) -> Seq {
        self.add(at_ms, Some(incarnation), Event::Restarted { replica: ReplicaId(incarnation.into()) })
    }
}

/// A request for plan 1's PIPELINE_FAILED#1 with `id`, answered `code`, at `at_ms`.
pub fn request(seq: u64, at_ms: u64, id: &str, code: u16) -> ReceivedRequest {
    ReceivedRequest {
        seq,
        at: ms(at_ms),
        webhook_id: Some(id.into()),
        timestamp: Some(0),
        signature_ok: true,
        payload: Some(Payload {
            plan: PlanId(1),
            title: "deploy".into(),
            project: "demo".into(),
            event: EventType::PipelineFailed,
            episode: 1,
            level: Level::Error,
            summary: "Rollout failed".into(),
            failed_tasks: vec![],
            link: String::new(),
        }),
        answer: Answer::status(code),
    }
}

/// A finished run of `log` and `requests`, ending at `end_ms`, with plan 1 created and
/// nothing judged.
pub fn result(log: Log, requests: Vec<ReceivedRequest>, end_ms: u64) -> RunResult {
    let trace = Trace {
        quiesced: true,
        elapsed: ms(end_ms),
        deadline: ms(2_000),
        plans: vec![PlanId(1)],
        claims: vec![],
        claim_snapshots: vec![],
        history: log.entries,
        requests,
        judged_from: DeliveryView::Receiver,
        final_state: vec![],
        leaked_actors: 0,
        host_lag: None,
    };
    RunResult { trace, report: Report { events: vec![], stray: vec![], payloads: vec![], pass: true } }
}

/// `result` as a run of scenario `name` under `strategy` (seed 1, memory store, no
/// expectations checked).
pub fn scenario_run(name: &str, strategy: StrategyKind, result: RunResult) -> ScenarioRun {
    ScenarioRun {
        name: name.to_owned(),
        strategy,
        status_write: strategy.status_write(),
        seed: 1,
        store: "memory",
        wall: Duration::ZERO,
        checks: vec![],
        ok: true,
        result,
        expected: Default::default(),
    }
}
