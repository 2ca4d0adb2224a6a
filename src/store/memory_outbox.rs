//! The memory side of the `outbox` strategy: the outbox table, raising events in the
//! same (atomic) operation as the change that owes them, and the relay's leases,
//! exactly as `postgres_outbox` does them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use super::memory::Tables;
use super::{EndedRun, LeasedEvent, OutboxRow, RaisedEvent};
use crate::model::{EventType, PlanId, ReplicaId, RunStatus};

/// An outbox row's key, in the order relays take rows: plan, episode, event type as
/// spelled.
type Key = (PlanId, u32, &'static str);

/// The outbox table and its indexes: the rows not delivered yet (what a relay reads)
/// and the plans that have a PIPELINE_COMPLETED row (what a raise checks).
#[derive(Debug, Clone, Default)]
pub(super) struct Outbox {
    rows: BTreeMap<Key, Entry>,
    /// Keys of the rows not marked delivered, in key order.
    undelivered: BTreeSet<Key>,
    /// Plans with a PIPELINE_COMPLETED row, whatever its episode.
    completed: BTreeSet<PlanId>,
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    event: RaisedEvent,
    leases: u32,
    lease_until: Option<Instant>,
    delivered: bool,
}

impl Outbox {
    /// Whether a row not delivered yet has had fewer than `max_leases` leases: a
    /// relay still owes its delivery.
    pub(super) fn owes_delivery(&self, max_leases: u32) -> bool {
        self.undelivered.iter().any(|key| self.rows[key].leases < max_leases)
    }

    /// Where the indexes disagree with a scan of the rows; `Ok` when they agree.
    #[cfg(test)]
    pub(super) fn check(&self) -> Result<(), String> {
        let undelivered: BTreeSet<Key> =
            self.rows.iter().filter(|(_, e)| !e.delivered).map(|(k, _)| *k).collect();
        let completed: BTreeSet<PlanId> = self
            .rows
            .values()
            .filter(|e| e.event.event == EventType::PipelineCompleted)
            .map(|e| e.event.plan)
            .collect();
        if undelivered != self.undelivered {
            return Err(format!("undelivered rows: index {:?}, table {undelivered:?}", self.undelivered));
        }
        if completed != self.completed {
            return Err(format!("completed plans: index {:?}, table {completed:?}", self.completed));
        }
        Ok(())
    }
}

impl Tables {
    /// Inserts a row unless the event (or, for PIPELINE_COMPLETED, any completion of
    /// the plan) is there already.
    fn raise(&mut self, plan: PlanId, event: EventType, episode: u32) -> Option<RaisedEvent> {
        let raised = RaisedEvent { plan, event, episode };
        let outbox = self.outbox_mut();
        let completed_before = event == EventType::PipelineCompleted && outbox.completed.contains(&plan);
        let key = (plan, episode, event.as_str());
        if completed_before || outbox.rows.contains_key(&key) {
            return None;
        }
        outbox.rows.insert(key, Entry { event: raised, leases: 0, lease_until: None, delivered: false });
        outbox.undelivered.insert(key);
        if event == EventType::PipelineCompleted {
            outbox.completed.insert(plan);
        }
        Some(raised)
    }

    /// PIPELINE_FAILED for the plan's current episode.
    pub(super) fn raise_failed(&mut self, plan: PlanId) -> Option<RaisedEvent> {
        let episode = self.episode_of(plan)?;
        self.raise(plan, EventType::PipelineFailed, episode)
    }

    /// PIPELINE_COMPLETED when every task of the plan is done or skipped.
    pub(super) fn raise_if_complete(&mut self, plan: PlanId) -> Option<RaisedEvent> {
        let episode = self.episode_of(plan)?;
        if !self.complete(plan) {
            return None;
        }
        self.raise(plan, EventType::PipelineCompleted, episode)
    }

    /// What a run's end raises: FAILED for a failure, COMPLETED when it completed the plan.
    pub(super) fn raise_for_end(&mut self, ended: &EndedRun) -> Option<RaisedEvent> {
        match ended.status {
            RunStatus::Failed => self.raise_failed(ended.plan),
            RunStatus::Done => self.raise_if_complete(ended.plan),
            _ => None,
        }
    }

    /// Leases up to `limit` undelivered rows whose lease is free or expired.
    pub(super) fn lease(
        &mut self,
        _replica: &ReplicaId,
        limit: u32,
        lease: Duration,
        max: u32,
    ) -> Vec<LeasedEvent> {
        let now = Instant::now();
        let Outbox { rows, undelivered, .. } = self.outbox_mut();
        let free = |e: &Entry| e.leases < max && e.lease_until.is_none_or(|until| until <= now);
        let chosen: Vec<Key> =
            undelivered.iter().filter(|key| free(&rows[*key])).take(limit as usize).copied().collect();
        chosen
            .iter()
            .map(|key| {
                let e = rows.get_mut(key).expect("chosen from the table");
                e.leases += 1;
                e.lease_until = Some(now + lease);
                LeasedEvent { event: e.event, leases: e.leases }
            })
            .collect()
    }

    /// Marks a row delivered; false when it already was or does not exist.
    pub(super) fn mark_delivered(&mut self, event: RaisedEvent) -> bool {
        let outbox = self.outbox_mut();
        let key = (event.plan, event.episode, event.event.as_str());
        match outbox.rows.get_mut(&key) {
            Some(e) if !e.delivered => {
                e.delivered = true;
                e.lease_until = None;
                outbox.undelivered.remove(&key);
                true
            }
            _ => false,
        }
    }

    /// The whole outbox, in key order.
    pub(super) fn outbox_rows(&self) -> Vec<OutboxRow> {
        self.outbox_ref()
            .rows
            .values()
            .map(|e| OutboxRow { event: e.event, leases: e.leases, delivered: e.delivered })
            .collect()
    }
}
