//! A real HTTP endpoint on localhost around a [`Receiver`], for runs whose replicas send
//! real requests.
//!
//! Every POST, to any path, goes through [`Receiver::handle`]; the answer becomes an
//! HTTP status (with `Retry-After`, and after its delay when it is late), a response
//! that never comes, or a connection closed before any response.

use std::any::Any;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::time::Duration;

use actix_web::dev::{Extensions, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::rt::net::TcpStream;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use super::{Answer, Receiver, WebhookHeaders};
use crate::{Error, Result};

/// How long a hanging answer holds the request: far longer than any sender waits.
const HANG: Duration = Duration::from_secs(3600);

/// A running HTTP server that feeds a [`Receiver`].
#[derive(Debug)]
pub struct HttpReceiver {
    receiver: Receiver,
    addr: SocketAddr,
    server: ServerHandle,
}

impl HttpReceiver {
    /// Serves `receiver` on 127.0.0.1, on a port the OS picks, and returns once the
    /// socket listens. It must be called inside an actix system, which runs the server
    /// until [`stop`](Self::stop) (or until the system ends).
    pub fn start(receiver: Receiver) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(Error::Listen)?;
        let addr = listener.local_addr().map_err(Error::Listen)?;
        let data = web::Data::new(receiver.clone());
        let server = HttpServer::new(move || {
            let any_path = web::resource("/{path:.*}").route(web::post().to(serve));
            App::new().app_data(data.clone()).service(any_path)
        })
        .workers(1)
        .disable_signals()
        .on_connect(keep_socket)
        .listen(listener)
        .map_err(Error::Listen)?
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        tracing::info!(listening = %addr, "webhook receiver started");
        Ok(HttpReceiver { receiver, addr, server: handle })
    }

    /// The endpoint's URL: `http://127.0.0.1:PORT/webhook`.
    pub fn url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }

    /// The receiver it feeds.
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// Stops the server at once, dropping open connections (hanging requests included).
    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

async fn serve(request: HttpRequest, body: web::Bytes, receiver: web::Data<Receiver>) -> HttpResponse {
    let header = |name| request.headers().get(name).and_then(|value| value.to_str().ok());
    let headers = WebhookHeaders {
        id: header(WebhookHeaders::ID),
        timestamp: header(WebhookHeaders::TIMESTAMP),
        signature: header(WebhookHeaders::SIGNATURE),
    };
    match receiver.handle(headers, &body) {
        answer @ Answer::Status { code, delay, .. } => {
            if let Some(delay) = delay {
                actix_web::rt::time::sleep(delay).await;
            }
            status_response(code, answer.retry_after_secs())
        }
        Answer::Hang => {
            actix_web::rt::time::sleep(HANG).await;
            HttpResponse::GatewayTimeout().finish()
        }
        Answer::Reset => close_without_answer(&request),
    }
}

/// The response for a status answer. A code HTTP cannot carry becomes 500.
fn status_response(code: u16, retry_after_secs: Option<u64>) -> HttpResponse {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if let Some(secs) = retry_after_secs {
        response.insert_header((RETRY_AFTER, secs));
    }
    response.finish()
}

/// A second handle on a connection's socket, kept so a handler can close it.
struct Connection(std::net::TcpStream);

/// Keeps a [`Connection`] in every plain TCP connection's data.
fn keep_socket(connection: &dyn Any, data: &mut Extensions) {
    let Some(stream) = connection.downcast_ref::<TcpStream>() else { return };
    // Duplicating the descriptor only fails when the process is out of them; that
    // connection then answers a reset with 500 (see `close_without_answer`).
    if let Ok(fd) = stream.as_fd().try_clone_to_owned() {
        data.insert(Connection(std::net::TcpStream::from(fd)));
    }
}

