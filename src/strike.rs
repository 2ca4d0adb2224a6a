//! Striking a replica at a point: what happens when a replica passes a point where a
//! scenario's fault is armed ([`crate::faults::CrashPoints`]).
//!
//! - A crash is the replica's to carry out (it stops everything it owns): the
//!   passage returns a [`Crash`].
//! - A DB link fault (a reset, a partition) acts on the replica's link at once and
//!   is logged as a fault; the replica goes on.
//! - At `after-commit`, the write has committed on the server and its reply is on
//!   its way back. On the memory store the store actor strikes once the write has
//!   applied: a crash leaves the write unanswered, a reset loses its reply, a
//!   partition holds it until the link heals. On Postgres the store runs a hook
//!   just before it sends COMMIT ([`AtCommit::hook`]): the link's proxy starts
//!   holding the replies, the commit is sent, and once the commit log shows the
//!   write committed (read on the run's own connection, not through the link) the
//!   fault strikes, so the reply is really lost on the wire. Only a replica that
//!   has a link (some fault acts on it) runs the hook; the others' writes commit
//!   with no pause before COMMIT.

use std::future::pending;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::faults::{CrashPoint, PointAction, Strike};
use crate::history::{Event, OpId};
use crate::link::LinkMode;
use crate::model::ReplicaId;
use crate::store::{BeforeCommit, CommitOp, Recorded, Store};
use crate::world::World;
use crate::{Error, Result};

/// How long the Postgres after-commit point waits to see a write's commit.
const COMMIT_WAIT: Duration = Duration::from_secs(5);

/// A crash the replica that passed a point must carry out. It is also the message
/// the store actor's after-commit point sends the replica to crash it.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct Crash {
    /// The fault that fired.
    pub fault: usize,
    /// The point it fired at.
    pub point: CrashPoint,
    /// When to restart, if ever.
    pub restart_after: Option<Duration>,
}

impl World {
    /// Counts a passage of replica `name` (incarnation `id`) through `point`. A DB
    /// link fault armed there strikes now; a crash is returned for the replica.
    pub fn pass(&self, name: &ReplicaId, id: &ReplicaId, point: CrashPoint) -> Option<Crash> {
        let strike = self.crash_points.pass(name, point)?;
        match strike.action {
            PointAction::Crash { restart_after } => Some(Crash { fault: strike.fault, point, restart_after }),
            _ => {
                self.strike_link(name, id, &strike);
                None
            }
        }
    }

    /// Resets or partitions `name`'s link for `strike`, logging it as a fault (and,
    /// for a partition that heals, its end).
    fn strike_link(&self, name: &ReplicaId, id: &ReplicaId, strike: &Strike) {
        let Some(link) = self.link(name).cloned() else { return };
        let what = match strike.action {
            PointAction::DbReset => format!("db-reset {name}"),
            PointAction::DbPartition { heal_after: Some(after) } => {
                format!("db-partition {name}, healing after {after:?}")
            }
            _ => format!("db-partition {name}"),
        };
        let description = format!("{what} when {id} reached {}", strike.point);
        self.history.record(Some(id), Event::FaultStarted { fault: strike.fault, description });
        match strike.action {
            PointAction::DbReset => link.reset(),
            PointAction::DbPartition { heal_after } => {
                link.set_mode(LinkMode::Partition);
                let Some(after) = heal_after else { return };
                // The run is not over while the link is down.
                self.busy(1);
                let (world, by, fault) = (self.clone(), id.clone(), strike.fault);
                actix::spawn(async move {
                    tokio::time::sleep(after).await;
                    link.set_mode(LinkMode::Normal);
                    world.history.record(Some(&by), Event::FaultEnded { fault });
                    world.idle(1);
                });
            }
            PointAction::Crash { .. } => {}
        }
    }
}

/// The after-commit point of one replica incarnation, for its store actor.
#[derive(Clone, Debug)]
pub struct AtCommit {
    world: World,
    name: ReplicaId,
    id: ReplicaId,
    replica: Recipient<Crash>,
}

impl AtCommit {
    /// The after-commit point of incarnation `id` of replica `name`, which `replica`
    /// crashes.
    pub fn new(world: World, name: ReplicaId, id: ReplicaId, replica: Recipient<Crash>) -> Self {
        AtCommit { world, name, id, replica }
    }

    /// The first strike among the points a committed write with these `ops` passes.
    fn strike(&self, ops: &[CommitOp]) -> Option<Strike> {
        ops.iter().find_map(|op| self.world.crash_points.pass(&self.name, CrashPoint::AfterCommit(*op)))
    }

    /// On the memory store: the write applied and answered `value`. A crash leaves it
    /// unanswered (this future never resumes: the replica stops with it), a reset
    /// loses its reply, a partition holds the reply until the link heals.
    pub async fn applied<T: Recorded>(&self, value: T) -> Result<T> {
        let Some(strike) = self.strike(&value.commit_ops()) else { return Ok(value) };
        match strike.action {
            PointAction::Crash { restart_after } => {
                let crash = Crash { fault: strike.fault, point: strike.point, restart_after };
                self.replica.do_send(crash);
                pending().await
            }
            PointAction::DbReset => {
                self.world.strike_link(&self.name, &self.id, &strike);
                Err(Error::LinkReset)
            }
            PointAction::DbPartition { .. } => {
                self.world.strike_link(&self.name, &self.id, &strike);
                match self.world.link(&self.name) {
                    Some(link) => link.pass().await.map(|()| value),
                    None => Ok(value),
                }
            }
        }
    }

    /// On Postgres: the hook the store runs just before it sends COMMIT for write
    /// `op` (see the module's docs).
    pub fn hook(&self, op: OpId) -> BeforeCommit {
        let at = self.clone();
        Arc::new(move |ops: &[CommitOp]| {
            let Some(strike) = at.strike(ops) else { return };
            let Some(link) = at.world.link(&at.name).cloned() else { return };
            link.set_mode(LinkMode::HoldReplies);
            let at = at.clone();
            at.world.busy(1);
            actix::spawn(async move {
                at.committed(op).await;
                match strike.action {
                    PointAction::Crash { restart_after } => {
                        let crash = Crash { fault: strike.fault, point: strike.point, restart_after };
                        at.replica.do_send(crash);
                        // A dead process's sockets close: the held reply never arrives.
                        link.reset();
                        link.set_mode(LinkMode::Normal);
                    }
                    PointAction::DbReset => {
                        at.world.strike_link(&at.name, &at.id, &strike);
                        link.set_mode(LinkMode::Normal);
                    }
                    PointAction::DbPartition { .. } => at.world.strike_link(&at.name, &at.id, &strike),
                }
                at.world.idle(1);
            });
        })
    }

    /// Waits until the commit log shows `op` committed (or gives up after
    /// [`COMMIT_WAIT`]: the commit failed, and the fault strikes all the same).
    async fn committed(&self, op: OpId) {
        let Some(observer) = self.world.observer.clone() else { return };
        let deadline = tokio::time::Instant::now() + COMMIT_WAIT;
        while tokio::time::Instant::now() < deadline {
            if observer.committed(&[op]).await.is_ok_and(|rows| !rows.is_empty()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tracing::warn!(op, "the write did not commit within {COMMIT_WAIT:?}; striking anyway");
    }
}
