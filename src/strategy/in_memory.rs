//! `in-memory`: the design before HA. Each replica announces what it sees on its own
//! in-memory channel and remembers what it sent; there is no shared claim. With one
//! replica it works; with several, two replicas that each see a failure of the same
//! episode both announce it, and what a crashed replica remembered is gone.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use crate::model::{EventType, PlanId, RunStatus, TaskId};
use crate::store::{Batch, EndedRun, NewRun};

use super::{Hook, ReplicaCtx, Strategy};

/// Per-replica memory of what was announced: (plan, event, episode).
#[derive(Debug, Clone, Default)]
pub struct InMemory {
    sent: Rc<RefCell<HashSet<(PlanId, EventType, u32)>>>,
}

impl InMemory {
    /// Announces `event` for `plan` unless this replica already did in this episode.
    fn announce_once(&self, r: ReplicaCtx, plan: PlanId, event: EventType) -> Hook {
        let sent = self.sent.clone();
        Box::pin(async move {
            let state = r.plan_state(plan).await?;
            if sent.borrow_mut().insert((plan, event, state.episode)) {
                r.announce(plan, event, &state);
            }
            Ok(())
        })
    }
}

impl Strategy for InMemory {
    fn run_ended(&self, r: ReplicaCtx, run: EndedRun) -> Hook {
        match run.status {
            RunStatus::Failed => self.announce_once(r, run.plan, EventType::PipelineFailed),
            RunStatus::Done => {
                r.request_completion_check(run.plan);
                Box::pin(async { Ok(()) })
            }
            _ => Box::pin(async { Ok(()) }),
        }
    }

    fn check_completion(&self, r: ReplicaCtx, plan: PlanId) -> Hook {
        let this = self.clone();
        Box::pin(async move {
            let (complete, _) = r.check_complete(plan).await?;
            if complete {
                this.announce_once(r, plan, EventType::PipelineCompleted).await?;
            }
            Ok(())
        })
    }

    fn batch_run(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<NewRun>> {
        Box::pin(async move { r.create_runs(plan, tasks).await })
    }

    fn batch_skip(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<TaskId>> {
        Box::pin(async move {
            let batch = r.skip_tasks(plan, tasks).await?;
            // The skip goes on the same channel as DONE runs.
            r.request_completion_check(plan);
            Ok(batch)
        })
    }
}
