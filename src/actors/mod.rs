//! The actors of a simulated cluster. Each file holds one actor and the messages it
//! handles.

mod store;

pub use store::{
    CancelRuns, ClaimAvailableRuns, ClaimEvent, Claims, CreatePendingRuns, CreatePlan, FailAbandonedRuns,
    FinishRun, Heartbeat, PromotePending, ReadPlanState, ResetClaim, SkipTasks, StoreActor,
};