/// Shuts the connection down in both directions, so the response returned afterwards
/// is never written and the client sees the connection end without an answer.
fn close_without_answer(request: &HttpRequest) -> HttpResponse {
    if let Some(Connection(socket)) = request.conn_data::<Connection>() {
        // It only fails if the client already went away, which is the same outcome.
        let _ = socket.shutdown(Shutdown::Both);
    }
    HttpResponse::InternalServerError().finish()
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode as Status;

    use super::*;
    use crate::clock::Clock;
    use crate::model::PlanId;
    use crate::webhook::{EndpointFault, Payload, Scope, Secret};

    fn start(receiver: &Receiver) -> HttpReceiver {
        HttpReceiver::start(receiver.clone()).unwrap()
    }

    fn next(behaviour: Answer) -> EndpointFault {
        EndpointFault { behaviour, scope: Scope::NextRequests(1) }
    }

    async fn post(url: &str, timeout: Duration) -> reqwest::Result<reqwest::Response> {
        crate::webhook::transport::client_builder()
            .build()
            .unwrap()
            .post(url)
            .body("{}")
            .timeout(timeout)
            .send()
            .await
    }

    #[actix_web::test]
    async fn records_signed_posts_on_any_path_and_answers_the_default_status() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let receiver = Receiver::new(Clock::start(), Some(secret.clone())).with_default_status(204);
        let server = start(&receiver);
        let payload = Payload::completed(PlanId(1), "release", "shop", 1);
        let (id, body) = (payload.webhook_id(), payload.to_json());
        let response = crate::webhook::transport::client_builder()
            .build()
            .unwrap()
            .post(server.url().replace("/webhook", "/any/path"))
            .header(WebhookHeaders::ID, &id)
            .header(WebhookHeaders::TIMESTAMP, "1700000000")
            .header(WebhookHeaders::SIGNATURE, secret.sign(&id, 1_700_000_000, &body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), Status::NO_CONTENT);
        let get = crate::webhook::transport::client_builder()
            .build()
            .unwrap()
            .get(server.url())
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), Status::METHOD_NOT_ALLOWED);
        let requests = receiver.requests();
        assert_eq!(requests.len(), 1, "only the POST is recorded");
        assert_eq!(requests[0].webhook_id.as_deref(), Some(id.as_str()));
        assert_eq!(requests[0].timestamp, Some(1_700_000_000));
        assert!(requests[0].signature_ok);
        assert_eq!(requests[0].payload, Some(payload));
        server.stop().await;
    }

    #[actix_web::test]
    async fn a_refusal_carries_retry_after_in_seconds() {
        let receiver = Receiver::new(Clock::start(), None);
        let server = start(&receiver);
        receiver.inject(next(Answer::Status {
            code: 503,
            retry_after: Some(Duration::from_millis(1500)),
            delay: None,
        }));
        let response = post(&server.url(), Duration::from_secs(10)).await.unwrap();
        assert_eq!(response.status(), Status::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER.as_str()], "2");
        server.stop().await;
    }

    #[actix_web::test]
    async fn a_hang_lasts_until_the_client_gives_up() {
        let receiver = Receiver::new(Clock::start(), None);
        let server = start(&receiver);
        receiver.inject(next(Answer::Hang));
        let error = post(&server.url(), Duration::from_millis(300)).await.unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        assert_eq!(receiver.requests()[0].answer, Answer::Hang);
        let after = post(&server.url(), Duration::from_secs(10)).await.unwrap();
        assert_eq!(after.status(), Status::OK, "the server still serves others");
        server.stop().await;
    }

    #[actix_web::test]
    async fn a_reset_closes_the_connection_without_any_response() {
        let receiver = Receiver::new(Clock::start(), None);
        let server = start(&receiver);
        receiver.inject(next(Answer::Reset));
        let error = post(&server.url(), Duration::from_secs(10)).await.unwrap_err();
        assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");
        assert_eq!(receiver.requests()[0].answer, Answer::Reset);
        let after = post(&server.url(), Duration::from_secs(10)).await.unwrap();
        assert_eq!(after.status(), Status::OK, "later connections are served");
        server.stop().await;
    }

    #[actix_web::test]
    async fn a_stopped_server_refuses_connections() {
        let server = start(&Receiver::new(Clock::start(), None));
        let url = server.url();
        server.stop().await;
        let error = post(&url, Duration::from_secs(10)).await.unwrap_err();
        assert!(error.is_connect(), "{error:?}");
    }
}
