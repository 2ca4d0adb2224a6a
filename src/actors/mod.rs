//! The actors of a simulated cluster. Each file holds one actor and the messages it
//! handles.

mod director;
mod plan;
mod replica;
mod store;
mod task_run;
mod webhook;

pub use director::{Director, EndNow, ReplicaDown, SignalCancel};
pub use plan::{Act, PlanActor};
pub use replica::{
    CancelRun, CheckCompletion, CrashNow, ReplicaActor, RunFinished, Serve, Served, StopReplica,
};
pub use store::{
    CancelRuns, ClaimAvailableRuns, ClaimEvent, Claims, CreatePendingRuns, CreatePlan, FailAbandonedRuns,
    FailAbandonedRunsRaising, FinishRun, FinishRunRaising, Heartbeat, LeaseEvents, MarkDelivered,
    PromotePending, ReadOutbox, ReadPlanState, ResetClaim, SkipTasks, SkipTasksRaising, StopStore,
    StoreActor,
};
pub use task_run::{Abort, TaskRunActor};
pub use webhook::{Announce, StopWebhook, WebhookActor};
