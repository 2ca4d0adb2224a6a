//! Webhooks: what a replica sends when a pipeline fails or completes, how it is signed,
//! how it reaches the endpoint, and the endpoint that records it.
//!
//! - [`Payload`]: the JSON body, and [`webhook_id`], the id that stays the same
//!   across retries so the receiver can tell a retry from a second announcement.
//! - [`Secret`]: Standard Webhooks v1 signing and verification.

mod payload;
mod signing;

pub use payload::{FailedTask, Level, Payload, parse_webhook_id, webhook_id};
pub use signing::Secret;

