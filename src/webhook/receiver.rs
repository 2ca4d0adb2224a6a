//! The webhook endpoint's core, without I/O: it records every request it is handed and
//! decides the answer from the faults injected into it.
//!
//! The HTTP server ([`super::HttpReceiver`]) and the in-process transport
//! ([`super::Transport::InProcess`]) both call [`Receiver::handle`], so a fault script
//! means the same thing over either.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{Answer, EndpointFault, Payload, Secret};
use crate::clock::Clock;

/// The three Standard Webhooks headers of a request, as they arrived (`None` if absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`: Unix seconds, as text.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

impl WebhookHeaders<'_> {
    /// The name of the id header.
    pub const ID: &'static str = "webhook-id";
    /// The name of the timestamp header.
    pub const TIMESTAMP: &'static str = "webhook-timestamp";
    /// The name of the signature header.
    pub const SIGNATURE: &'static str = "webhook-signature";
}

/// One request as the receiver saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedRequest {
    /// The receiver's own order: 0, 1, 2, ...
    pub seq: u64,
    /// When it arrived, on the run's clock (whole microseconds).
    #[serde(rename = "at_us", with = "crate::history::micros")]
    pub at: Duration,
    /// The `webhook-id` header.
    pub webhook_id: Option<String>,
    /// The `webhook-timestamp` header, if it was a number.
    pub timestamp: Option<i64>,
    /// Whether the signature verified (always true for a receiver without a secret,
    /// which does not check). A request without `webhook-id` is verified over the
    /// empty id.
    pub signature_ok: bool,
    /// The body, if it was a valid [`Payload`].
    pub payload: Option<Payload>,
    /// What the receiver answered.
    pub answer: Answer,
}

/// The endpoint's core. Clones share the same record and faults.
#[derive(Debug, Clone)]
pub struct Receiver {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    clock: Clock,
    secret: Option<Secret>,
    state: Mutex<State>,
    /// How many requests are recorded, for [`Receiver::wait_for`].
    recorded: watch::Sender<usize>,
}

#[derive(Debug)]
struct State {
    default_status: u16,
    faults: Vec<Injected>,
    requests: Vec<ReceivedRequest>,
}

/// A fault, with the number of requests recorded when it was injected.
#[derive(Debug)]
struct Injected {
    fault: EndpointFault,
    first_seq: u64,
}

impl Receiver {
    /// A receiver that reads time from `clock`, checks signatures with `secret` if
    /// given, and answers 200 unless a fault says otherwise.
    pub fn new(clock: Clock, secret: Option<Secret>) -> Self {
        let state = State { default_status: 200, faults: Vec::new(), requests: Vec::new() };
        let shared = Shared { clock, secret, state: Mutex::new(state), recorded: watch::Sender::new(0) };
        Receiver { shared: Arc::new(shared) }
    }

    /// Answers `code`, instead of 200, when no fault applies (e.g. 204, as Discord does).
    pub fn with_default_status(self, code: u16) -> Self {
        self.lock().default_status = code;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a fault. Faults are consulted in the order they were added; the first that
    /// covers a request decides its answer.
    pub fn inject(&self, fault: EndpointFault) {
        let mut state = self.lock();
        let first_seq = state.requests.len() as u64;
        state.faults.push(Injected { fault, first_seq });
    }

    /// Records a request and returns the answer to give it.
    pub fn handle(&self, headers: WebhookHeaders<'_>, body: &[u8]) -> Answer {
        let timestamp = headers.timestamp.and_then(|t| t.parse().ok());
        let signature_ok = self.signature_ok(headers, timestamp, body);
        let payload = serde_json::from_slice(body).ok();
        let mut state = self.lock();
        // Read under the lock, so arrival times follow `seq`.
        let at = Duration::from_micros(self.shared.clock.now().as_micros() as u64);
        let seq = state.requests.len() as u64;
        let answer = state.answer(seq, at);
        let webhook_id = headers.id.map(str::to_owned);
        state.requests.push(ReceivedRequest {
            seq,
            at,
            webhook_id,
            timestamp,
            signature_ok,
            payload,
            answer,
        });
        self.shared.recorded.send_replace(state.requests.len());
        answer
    }

    fn signature_ok(&self, headers: WebhookHeaders<'_>, timestamp: Option<i64>, body: &[u8]) -> bool {
        let Some(secret) = &self.shared.secret else { return true };
        // A request without `webhook-id` is signed over the empty id.
        match (timestamp, headers.signature) {
            (Some(timestamp), Some(signature)) => {
                secret.verify(headers.id.unwrap_or_default(), timestamp, body, signature)
            }
            _ => false,
        }
    }

    /// A copy of every request recorded so far, in `seq` order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.lock().requests.clone()
    }

