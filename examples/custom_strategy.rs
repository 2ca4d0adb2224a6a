//! A delivery design written outside hasim, run by hasim's own command line.
//!
//! `claim-after-send` sends first and records the claim only once the endpoint has
//! accepted, so a crash between the two never loses an event. What it gives up shows
//! in the matrix: every replica that sees an event sends it, and the claim it writes
//! afterwards no longer stops anything.
//!
//! ```text
//! cargo run --example custom_strategy -- compare scenarios/ --store memory \
//!     --strategies seed-claim,claim-after-send --no-results
//! ```
//!
//! The binary this builds is `hasim` with one more strategy: `run --strategy
//! claim-after-send`, `explore --strategy claim-after-send`, scenario files that name
//! it and the HTML report all know it.

use std::process::ExitCode;

use hasim::model::{EventType, PlanId, RunStatus, TaskId};
use hasim::store::{Batch, EndedRun, NewRun, RaisedEvent};
use hasim::strategy::{Design, Hook, ReplicaCtx, Strategy};

/// Send, then claim.
struct ClaimAfterSend;

/// Reads the plan, sends `event` for its current episode and waits for the endpoint;
/// once it accepted, claims the event (a claim lost means another replica sent it
/// too).
fn send_then_claim(r: ReplicaCtx, plan: PlanId, event: EventType) -> Hook {
    Box::pin(async move {
        let state = r.plan_state(plan).await?;
        let raised = RaisedEvent { plan, event, episode: state.episode };
        if r.deliver(raised, &state, 1).await? {
            r.claim(plan, event).await?;
        }
        Ok(())
    })
}

impl Strategy for ClaimAfterSend {
    fn run_ended(&self, r: ReplicaCtx, run: EndedRun) -> Hook {
        match run.status {
            RunStatus::Failed => send_then_claim(r, run.plan, EventType::PipelineFailed),
            RunStatus::Done => {
                r.request_completion_check(run.plan);
                Box::pin(async { Ok(()) })
            }
            _ => Box::pin(async { Ok(()) }),
        }
    }

    fn check_completion(&self, r: ReplicaCtx, plan: PlanId) -> Hook {
        Box::pin(async move {
            let (complete, _) = r.check_complete(plan).await?;
            if complete {
                send_then_claim(r, plan, EventType::PipelineCompleted).await?;
            }
            Ok(())
        })
    }

    fn batch_run(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<NewRun>> {
        Box::pin(async move {
            // A retry opens a new episode: its events may be sent again.
            r.reset(plan).await?;
            r.create_runs(plan, tasks).await
        })
    }

    fn batch_skip(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<TaskId>> {
        Box::pin(async move {
            let batch = r.skip_tasks(plan, tasks).await?;
            r.request_completion_check(plan);
            Ok(batch)
        })
    }
}

fn main() -> ExitCode {
    let design = Design::new("claim-after-send", || ClaimAfterSend)
        .about("sends, then claims once the endpoint accepted: never lost to a crash, sent by every replica that sees it");
    hasim::cli::run_with([design])
}
