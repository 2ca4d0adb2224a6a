//! The history of a run: one append-only log of typed entries from every actor, each
//! with a global sequence number and a time on the run's clock.
//!
//! Store writes are logged by the replica's store actor when the write returns, with
//! the sequence number the log had when the write was invoked (`invoked`), so the
//! checker can tell writes that were ordered (`a.seq < b.invoked`) from writes that
//! overlapped in time, whose commit order is unknown. A write whose answer never came
//! is indeterminate until the run is over, when the store's commit log says whether
//! it committed (`history/journal.rs`).

mod journal;

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::model::{EventType, PlanId, ReplicaId, RunId, RunStatus, TaskId};
use crate::store::{Claim, NewRun, RaisedEvent, RunRef};

pub use crate::model::{OpId, Seq};
pub use journal::{Journal, OpGuard, Resolver, StoreAlive};

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Its position.
    pub seq: Seq,
    /// When it was appended, on the run's clock.
    #[serde(rename = "at_us", with = "micros")]
    pub at: Duration,
    /// The replica whose actor appended it, if any (user actions are served by one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<ReplicaId>,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// What a history entry records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The user asked for something (logged when the request is issued).
    UserAction {
        /// The plan.
        plan: PlanId,
        /// What was asked: `run`, `retry`, `skip`, `cancel`.
        action: String,
        /// The tasks it names.
        tasks: Vec<TaskId>,
        /// The `[[reactions]]` rule (by position) that made the user act; `None` for
        /// an action of the timeline.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reaction: Option<usize>,
    },
    /// A user's request found no live replica to serve it (the replica it names is
    /// down, or every one is), so it never reached the cluster: nothing it asked for
    /// happened, and nothing is owed for it.
    RequestDropped {
        /// The plan's position in the scenario (a dropped first `run` never creates
        /// the plan, so it may have no id).
        plan_index: usize,
        /// The plan's name in the scenario.
        name: String,
        /// The plan, when it exists.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan: Option<PlanId>,
        /// What was asked: `run`, `retry`, `skip`, `cancel`.
        action: String,
        /// The replica the request named, when it named one (else: any live one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<ReplicaId>,
        /// The `[[reactions]]` rule (by position) that made the user act; `None` for
        /// an action of the timeline.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reaction: Option<usize>,
    },
    /// A plan and its tasks were created.
    PlanCreated {
        /// The plan.
        plan: PlanId,
        /// Its tasks, in order.
        tasks: Vec<TaskId>,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// BatchRunTasks created PENDING runs. A non-empty batch starts an episode.
    RunsCreated {
        /// The plan.
        plan: PlanId,
        /// The runs created (may be empty).
        runs: Vec<NewRun>,
        /// The plan's episode after the write.
        episode: u32,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// BatchSkipTasks set the skip flag. A non-empty batch starts an episode.
    TasksSkipped {
        /// The plan.
        plan: PlanId,
        /// The tasks newly skipped (may be empty).
        tasks: Vec<TaskId>,
        /// The plan's episode after the write.
        episode: u32,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// BatchCancelTaskRuns canceled queued runs and found running ones to signal.
    RunsCanceled {
        /// The plan.
        plan: PlanId,
        /// Runs now CANCELED.
        canceled: Vec<RunRef>,
        /// RUNNING runs whose replicas are told to stop.
        running: Vec<RunRef>,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// PENDING runs became AVAILABLE.
    RunsPromoted {
        /// The runs.
        runs: Vec<RunId>,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// A replica took an AVAILABLE run (it is now RUNNING there).
    RunStarted {
        /// The run.
        run: RunId,
        /// Its task.
        task: TaskId,
        /// Its plan.
        plan: PlanId,
        /// Its attempt.
        attempt: i32,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// A run ended: a RUNNING run finished by its replica or failed by the cleaner,
    /// or an ended run overwritten by an unfenced status write (`overwrote`).
    RunEnded {
        /// The run.
        run: RunId,
        /// Its task.
        task: TaskId,
        /// Its plan.
        plan: PlanId,
        /// Its attempt.
        attempt: i32,
        /// DONE, FAILED or CANCELED.
        status: RunStatus,
        /// The end this write replaced, when the run had already ended (an unfenced
        /// status write over the cleaner's FAILED, say): the run moved from one end
        /// to another.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overwrote: Option<RunStatus>,
        /// The error, for FAILED.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Whether the abandoned-run cleaner ended it (the replica that ran it is gone).
        by_cleaner: bool,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// A claim on `plan_webhook_delivery` returned.
    ClaimAttempted {
        /// The plan.
        plan: PlanId,
        /// The event type claimed.
        event: EventType,
        /// Won or lost.
        claim: Claim,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// A plan's claim row was deleted.
    ClaimReset {
        /// The plan.
        plan: PlanId,
        /// The event type the deleted row held, if there was one.
        deleted: Option<EventType>,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// A write raised outbox events in its transaction.
    EventsRaised {
        /// The events.
        events: Vec<RaisedEvent>,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// A completion check read the plan's tasks.
    CompletionChecked {
        /// The plan.
        plan: PlanId,
        /// Whether every task was done or skipped.
        complete: bool,
        /// Whether any task's latest run had failed.
        failed: bool,
    },
    /// A webhook request is about to be sent.
    SendStarted {
        /// The plan.
        plan: PlanId,
        /// The event announced.
        event: EventType,
        /// The episode the payload names.
        episode: u32,
        /// The delivery's id: the `webhook-id` header, or with `id_omitted` the id
        /// the sender names the delivery by, which the receiver never sees.
        webhook_id: String,
        /// 1 for the first try, then 2, 3, ...
        attempt: u32,
        /// Whether the request went without a `webhook-id` header (`id = "none"`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        id_omitted: bool,
    },
    /// A webhook request returned (or failed) at the sender.
    SendFinished {
        /// The delivery's id, as its `SendStarted` names it.
        webhook_id: String,
        /// The try this answers.
        attempt: u32,
        /// Whether the endpoint accepted it (any 2xx).
        accepted: bool,
        /// What the sender saw, for people: `204`, `503 retry after 1s`, `timed out`, ...
        outcome: String,
    },
    /// The sender stopped trying to deliver an event.
    SendAbandoned {
        /// The delivery's id, as its `SendStarted` names it.
        webhook_id: String,
        /// Tries made.
        attempts: u32,
        /// Why it stopped.
        reason: String,
    },
    /// A store operation failed (connection lost, timeout, ...). For a write
    /// (`op_id` given) that is no proof it did not commit: a `StoreResolved` entry
    /// after the run says.
    StoreFailed {
        /// The operation.
        op: String,
        /// The error.
        error: String,
        /// `invoked` of the operation.
        invoked: Seq,
        /// The write's number in the journal, for writes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        op_id: Option<OpId>,
    },
    /// A store write was cut off in flight: its replica stopped before the answer
    /// came. A `StoreResolved` entry after the run says whether it committed.
    StoreDropped {
        /// The operation.
        op: String,
        /// The write's number in the journal.
        op_id: OpId,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// After the run, from the store's commit log: whether a write whose answer
    /// never came (`StoreFailed` or `StoreDropped`) committed a change. When it did,
    /// the entries of what it changed follow, with the write's `invoked`: it
    /// committed somewhere between its invocation and the end of the run.
    StoreResolved {
        /// The operation.
        op: String,
        /// The write's number in the journal.
        op_id: OpId,
        /// `invoked` of the write.
        invoked: Seq,
        /// Whether it committed a change (a write that changed nothing leaves no
        /// trace, whether it committed or not).
        committed: bool,
    },
    /// A write that was answered as committed, and changed something, is not in the
    /// database at the end: a failover lost it (the standby had not received it).
    /// Logged after the run, one per such write, in invocation order.
    CommitLost {
        /// The operation.
        op: String,
        /// The write's number in the journal.
        op_id: OpId,
        /// `invoked` of the write.
        invoked: Seq,
    },
    /// A replica crashed: it and everything it owned stopped at once.
    Crashed {
        /// The replica.
        replica: ReplicaId,
        /// The crash point that triggered it, if it was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        point: Option<String>,
    },
    /// A crashed replica was started again, with empty memory.
    Restarted {
        /// The replica.
        replica: ReplicaId,
    },
    /// A fault began to act.
    FaultStarted {
        /// Its index in the scenario's fault list.
        fault: usize,
        /// A one-line description.
        description: String,
    },
    /// A fault stopped acting.
    FaultEnded {
        /// Its index in the scenario's fault list.
        fault: usize,
    },
}

impl Event {
    /// For a store write: the sequence number the history had when it was invoked.
    pub fn invoked(&self) -> Option<Seq> {
        use Event::*;
        match self {
            PlanCreated { invoked, .. }
            | RunsCreated { invoked, .. }
            | TasksSkipped { invoked, .. }
            | RunsCanceled { invoked, .. }
            | RunsPromoted { invoked, .. }
            | RunStarted { invoked, .. }
            | RunEnded { invoked, .. }
            | ClaimAttempted { invoked, .. }
            | ClaimReset { invoked, .. }
            | EventsRaised { invoked, .. }
            | StoreFailed { invoked, .. }
            | StoreDropped { invoked, .. }
            | StoreResolved { invoked, .. }
            | CommitLost { invoked, .. } => Some(*invoked),
            _ => None,
        }
    }
}

/// The shared, append-only log. Clones append to the same log.
#[derive(Debug, Clone)]
pub struct History {
    clock: Clock,
    /// `None` for a history that keeps nothing ([`History::discard`]).
    entries: Option<Arc<Mutex<Vec<Entry>>>>,
    /// The writes in flight and the indeterminate ones (`None` with `entries`).
    journal: Option<Journal>,
}

impl History {
    /// An empty history on `clock`.
    pub fn new(clock: Clock) -> Self {
        History { clock, entries: Some(Arc::default()), journal: Some(Journal::default()) }
    }

    /// A history that keeps nothing, for work that is measured rather than judged
    /// (benchmarks, `hasim doctor`): appending costs nothing and memory stays flat.
    pub fn discard() -> Self {
        History { clock: Clock::start(), entries: None, journal: None }
    }

    fn lock(&self) -> Option<MutexGuard<'_, Vec<Entry>>> {
        self.entries.as_ref().map(|e| e.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The run's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The sequence number the next entry will get: take it when invoking a store
    /// write and pass it back as the write's `invoked`.
    pub fn mark(&self) -> Seq {
        self.lock().map_or(0, |entries| entries.len() as Seq)
    }

    /// Appends an entry and returns its sequence number.
    pub fn record(&self, by: Option<&ReplicaId>, event: Event) -> Seq {
        let Some(mut entries) = self.lock() else { return 0 };
        // Whole microseconds, as the JSON form keeps them.
        let at = Duration::from_micros(self.clock.now().as_micros() as u64);
        let seq = entries.len() as Seq;
        tracing::trace!(seq, ?by, ?event, "history");
        entries.push(Entry { seq, at, by: by.cloned(), event });
        seq
    }

    /// A copy of every entry so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().map(|entries| entries.clone()).unwrap_or_default()
    }

    /// Writes the history as JSON lines, one entry a line.
    pub fn write_jsonl(entries: &[Entry], mut out: impl Write) -> io::Result<()> {
        for entry in entries {
            serde_json::to_writer(&mut out, entry)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Durations as whole microseconds in JSON.
pub(crate) mod micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as microseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_micros() as u64)
    }

    /// Deserializes from microseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_micros(u64::deserialize(d)?))
    }
}

/// Optional durations as whole microseconds in JSON (`null` when absent).
pub(crate) mod micros_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes as microseconds, or `null`.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        d.map(|d| d.as_micros() as u64).serialize(s)
    }

    /// Deserializes from microseconds, or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_numbered_in_order_and_round_trip_through_json_lines() {
        let history = History::new(Clock::start());
        assert_eq!(history.mark(), 0);
        let r1 = ReplicaId::nth(1);
        let invoked = history.mark();
        let a = history.record(
            Some(&r1),
            Event::ClaimAttempted {
                plan: PlanId(1),
                event: EventType::PipelineFailed,
                claim: Claim::Won,
                invoked,
            },
        );
        let b = history.record(None, Event::Crashed { replica: r1, point: Some("after-claim".into()) });
        assert_eq!((a, b), (0, 1));
        assert_eq!(history.mark(), 2);

        let mut out = Vec::new();
        History::write_jsonl(&history.entries(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().next().unwrap().contains(r#""kind":"claim_attempted""#), "{text}");
        let back: Vec<Entry> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(back, history.entries());
    }
}