    /// How many requests were recorded.
    pub fn len(&self) -> usize {
        self.lock().requests.len()
    }

    /// Whether no request was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolves once at least `n` requests were recorded: a test or a crash fault can
    /// act right after a request reached the endpoint.
    pub async fn wait_for(&self, n: usize) {
        let mut recorded = self.shared.recorded.subscribe();
        recorded.wait_for(|&len| len >= n).await.expect("the receiver owns the sender");
    }
}

impl State {
    fn answer(&self, seq: u64, at: Duration) -> Answer {
        self.faults
            .iter()
            .find(|injected| injected.fault.scope.covers(injected.first_seq, seq, at))
            .map_or(Answer::status(self.default_status), |injected| injected.fault.behaviour)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PlanId;
    use crate::webhook::{Behaviour, Scope};

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn secret() -> Secret {
        Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
    }

    fn send(receiver: &Receiver) -> Answer {
        receiver.handle(WebhookHeaders::default(), b"{}")
    }

    fn answers(receiver: &Receiver, n: usize) -> Vec<Answer> {
        (0..n).map(|_| send(receiver)).collect()
    }

    fn fault(behaviour: Behaviour, scope: Scope) -> EndpointFault {
        EndpointFault { behaviour, scope }
    }

    #[tokio::test(start_paused = true)]
    async fn records_a_signed_payload_with_its_headers() {
        let receiver = Receiver::new(Clock::start(), Some(secret()));
        tokio::time::advance(secs(3)).await;
        let payload = Payload::completed(PlanId(9), "release", "shop", 1);
        let (id, body) = (payload.webhook_id(), payload.to_json());
        let signature = secret().sign(&id, 1_700_000_000, &body);
        let headers =
            WebhookHeaders { id: Some(&id), timestamp: Some("1700000000"), signature: Some(&signature) };
        assert_eq!(receiver.handle(headers, &body), Answer::status(200));
        let expected = ReceivedRequest {
            seq: 0,
            at: secs(3),
            webhook_id: Some(id),
            timestamp: Some(1_700_000_000),
            signature_ok: true,
            payload: Some(payload),
            answer: Answer::status(200),
        };
        assert_eq!(receiver.requests(), vec![expected]);
    }

    #[test]
    fn bad_or_missing_signatures_and_bodies_are_recorded_as_such() {
        let receiver = Receiver::new(Clock::start(), Some(secret()));
        let signed = WebhookHeaders { id: Some("m"), timestamp: Some("5"), signature: None };
        receiver.handle(signed, b"not json");
        let forged =
            WebhookHeaders { signature: Some("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="), ..signed };
        receiver.handle(forged, b"{}");
        let garbled = WebhookHeaders { timestamp: Some("soon"), ..signed };
        receiver.handle(garbled, b"{}");
        let requests = receiver.requests();
        assert!(requests.iter().all(|r| !r.signature_ok && r.payload.is_none()));
        assert_eq!(requests.iter().map(|r| r.timestamp).collect::<Vec<_>>(), [Some(5), Some(5), None]);
        assert_eq!(requests.iter().map(|r| r.seq).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn a_request_without_id_verifies_over_the_empty_id_only() {
        let receiver = Receiver::new(Clock::start(), Some(secret()));
        let body = Payload::completed(PlanId(9), "release", "shop", 1).to_json();
        let over_empty = secret().sign("", 1_700_000_000, &body);
        let over_id = secret().sign("msg_plan9_completed_ep1", 1_700_000_000, &body);
        for signature in [&over_empty, &over_id] {
            let headers =
                WebhookHeaders { id: None, timestamp: Some("1700000000"), signature: Some(signature) };
            receiver.handle(headers, &body);
        }
        let seen: Vec<(Option<String>, bool)> =
            receiver.requests().into_iter().map(|r| (r.webhook_id, r.signature_ok)).collect();
        assert_eq!(seen, [(None, true), (None, false)]);
    }

    #[test]
    fn a_receiver_without_secret_does_not_check() {
        let receiver = Receiver::new(Clock::start(), None);
        send(&receiver);
        assert!(receiver.requests()[0].signature_ok);
    }

    #[test]
    fn default_status_is_200_and_configurable() {
        let clock = Clock::start();
        assert_eq!(send(&Receiver::new(clock.clone(), None)), Answer::status(200));
        let discord = Receiver::new(clock, None).with_default_status(204);
        assert_eq!(send(&discord), Answer::status(204));
    }

    #[test]
    fn next_requests_counts_from_the_moment_of_injection() {
        let receiver = Receiver::new(Clock::start(), None);
        answers(&receiver, 2);
        receiver.inject(fault(Answer::Reset, Scope::NextRequests(2)));
        assert_eq!(answers(&receiver, 3), [Answer::Reset, Answer::Reset, Answer::status(200)]);
        assert_eq!(receiver.len(), 5);
    }

    #[test]
    fn the_first_covering_fault_decides() {
        let receiver = Receiver::new(Clock::start(), None);
        let busy = Answer::Status { code: 503, retry_after: Some(secs(5)), delay: None };
        receiver.inject(fault(busy, Scope::NextRequests(1)));
        receiver.inject(fault(Answer::Hang, Scope::NextRequests(2)));
        assert_eq!(answers(&receiver, 3), [busy, Answer::Hang, Answer::status(200)]);
    }

    #[tokio::test(start_paused = true)]
    async fn window_faults_follow_the_run_clock() {
        let clock = Clock::start();
        let receiver = Receiver::new(clock.clone(), None);
        receiver.inject(fault(Answer::Hang, Scope::Window { from: secs(10), until: Some(secs(20)) }));
        let mut seen = Vec::new();
        for at in [5, 10, 20] {
            tokio::time::sleep_until(clock.at(secs(at))).await;
            seen.push(send(&receiver));
        }
        assert_eq!(seen, [Answer::status(200), Answer::Hang, Answer::status(200)]);
        let times: Vec<Duration> = receiver.requests().iter().map(|r| r.at).collect();
        assert_eq!(times, [secs(5), secs(10), secs(20)]);
    }

    #[tokio::test(start_paused = true)]
    async fn wait_for_resolves_once_enough_requests_arrived() {
        let receiver = Receiver::new(Clock::start(), None);
        receiver.wait_for(0).await;
        send(&receiver);
        let early = tokio::time::timeout(secs(1), receiver.wait_for(2)).await;
        assert!(early.is_err(), "only one request arrived");
        let waiter = tokio::spawn({
            let receiver = receiver.clone();
            async move { receiver.wait_for(2).await }
        });
        send(&receiver);
        waiter.await.unwrap();
        assert_eq!(receiver.len(), 2);
    }

    #[test]
    fn requests_have_a_stable_json_form() {
        let receiver = Receiver::new(Clock::start(), None);
        let busy = Answer::Status { code: 503, retry_after: Some(secs(2)), delay: None };
        receiver.inject(fault(busy, Scope::NextRequests(1)));
        receiver.handle(WebhookHeaders { id: Some("x"), ..Default::default() }, b"{}");
        let mut json = serde_json::to_value(&receiver.requests()[0]).unwrap();
        json["at_us"] = 0.into();
        let expected = serde_json::json!({
            "seq": 0, "at_us": 0, "webhook_id": "x", "timestamp": null, "signature_ok": true,
            "payload": null, "answer": { "kind": "status", "code": 503, "retry_after_us": 2_000_000 },
        });
        assert_eq!(json, expected);
    }
}
