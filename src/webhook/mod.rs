//! Webhooks: what a replica sends when a pipeline fails or completes, how it is signed,
//! how it reaches the endpoint, and the endpoint that records it.
//!
//! - [`Payload`]: the JSON body, and [`webhook_id`], the id that stays the same
//!   across retries so the receiver can tell a retry from a second announcement.
//! - [`Secret`]: Standard Webhooks v1 signing and verification.
//! - [`Receiver`]: the endpoint's core, without I/O. It records every request and
//!   answers as its [`EndpointFault`]s script (otherwise with a configured status).
//! - [`HttpReceiver`]: the same receiver behind a real HTTP server on localhost.
//! - [`OutgoingRequest`]: a signed webhook, with or without its id, and
//!   [`SendOutcome`], what the sender saw of one try.
//! - [`Transport`]: how a sender reaches the endpoint, over HTTP or in process; both
//!   give the same [`SendOutcome`] for the same fault.
//! - [`WebhookPolicy`]: how a replica sends (timeout, tries, backoff, whether it sends
//!   an id), and [`WebhookPolicies`], what a scenario says about it per strategy.

mod fault;
mod http;
mod outgoing;
mod payload;
mod policy;
mod receiver;
mod signing;
mod transport;

pub use fault::{Answer, Behaviour, EndpointFault, Scope};
pub use http::HttpReceiver;
pub use outgoing::{OutgoingRequest, SendOutcome};
pub use payload::{FailedTask, Level, Payload, parse_webhook_id, webhook_id};
pub use policy::{IdPolicy, PolicyKeys, WebhookPolicies, WebhookPolicy};
pub use receiver::{ReceivedRequest, Receiver, WebhookHeaders};
pub use signing::Secret;
pub use transport::Transport;
