//! Delivery strategies: the designs under study, and the registry that names them.
//!
//! A design implements [`Strategy`], the lifecycle hooks a replica calls as runs end,
//! users act and time passes. The trait and [`ReplicaCtx`], the verbs a hook may use,
//! belong to the replica that runs them (`crate::actors`) and are re-exported here: a
//! hook runs inside its replica, dies with it, and reaches the database and the
//! endpoint only through the replica's own actors.

mod in_memory;
pub mod outbox;
mod registry;
mod seed_claim;
mod shipped_claim;

pub use crate::actors::{Hook, ReplicaCtx, ReplicaParts, Strategy, retrying};
pub use in_memory::InMemory;
pub use outbox::Outbox;
pub use registry::{Design, StrategyKind, register, shipped};
pub use seed_claim::SeedClaim;
pub use shipped_claim::ShippedClaim;
