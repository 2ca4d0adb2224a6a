//! How a store operation's answer reaches its sender: inside the store actor's
//! context, or as a task of its own.
//!
//! An actix context polls every future it holds each time it wakes, so a future per
//! operation in flight costs each wake-up as much as there are operations waiting.
//! On the memory model operations finish where they start (only a faulty link holds
//! them), so they stay in the context, which keeps the order a paused clock replays.
//! On a Postgres pool hundreds may wait for a connection at once: each runs as its
//! own task, woken only by what it waits for. The actor's stop cuts those tasks off
//! where they are, as it drops the futures in its context: a crashed replica's
//! queries end with it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::dev::{MessageResponse, OneshotSender};
use actix::prelude::*;
use tokio::sync::watch;

use super::StoreActor;
use crate::Result;

/// The answer of a store operation, as the handler gives it to actix.
pub enum Reply<T: 'static> {
    /// Run in the actor's context.
    InContext(ResponseActFuture<StoreActor, Result<T>>),
    /// Run as a task of its own, cut off when the actor stops.
    Task { op: Pin<Box<dyn Future<Output = Result<T>>>>, stop: watch::Receiver<()>, running: Running },
}

impl<M, T: 'static> MessageResponse<StoreActor, M> for Reply<T>
where
    M: Message<Result = Result<T>>,
{
    fn handle(self, ctx: &mut Context<StoreActor>, tx: Option<OneshotSender<Result<T>>>) {
        let answer = |result| {
            if let Some(tx) = tx {
                let _ = tx.send(result);
            }
        };
        match self {
            Reply::InContext(op) => {
                ctx.spawn(op.map(move |result, _, _| answer(result)));
            }
            Reply::Task { op, mut stop, running } => {
                if !running.kept.swap(true, Ordering::Relaxed) {
                    // One future in the context while any task runs: the actor lives
                    // on while it has work, as it does for the futures it holds.
                    let (mut count, kept) = (running.count.subscribe(), running.kept.clone());
                    ctx.spawn(actix::fut::wrap_future(async move {
                        let _ = count.wait_for(|running| *running == 0).await;
                        kept.store(false, Ordering::Relaxed);
                    }));
                }
                actix::spawn(async move {
                    let _running = running;
                    tokio::select! {
                        biased;
                        // The sender is never written to: this wakes when it is dropped.
                        _ = stop.changed() => {}
                        result = op => answer(result),
                    }
                });
            }
        }
    }
}

/// An actor's operations that run as tasks: the switch that cuts them off when the
/// actor stops, and how many are running.
#[derive(Debug)]
pub struct Tasks {
    switch: Option<watch::Sender<()>>,
    running: Arc<watch::Sender<usize>>,
    /// Whether a future in the actor's context waits for the running tasks.
    kept: Arc<AtomicBool>,
}

impl Tasks {
    /// No task yet, the switch not thrown.
    pub fn new() -> Self {
        let running = Arc::new(watch::channel(0).0);
        Tasks { switch: Some(watch::channel(()).0), running, kept: Arc::default() }
    }

    /// Operation `op` as a task of the actor; `None` once the switch was thrown.
    pub fn task<T: 'static>(&self, op: impl Future<Output = Result<T>> + 'static) -> Option<Reply<T>> {
        let stop = self.switch.as_ref()?.subscribe();
        self.running.send_modify(|running| *running += 1);
        let running = Running { count: self.running.clone(), kept: self.kept.clone() };
        Some(Reply::Task { op: Box::pin(op), stop, running })
    }

    /// Throws the switch: every task ends where it is.
    pub fn stop(&mut self) {
        self.switch = None;
    }
}

/// One running task, counted while it lives.
#[derive(Debug)]
pub struct Running {
    count: Arc<watch::Sender<usize>>,
    kept: Arc<AtomicBool>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.count.send_modify(|running| *running -= 1);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::Clock;
    use crate::history::History;
    use crate::model::ReplicaId;
    use crate::store::{Backend, MemoryStore};

    /// Answers `Ok(n)` after `after`, from the actor's context or as a task.
    struct Ask {
        n: u32,
        after: Duration,
        task: bool,
    }
    impl Message for Ask {
        type Result = Result<u32>;
    }
    impl Handler<Ask> for StoreActor {
        type Result = Reply<u32>;
        fn handle(&mut self, ask: Ask, _: &mut Context<Self>) -> Reply<u32> {
            let op = async move {
                tokio::time::sleep(ask.after).await;
                Ok(ask.n)
            };
            if ask.task {
                return self.tasks.task(op).expect("the actor runs");
            }
            Reply::InContext(Box::pin(op.into_actor(self)))
        }
    }

    fn actor() -> Addr<StoreActor> {
        let store = Backend::Memory(MemoryStore::new());
        StoreActor::new(ReplicaId::nth(1), store, History::new(Clock::start())).start()
    }

    #[actix::test]
    async fn a_task_answers_like_the_context_does() {
        let addr = actor();
        let now = Duration::ZERO;
        assert_eq!(addr.send(Ask { n: 7, after: now, task: true }).await.unwrap().unwrap(), 7);
        assert_eq!(addr.send(Ask { n: 8, after: now, task: false }).await.unwrap().unwrap(), 8);
    }

    #[actix::test]
    async fn the_actor_stopping_cuts_its_tasks_off_unanswered() {
        let addr = actor();
        let hour = Duration::from_secs(3600);
        let asked = addr.send(Ask { n: 1, after: hour, task: true });
        let stop = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            addr.do_send(super::super::StopStore);
        };
        let (answer, ()) = tokio::join!(tokio::time::timeout(Duration::from_secs(5), asked), stop);
        let answer = answer.expect("cut off when the actor stopped, not after the hour");
        assert!(answer.is_err(), "the sender hears that no answer will come: {answer:?}");
    }

    #[actix::test]
    async fn the_actor_lives_while_a_task_runs_though_no_one_holds_its_address() {
        let addr = actor();
        let asked = addr.send(Ask { n: 9, after: Duration::from_millis(50), task: true });
        drop(addr);
        let answer = tokio::time::timeout(Duration::from_secs(5), asked).await.expect("answered");
        assert_eq!(answer.unwrap().unwrap(), 9);
    }
}
