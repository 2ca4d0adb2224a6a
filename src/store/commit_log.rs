//! The commit log: how the database itself tells, after a run, which writes committed.
//!
//! A write that a replica invokes in a scenario run carries an [`OpTag`]: the
//! operation's number in the run, the replica incarnation that invoked it and the
//! history's sequence number at invocation. When the write changes something, the
//! store inserts that identity and the write's result into the commit log in the
//! write's own transaction (`hasim_commit_log` on Postgres, a map beside the tables
//! in the memory model), so a row is there exactly when the write committed. A write
//! that changed nothing leaves no row: whether it committed or not, nothing changed.
//!
//! After the run, every operation whose answer never came back (its replica crashed,
//! its link was cut, its reply was lost) is looked up here: committed, with what it
//! returned, or not.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::PgExecutor;

use super::{Batch, Cancellation, Claim, ClaimedRun, CreatedPlan, EndedRun, LeasedEvent, NewRun, Raising};
use crate::model::{EventType, OpId, ReplicaId, RunId, Seq, TaskId};
use crate::{Error, Result};

/// A write that commits something, as the after-commit fault point names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitOp {
    /// A claim on `plan_webhook_delivery` that won.
    Claim,
    /// A replica's DONE/FAILED/CANCELED write of its own run.
    StatusWrite,
    /// A write that inserted outbox rows (the outbox strategy).
    OutboxInsert,
    /// A relay's lease of outbox rows.
    Lease,
}

impl CommitOp {
    /// Every operation the after-commit point can name.
    pub const ALL: [CommitOp; 4] =
        [CommitOp::Claim, CommitOp::StatusWrite, CommitOp::OutboxInsert, CommitOp::Lease];

    /// The name scenario files use.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitOp::Claim => "claim",
            CommitOp::StatusWrite => "status-write",
            CommitOp::OutboxInsert => "outbox-insert",
            CommitOp::Lease => "lease",
        }
    }
}

impl fmt::Display for CommitOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Called by a Postgres store just before it sends COMMIT for a tagged write that
/// changed something, with the after-commit points the write passes.
pub type BeforeCommit = Arc<dyn Fn(&[CommitOp]) + Send + Sync>;

/// The identity of one write of a run, which the store records when it commits.
#[derive(Clone)]
pub struct OpTag {
    /// The operation's number in the run.
    pub op: OpId,
    /// The replica incarnation that invoked it.
    pub replica: ReplicaId,
    /// The history's sequence number when it was invoked.
    pub invoked: Seq,
    /// The after-commit fault point, on Postgres (see [`BeforeCommit`]).
    pub before_commit: Option<BeforeCommit>,
}

impl fmt::Debug for OpTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpTag")
            .field("op", &self.op)
            .field("replica", &self.replica)
            .field("invoked", &self.invoked)
            .finish_non_exhaustive()
    }
}

/// A write's result, as the commit log keeps it.
pub trait Recorded: Serialize + DeserializeOwned + Send + 'static {
    /// Whether the write changed something (only then is it logged).
    fn changed(&self) -> bool;

    /// The after-commit points this write passes when it commits.
    fn commit_ops(&self) -> Vec<CommitOp> {
        Vec::new()
    }
}

impl Recorded for CreatedPlan {
    fn changed(&self) -> bool {
        true
    }
}

impl Recorded for Claim {
    fn changed(&self) -> bool {
        *self == Claim::Won
    }
    fn commit_ops(&self) -> Vec<CommitOp> {
        if self.changed() { vec![CommitOp::Claim] } else { Vec::new() }
    }
}

