//! The actors of a simulated cluster. Each file holds one actor and the messages it
//! handles.
//!
//! A replica runs a delivery design through the hooks of [`Strategy`], and a hook
//! acts only through [`ReplicaCtx`]'s verbs; both are the replica's
//! (`replica/hooks.rs`, `replica/ctx.rs`), so no actor imports a design. The designs
//! and their registry are `crate::strategy`, which re-exports both.

mod director;
mod plan;
mod replica;
mod store;
mod task_run;
mod webhook;

pub use director::{Director, EndNow, ReplicaDown, SignalCancel};
pub use plan::{Act, PlanActor};
pub use replica::{
    CancelRun, CheckCompletion, CrashNow, Hook, ReplicaActor, ReplicaCtx, ReplicaParts, RunFinished, Serve,
    Served, StopReplica, Strategy, retrying,
};
pub use store::{
    CancelRuns, ClaimAvailableRuns, ClaimEvent, Claims, CreatePendingRuns, CreatePlan, FailAbandonedRuns,
    FailAbandonedRunsRaising, FinishRun, FinishRunRaising, Heartbeat, LeaseEvents, MarkDelivered,
    PromotePending, ReadOutbox, ReadPlanState, ResetClaim, SkipTasks, SkipTasksRaising, StopStore,
    StoreActor,
};
pub use task_run::{Abort, TaskRunActor};
pub use webhook::{Announce, StopWebhook, WebhookActor};
