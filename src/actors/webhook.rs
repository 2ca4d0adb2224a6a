//! `WebhookActor`: one per replica. Sends the events its replica won, signed, with the
//! run's webhook policy (tries, timeout, backoff, with or without `webhook-id`), and
//! logs every try. Sends run in the background of this actor:
//! when the replica crashes, whatever it had not sent is gone.

use std::future::pending;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;

use super::replica::CrashNow;
use crate::faults::CrashPoint;
use crate::history::Event;
use crate::model::ReplicaId;
use crate::webhook::{OutgoingRequest, Payload, SendOutcome, Transport};
use crate::world::{Token, World};

/// Unix time at the start of a run on the virtual clock (2026-01-01T00:00:00Z), so
/// in-process runs sign the same bytes on every replay.
const VIRTUAL_EPOCH: i64 = 1_767_225_600;

/// The sender of one replica incarnation.
pub struct WebhookActor {
    id: ReplicaId,
    name: ReplicaId,
    world: World,
    replica: Recipient<CrashNow>,
    in_flight: usize,
    _census: Token,
}

impl WebhookActor {
    /// The sender of replica incarnation `id` (scenario name `name`), which crashes
    /// `replica` when a fault strikes during a send.
    pub fn new(id: ReplicaId, name: ReplicaId, world: World, replica: Recipient<CrashNow>) -> Self {
        let census = world.census.token();
        WebhookActor { id, name, world, replica, in_flight: 0, _census: census }
    }
}

impl Actor for WebhookActor {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.world.idle(self.in_flight);
    }
}

/// Send this event with the run's webhook policy; answers whether the endpoint
/// accepted it. Tries are numbered from `first_attempt` (a redelivery of an event
/// already tried continues its numbering).
#[derive(Message, Debug, Clone)]
#[rtype(result = "bool")]
pub struct Announce {
    /// What to send.
    pub payload: Payload,
    /// The number of the first try.
    pub first_attempt: u32,
}

/// Stop at once, dropping unsent events.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct StopWebhook;

impl Handler<StopWebhook> for WebhookActor {
    type Result = ();

    fn handle(&mut self, _: StopWebhook, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<Announce> for WebhookActor {
    type Result = ResponseActFuture<Self, bool>;

    fn handle(&mut self, msg: Announce, _: &mut Context<Self>) -> Self::Result {
        self.in_flight += 1;
        self.world.busy(1);
        let sender = Sender {
            id: self.id.clone(),
            name: self.name.clone(),
            world: self.world.clone(),
            replica: self.replica.clone(),
        };
        Box::pin(async move { sender.deliver(msg.payload, msg.first_attempt).await }.into_actor(self).map(
            |accepted, act, _| {
                act.in_flight -= 1;
                act.world.idle(1);
                accepted
            },
        ))
    }
}

/// What one delivery needs, moved into its future.
struct Sender {
    id: ReplicaId,
    name: ReplicaId,
    world: World,
    replica: Recipient<CrashNow>,
}

impl Sender {
    /// Sends with the policy's tries, numbered from `first`; true once accepted.
    async fn deliver(self, payload: Payload, first: u32) -> bool {
        let endpoint = &self.world.endpoint;
        let policy = &self.world.policy;
        let history = &self.world.history;
        let request = OutgoingRequest::signed(&payload, &endpoint.secret, self.timestamp(), policy.id);
        // The history names the delivery by its stable id even when the request goes
        // without it, so that its tries, answers and abandonment pair up.
        let webhook_id = payload.webhook_id();
        let id_omitted = request.webhook_id.is_none();
        let tries = policy.attempts.max(1);
        let mut backoff = policy.backoff;
        for attempt in first..first + tries {
            history.record(
                Some(&self.id),
                Event::SendStarted {
                    plan: payload.plan,
                    event: payload.event,
                    episode: payload.episode,
                    webhook_id: webhook_id.clone(),
                    attempt,
                    id_omitted,
                },
            );
            let outcome = self.send(&request, policy.timeout).await;
            let accepted = outcome.is_accepted();
            history.record(
                Some(&self.id),
                Event::SendFinished {
                    webhook_id: webhook_id.clone(),
                    attempt,
                    accepted,
                    outcome: outcome.to_string(),
                },
            );
            if accepted {
                return true;
            }
            if attempt + 1 < first + tries {
                let wait = match outcome {
                    SendOutcome::Refused { retry_after: Some(after), .. } => backoff.max(after),
                    _ => backoff,
                };
                tokio::time::sleep(wait).await;
                backoff *= 2;
            }
        }
        let reason = format!("no 2xx after {tries} tries");
        history.record(Some(&self.id), Event::SendAbandoned { webhook_id, attempts: tries, reason });
        false
    }

    /// One try. When the scenario crashes this replica during a send, the request is
    /// written and reaches the endpoint, and the replica dies before reading the answer.
    async fn send(&self, request: &OutgoingRequest, timeout: Duration) -> SendOutcome {
        let endpoint = &self.world.endpoint;
        let Some(crash) = self.world.pass(&self.name, &self.id, CrashPoint::DuringSend) else {
            return endpoint.transport.send(request, timeout).await;
        };
        let send = endpoint.transport.send(request, timeout);
        match &endpoint.receiver {
            Some(receiver) => {
                let reached = receiver.wait_for(receiver.len() + 1);
                tokio::select! {
                    _ = send => {}
                    () = reached => {}
                }
            }
            // An outside endpoint cannot tell us when the request arrived: crash once
            // the transport returns, without looking at the answer.
            None => drop(send.await),
        }
        self.replica.do_send(crash.message());
        pending().await
    }

    /// The `webhook-timestamp`: virtual for the in-process endpoint (replays sign the
    /// same bytes), real for HTTP (receivers check it against their clock).
    fn timestamp(&self) -> i64 {
        match self.world.endpoint.transport {
            Transport::InProcess(_) => VIRTUAL_EPOCH + self.world.history.clock().now().as_secs() as i64,
            Transport::Http { .. } => {
                SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
            }
        }
    }
}
