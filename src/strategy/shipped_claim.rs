//! `shipped-claim`: the claim design as the real system shipped it after its skip fix
//! (BYT-9398): BatchRunTasks and BatchSkipTasks both reset the claim row after their
//! store change, a skip requests a completion check, and an empty batch does nothing.
//! Sends go through the scenario's retry policy; the abandoned-run cleaner sends
//! nothing.
//!
//! Gaps it keeps: a crash after the claim or before the completion check still loses
//! the event, and a run or skip on an already-complete plan wipes the row, so
//! PIPELINE_COMPLETED can be announced twice.

use crate::model::{PlanId, TaskId};
use crate::store::{Batch, EndedRun, NewRun};

use super::{Hook, ReplicaCtx, SeedClaim, Strategy};

/// The claim design as shipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShippedClaim;

impl Strategy for ShippedClaim {
    fn run_ended(&self, r: ReplicaCtx, run: EndedRun) -> Hook {
        SeedClaim.run_ended(r, run)
    }

    fn check_completion(&self, r: ReplicaCtx, plan: PlanId) -> Hook {
        SeedClaim.check_completion(r, plan)
    }

    fn batch_run(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<NewRun>> {
        Box::pin(async move {
            let empty = tasks.is_empty();
            let batch = r.create_runs(plan, tasks).await?;
            if !empty {
                r.reset(plan).await?;
            }
            Ok(batch)
        })
    }

    fn batch_skip(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<TaskId>> {
        Box::pin(async move {
            let empty = tasks.is_empty();
            let batch = r.skip_tasks(plan, tasks).await?;
            if !empty {
                r.reset(plan).await?;
                r.request_completion_check(plan);
            }
            Ok(batch)
        })
    }
}
