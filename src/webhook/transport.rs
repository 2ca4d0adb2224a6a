//! How a sender reaches the endpoint: over real HTTP, or by calling the [`Receiver`]
//! in process. Both give the same [`SendOutcome`] for the same endpoint fault, so a
//! scenario can run fast and deterministic in process and still mean what HTTP means.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use super::{Answer, OutgoingRequest, Receiver, SendOutcome, WebhookHeaders};

/// A client builder on rustls with the `ring` provider, the TLS stack sqlx uses too
/// (reqwest is built without a provider of its own).
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    // Fails only when a provider is installed already (by an earlier call, or by a
    // program embedding hasim): either way there is one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// The way to the endpoint.
#[derive(Debug, Clone)]
pub enum Transport {
    /// POST to a URL with a real HTTP client.
    Http {
        /// The client (its connection pool is shared by clones).
        client: reqwest::Client,
        /// The endpoint.
        url: String,
    },
    /// Call the receiver directly; a hang or a late answer sleeps on tokio's clock, so
    /// it is virtual on a paused runtime.
    InProcess(Receiver),
}

impl Transport {
    /// HTTP to `url` (`http://` or `https://`) with a fresh client that does not follow
    /// redirects (a 3xx is a refusal). An `https://` endpoint's certificate must chain
    /// to a root the system trusts (`SSL_CERT_FILE` names others).
    pub fn http(url: impl Into<String>) -> Self {
        let client = client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client on rustls with its provider installed builds");
        Transport::Http { client, url: url.into() }
    }

    /// Sends `request` once, waiting at most `timeout` for the answer.
    pub async fn send(&self, request: &OutgoingRequest, timeout: Duration) -> SendOutcome {
        match self {
            Transport::Http { client, url } => send_http(client, url, request, timeout).await,
            Transport::InProcess(receiver) => send_in_process(receiver, request, timeout).await,
        }
    }
}

async fn send_http(
    client: &reqwest::Client,
    url: &str,
    request: &OutgoingRequest,
    timeout: Duration,
) -> SendOutcome {
    let mut post = client.post(url).header(CONTENT_TYPE, "application/json");
    if let Some(id) = &request.webhook_id {
        post = post.header(WebhookHeaders::ID, id);
    }
    let sent = post
        .header(WebhookHeaders::TIMESTAMP, request.timestamp)
        .header(WebhookHeaders::SIGNATURE, &request.signature)
        .body(request.body.clone())
        .timeout(timeout)
        .send()
        .await;
    match sent {
        Ok(response) => {
            SendOutcome::of_status(response.status().as_u16(), retry_after_secs(response.headers()))
        }
        Err(error) if error.is_timeout() => SendOutcome::TimedOut,
        Err(error) => SendOutcome::Failed { error: with_causes(&error) },
    }
}

/// `Retry-After` in seconds; the HTTP-date form is not used by the receiver and is ignored.
fn retry_after_secs(headers: &HeaderMap) -> Option<u64> {
    headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

/// The error and its causes, `: `-separated (reqwest's own message names only the URL).
fn with_causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text = format!("{text}: {inner}");
        cause = inner.source();
    }
    text
}

