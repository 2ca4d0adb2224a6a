//! What a sender sends and what it sees: a signed webhook ready to send
//! ([`OutgoingRequest`]), with or without its `webhook-id`, and the outcome of one try
//! ([`SendOutcome`]), the same over HTTP and in process.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{IdPolicy, Payload, Secret};

/// A signed webhook, ready to send (and to send again: retries reuse it unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// The `webhook-id` header; `None` sends none.
    pub webhook_id: Option<String>,
    /// The `webhook-timestamp` header, Unix seconds.
    pub timestamp: i64,
    /// The `webhook-signature` header.
    pub signature: String,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl OutgoingRequest {
    /// The request announcing `payload`, signed with `secret` at `timestamp` (Unix
    /// seconds), with the payload's stable `webhook-id` or, under
    /// [`IdPolicy::Omitted`], without one: it is then signed over the empty id, which
    /// is how [`Receiver`](super::Receiver) verifies a request that carries none.
    pub fn signed(payload: &Payload, secret: &Secret, timestamp: i64, id: IdPolicy) -> Self {
        let webhook_id = match id {
            IdPolicy::Stable => Some(payload.webhook_id()),
            IdPolicy::Omitted => None,
        };
        let body = payload.to_json();
        let signature = secret.sign(webhook_id.as_deref().unwrap_or_default(), timestamp, &body);
        OutgoingRequest { webhook_id, timestamp, signature, body }
    }
}

/// What the sender saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SendOutcome {
    /// Any 2xx: delivered (Discord answers 204).
    Accepted {
        /// The status.
        status: u16,
    },
    /// Any other status.
    Refused {
        /// The status.
        status: u16,
        /// The `Retry-After` the endpoint asked for, in whole seconds.
        #[serde(default, rename = "retry_after_us", with = "crate::history::micros_opt")]
        retry_after: Option<Duration>,
    },
    /// No answer within the timeout.
    TimedOut,
    /// No answer at all: connection refused, or closed before any response.
    Failed {
        /// What the client said.
        error: String,
    },
}

impl SendOutcome {
    /// The outcome of an answer with `status` (and `Retry-After`, in seconds).
    pub(super) fn of_status(status: u16, retry_after_secs: Option<u64>) -> Self {
        if (200..300).contains(&status) {
            SendOutcome::Accepted { status }
        } else {
            SendOutcome::Refused { status, retry_after: retry_after_secs.map(Duration::from_secs) }
        }
    }

    /// Whether the webhook was delivered.
    pub fn is_accepted(&self) -> bool {
        matches!(self, SendOutcome::Accepted { .. })
    }
}

/// For people and the history: `204`, `503 retry after 5s`, `timed out`, `failed: ...`.
impl fmt::Display for SendOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendOutcome::Accepted { status } | SendOutcome::Refused { status, retry_after: None } => {
                write!(f, "{status}")
            }
            SendOutcome::Refused { status, retry_after: Some(after) } => {
                write!(f, "{status} retry after {after:?}")
            }
            SendOutcome::TimedOut => f.write_str("timed out"),
            SendOutcome::Failed { error } => write!(f, "failed: {error}"),
        }
    }
}

/// A signed request and its secret, for the tests of the webhook modules.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::model::{PlanId, TaskId};
    use crate::webhook::FailedTask;

    /// The secret the fixtures sign with.
    pub(crate) fn secret() -> Secret {
        Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
    }

    /// A PIPELINE_FAILED request of plan 4, signed with [`secret`], with `id`.
    pub(crate) fn signed(id: IdPolicy) -> OutgoingRequest {
        let task = FailedTask { task: TaskId(2), name: "migrate".into(), error: "boom".into() };
        OutgoingRequest::signed(
            &Payload::failed(PlanId(4), "release", "shop", 1, vec![task]),
            &secret(),
            1_700_000_000,
            id,
        )
    }

    /// [`signed`] with a stable id.
    pub(crate) fn request() -> OutgoingRequest {
        signed(IdPolicy::Stable)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{request, secret, signed};
    use super::*;

    /// Whether `request`'s signature verifies over `id`.
    fn verifies(request: &OutgoingRequest, id: &str) -> bool {
        secret().verify(id, request.timestamp, &request.body, &request.signature)
    }

    #[test]
    fn a_signed_request_carries_the_payload_and_verifies() {
        let request = request();
        assert_eq!(request.webhook_id.as_deref(), Some("msg_plan4_failed_ep1"));
        let payload: Payload = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(Some(payload.webhook_id()), request.webhook_id);
        assert!(verifies(&request, "msg_plan4_failed_ep1"));
    }

    #[test]
    fn a_request_without_id_is_signed_over_the_empty_id() {
        let request = signed(IdPolicy::Omitted);
        assert_eq!(request.webhook_id, None);
        assert_eq!(request.body, self::request().body, "the same body");
        assert!(verifies(&request, "") && !verifies(&request, "msg_plan4_failed_ep1"));
    }

    #[test]
    fn outcomes_read_well_and_serialize_as_tagged_json() {
        let busy = SendOutcome::Refused { status: 503, retry_after: Some(Duration::from_secs(5)) };
        assert_eq!(busy.to_string(), "503 retry after 5s");
        assert_eq!(SendOutcome::Accepted { status: 204 }.to_string(), "204");
        assert_eq!(SendOutcome::TimedOut.to_string(), "timed out");
        assert!(SendOutcome::Accepted { status: 204 }.is_accepted() && !busy.is_accepted());
        let json = serde_json::to_string(&busy).unwrap();
        assert_eq!(json, r#"{"kind":"refused","status":503,"retry_after_us":5000000}"#);
        assert_eq!(serde_json::from_str::<SendOutcome>(&json).unwrap(), busy);
    }
}
