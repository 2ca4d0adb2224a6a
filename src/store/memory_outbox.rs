//! The memory side of the `outbox` strategy: the outbox table, raising events in the
//! same (atomic) operation as the change that owes them, and the relay's leases,
//! exactly as `postgres_outbox` does them.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::memory::Tables;
use super::{EndedRun, LeasedEvent, OutboxRow, RaisedEvent};
use crate::model::{EventType, PlanId, ReplicaId, RunStatus};

/// Outbox rows, in the order relays take them: plan, episode, event type as spelled.
pub(super) type Outbox = BTreeMap<(PlanId, u32, &'static str), Entry>;

#[derive(Debug)]
pub(super) struct Entry {
    event: RaisedEvent,
    leases: u32,
    lease_until: Option<Instant>,
    delivered: bool,
}

impl Tables {
    /// Inserts a row unless the event (or, for PIPELINE_COMPLETED, any completion of
    /// the plan) is there already.
    fn raise(&mut self, plan: PlanId, event: EventType, episode: u32) -> Option<RaisedEvent> {
        let raised = RaisedEvent { plan, event, episode };
        let outbox = self.outbox_mut();
        let completed_before = event == EventType::PipelineCompleted
            && outbox.values().any(|e| e.event.plan == plan && e.event.event == EventType::PipelineCompleted);
        let key = (plan, episode, event.as_str());
        if completed_before || outbox.contains_key(&key) {
            return None;
        }
        outbox.insert(key, Entry { event: raised, leases: 0, lease_until: None, delivered: false });
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
        self.outbox_mut()
            .values_mut()
            .filter(|e| !e.delivered && e.leases < max && e.lease_until.is_none_or(|until| until <= now))
            .take(limit as usize)
            .map(|e| {
                e.leases += 1;
                e.lease_until = Some(now + lease);
                LeasedEvent { event: e.event, leases: e.leases }
            })
            .collect()
    }

    /// Marks a row delivered; false when it already was or does not exist.
    pub(super) fn mark_delivered(&mut self, event: RaisedEvent) -> bool {
        match self.outbox_mut().get_mut(&(event.plan, event.episode, event.event.as_str())) {
            Some(e) if !e.delivered => {
                e.delivered = true;
                e.lease_until = None;
                true
            }
            _ => false,
        }
    }

    /// The whole outbox, in key order.
    pub(super) fn outbox_rows(&self) -> Vec<OutboxRow> {
        self.outbox_ref()
            .values()
            .map(|e| OutboxRow { event: e.event, leases: e.leases, delivered: e.delivered })
            .collect()
    }
}
