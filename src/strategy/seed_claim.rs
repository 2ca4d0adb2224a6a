//! `seed-claim`: the design plan as written (`plan_webhook_delivery` claims).
//!
//! - A run FAILED: claim PIPELINE_FAILED right after the status write; the winner
//!   reads the plan and sends. A crash or failed read after the claim loses the event.
//! - A run DONE: its plan id goes on the replica's in-memory channel; the listener
//!   checks completion and, when every task is done or skipped, claims
//!   PIPELINE_COMPLETED and sends. A crash before the check loses the event.
//! - BatchRunTasks deletes the claim row first (whatever the batch then does).
//! - BatchSkipTasks triggers nothing: the plan removed the channel that carried skips.
//! - The abandoned-run cleaner sends nothing.

use crate::model::{EventType, PlanId, RunStatus, TaskId};
use crate::store::{Batch, Claim, EndedRun, NewRun};

use super::{Hook, ReplicaCtx, Strategy};

/// The design plan's claim-then-send.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedClaim;

impl Strategy for SeedClaim {
    fn run_ended(&self, r: ReplicaCtx, run: EndedRun) -> Hook {
        Box::pin(async move {
            match run.status {
                RunStatus::Failed if r.claim(run.plan, EventType::PipelineFailed).await? == Claim::Won => {
                    let state = r.plan_state(run.plan).await?;
                    r.announce(run.plan, EventType::PipelineFailed, &state);
                }
                RunStatus::Done => r.request_completion_check(run.plan),
                _ => {}
            }
            Ok(())
        })
    }

    fn check_completion(&self, r: ReplicaCtx, plan: PlanId) -> Hook {
        Box::pin(async move {
            let (complete, state) = r.check_complete(plan).await?;
            if complete && r.claim(plan, EventType::PipelineCompleted).await? == Claim::Won {
                r.announce(plan, EventType::PipelineCompleted, &state);
            }
            Ok(())
        })
    }

    fn batch_run(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<NewRun>> {
        Box::pin(async move {
            // The plan resets before creating runs, and logs (not fails) a reset error.
            if let Err(e) = r.reset(plan).await {
                tracing::warn!(replica = %r.id, %plan, "failed to reset plan webhook delivery: {e}");
            }
            r.create_runs(plan, tasks).await
        })
    }

    fn batch_skip(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<TaskId>> {
        Box::pin(async move { r.skip_tasks(plan, tasks).await })
    }
}