async fn send_in_process(receiver: &Receiver, request: &OutgoingRequest, timeout: Duration) -> SendOutcome {
    let timestamp = request.timestamp.to_string();
    let headers = WebhookHeaders {
        id: request.webhook_id.as_deref(),
        timestamp: Some(&timestamp),
        signature: Some(&request.signature),
    };
    match receiver.handle(headers, &request.body) {
        // A late answer that comes at or after the timeout is never read.
        Answer::Status { delay: Some(delay), .. } if delay >= timeout => {
            tokio::time::sleep(timeout).await;
            SendOutcome::TimedOut
        }
        answer @ Answer::Status { code, delay, .. } => {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            SendOutcome::of_status(code, answer.retry_after_secs())
        }
        Answer::Hang => {
            tokio::time::sleep(timeout).await;
            SendOutcome::TimedOut
        }
        Answer::Reset => SendOutcome::Failed { error: "connection closed without an answer".to_owned() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::webhook::outgoing::fixtures::{request, secret, signed};
    use crate::webhook::{EndpointFault, HttpReceiver, IdPolicy, ReceivedRequest, Scope};

    fn late(code: u16, ms: u64) -> Answer {
        Answer::Status { code, retry_after: None, delay: Some(Duration::from_millis(ms)) }
    }

    /// A receiver answering 503 (retry after 5 s), 429, a hang, a reset, a 200 50 ms
    /// late, a 200 600 ms late, then 204 for good.
    fn scripted_receiver() -> Receiver {
        let receiver = Receiver::new(Clock::start(), Some(secret())).with_default_status(204);
        let script = [
            Answer::Status { code: 503, retry_after: Some(Duration::from_secs(5)), delay: None },
            Answer::status(429),
            Answer::Hang,
            Answer::Reset,
            late(200, 50),
            late(200, 600),
        ];
        // Each fault covers requests 0..n, so the first that covers request n is script[n].
        for (n, behaviour) in (1..).zip(script) {
            receiver.inject(EndpointFault { behaviour, scope: Scope::NextRequests(n) });
        }
        receiver
    }

    /// Sends the same request eight times; errors are blanked, their wording is the client's.
    async fn outcomes(transport: &Transport) -> Vec<SendOutcome> {
        let mut outcomes = Vec::new();
        for _ in 0..8 {
            let outcome = match transport.send(&request(), Duration::from_millis(300)).await {
                SendOutcome::Failed { .. } => SendOutcome::Failed { error: String::new() },
                other => other,
            };
            outcomes.push(outcome);
        }
        outcomes
    }

    /// What the receiver saw, without arrival times (real time differs between runs).
    fn seen(receiver: &Receiver) -> Vec<ReceivedRequest> {
        receiver.requests().into_iter().map(|r| ReceivedRequest { at: Duration::ZERO, ..r }).collect()
    }

    #[actix_web::test]
    async fn both_transports_give_the_same_outcomes_for_the_same_faults() {
        let in_process = scripted_receiver();
        let over_http = scripted_receiver();
        let server = HttpReceiver::start(over_http.clone()).unwrap();

        let expected = vec![
            SendOutcome::Refused { status: 503, retry_after: Some(Duration::from_secs(5)) },
            SendOutcome::Refused { status: 429, retry_after: None },
            SendOutcome::TimedOut,
            SendOutcome::Failed { error: String::new() },
            SendOutcome::Accepted { status: 200 },
            SendOutcome::TimedOut,
            SendOutcome::Accepted { status: 204 },
            SendOutcome::Accepted { status: 204 },
        ];
        assert_eq!(outcomes(&Transport::InProcess(in_process.clone())).await, expected);
        assert_eq!(outcomes(&Transport::http(server.url())).await, expected);
        assert_eq!(seen(&in_process), seen(&over_http));
        assert!(seen(&over_http).iter().all(|r| r.signature_ok && r.payload.is_some()));
        // The answer held past the timeout was given all the same: the endpoint accepted.
        assert_eq!(seen(&over_http)[5].answer, late(200, 600));
        assert!(seen(&over_http)[5].answer.is_accepted());
        server.stop().await;
    }

    #[actix_web::test]
    async fn both_transports_send_a_request_without_id_that_verifies() {
        let in_process = Receiver::new(Clock::start(), Some(secret()));
        let over_http = Receiver::new(Clock::start(), Some(secret()));
        let server = HttpReceiver::start(over_http.clone()).unwrap();
        let request = signed(IdPolicy::Omitted);
        let timeout = Duration::from_secs(10);
        let ok = SendOutcome::Accepted { status: 200 };
        assert_eq!(Transport::InProcess(in_process.clone()).send(&request, timeout).await, ok);
        assert_eq!(Transport::http(server.url()).send(&request, timeout).await, ok);
        for receiver in [&in_process, &over_http] {
            let [seen] = &seen(receiver)[..] else { panic!("one request") };
            assert_eq!(seen.webhook_id, None);
            assert!(seen.signature_ok && seen.payload.is_some());
        }
        server.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn an_in_process_late_answer_is_read_after_its_delay_or_times_out() {
        let receiver = Receiver::new(Clock::start(), None);
        receiver.inject(EndpointFault { behaviour: late(200, 80), scope: Scope::NextRequests(1) });
        receiver.inject(EndpointFault { behaviour: late(200, 300), scope: Scope::NextRequests(2) });
        let transport = Transport::InProcess(receiver.clone());
        let timeout = Duration::from_millis(100);
        let started = tokio::time::Instant::now();
        assert_eq!(transport.send(&request(), timeout).await, SendOutcome::Accepted { status: 200 });
        assert_eq!(started.elapsed(), Duration::from_millis(80));
        assert_eq!(transport.send(&request(), timeout).await, SendOutcome::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_millis(180));
        let arrivals: Vec<(Duration, bool)> =
            receiver.requests().iter().map(|r| (r.at, r.answer.is_accepted())).collect();
        assert_eq!(arrivals, [(Duration::ZERO, true), (Duration::from_millis(80), true)]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_in_process_hang_takes_the_timeout_on_the_virtual_clock() {
        let receiver = Receiver::new(Clock::start(), None);
        receiver.inject(EndpointFault { behaviour: Answer::Hang, scope: Scope::NextRequests(1) });
        let started = tokio::time::Instant::now();
        let outcome = Transport::InProcess(receiver).send(&request(), Duration::from_secs(3)).await;
        assert_eq!(outcome, SendOutcome::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[actix_web::test]
    async fn http_to_a_closed_endpoint_fails_with_the_cause() {
        let server = HttpReceiver::start(Receiver::new(Clock::start(), None)).unwrap();
        let transport = Transport::http(server.url());
        server.stop().await;
        match transport.send(&request(), Duration::from_secs(10)).await {
            SendOutcome::Failed { error } => assert!(error.contains("onnect"), "{error}"),
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}