impl Recorded for Option<EventType> {
    fn changed(&self) -> bool {
        self.is_some()
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Recorded for Batch<T> {
    fn changed(&self) -> bool {
        !self.changed.is_empty()
    }
}

impl Recorded for Cancellation {
    fn changed(&self) -> bool {
        !self.canceled.is_empty()
    }
}

macro_rules! recorded_vec {
    ($($t:ty => $ops:expr),* $(,)?) => {$(
        impl Recorded for Vec<$t> {
            fn changed(&self) -> bool {
                !self.is_empty()
            }
            fn commit_ops(&self) -> Vec<CommitOp> {
                if self.is_empty() { Vec::new() } else { $ops }
            }
        }
    )*};
}

recorded_vec! {
    NewRun => Vec::new(),
    RunId => Vec::new(),
    ClaimedRun => Vec::new(),
    EndedRun => Vec::new(),
    TaskId => Vec::new(),
    LeasedEvent => vec![CommitOp::Lease],
}

impl Recorded for Option<EndedRun> {
    fn changed(&self) -> bool {
        self.is_some()
    }
    fn commit_ops(&self) -> Vec<CommitOp> {
        if self.is_some() { vec![CommitOp::StatusWrite] } else { Vec::new() }
    }
}

impl<T: Recorded> Recorded for Raising<T> {
    fn changed(&self) -> bool {
        self.value.changed() || !self.raised.is_empty()
    }
    fn commit_ops(&self) -> Vec<CommitOp> {
        let mut ops = self.value.commit_ops();
        if !self.raised.is_empty() {
            ops.push(CommitOp::OutboxInsert);
        }
        ops
    }
}

impl Recorded for bool {
    fn changed(&self) -> bool {
        *self
    }
}

/// Rows of the commit log that the memory model and Postgres both return.
pub type Committed = Vec<(OpId, serde_json::Value)>;

/// The result as the commit log stores it.
pub(super) fn to_json<T: Recorded>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::CommitLog(format!("cannot record a result: {e}")))
}

/// A write's result from the JSON the commit log keeps of it (see [`to_json`]).
pub(super) fn from_json<T: Recorded>(value: serde_json::Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::CommitLog(format!("cannot read a result: {e}")))
}

/// Inserts `tag`'s row with `value` into `hasim_commit_log` (inside the write's
/// transaction), when `value` changed something; then lets the after-commit point act.
pub(super) async fn record<T: Recorded>(db: impl PgExecutor<'_>, tag: &OpTag, value: &T) -> Result<()> {
    if !value.changed() {
        return Ok(());
    }
    sqlx::query("INSERT INTO hasim_commit_log (op, replica, invoked, result) VALUES ($1, $2, $3, $4)")
        .bind(i64::try_from(tag.op).unwrap_or(i64::MAX))
        .bind(tag.replica.as_str())
        .bind(i64::try_from(tag.invoked).unwrap_or(i64::MAX))
        .bind(to_json(value)?)
        .execute(db)
        .await?;
    if let Some(before_commit) = &tag.before_commit {
        before_commit(&value.commit_ops());
    }
    Ok(())
}

/// The rows of `ops` in `hasim_commit_log`, by operation.
pub(super) async fn committed(db: impl PgExecutor<'_>, ops: &[OpId]) -> Result<Committed> {
    let ids: Vec<i64> = ops.iter().map(|&op| i64::try_from(op).unwrap_or(i64::MAX)).collect();
    let rows: Vec<(i64, serde_json::Value)> =
        sqlx::query_as("SELECT op, result FROM hasim_commit_log WHERE op = ANY($1) ORDER BY op")
            .bind(ids)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(|(op, result)| (op as OpId, result)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PlanId;
    use crate::store::RaisedEvent;

    #[test]
    fn only_writes_that_changed_something_are_logged() {
        assert!(Claim::Won.changed());
        assert!(!Claim::Lost.changed());
        assert!(!Vec::<RunId>::new().changed());
        assert!(vec![RunId(1)].changed());
        let nothing: Raising<Option<EndedRun>> = Raising { value: None, raised: Vec::new() };
        assert!(!nothing.changed());
        let raised = Raising {
            value: Vec::<EndedRun>::new(),
            raised: vec![RaisedEvent { plan: PlanId(1), event: EventType::PipelineFailed, episode: 1 }],
        };
        assert!(raised.changed());
        assert_eq!(raised.commit_ops(), vec![CommitOp::OutboxInsert]);
    }

    #[test]
    fn a_claim_passes_the_claim_point_only_when_it_won() {
        assert_eq!(Claim::Won.commit_ops(), vec![CommitOp::Claim]);
        assert!(Claim::Lost.commit_ops().is_empty());
    }

    #[test]
    fn commit_ops_use_the_scenario_spelling() {
        for op in CommitOp::ALL {
            assert_eq!(serde_json::to_string(&op).unwrap(), format!("\"{op}\""));
        }
    }
}
