//! `TaskRunActor`: executes one task run on its replica: waits the run's scripted
//! duration, then reports the outcome to the replica, which writes it. It can be
//! aborted (the run was canceled, or the replica crashed).

use actix::prelude::*;

use super::replica::RunFinished;
use crate::model::RunId;
use crate::script::Attempt;
use crate::world::Token;

/// One run in progress.
pub struct TaskRunActor {
    run: RunId,
    attempt: Attempt,
    replica: Recipient<RunFinished>,
    _census: Token,
}

impl TaskRunActor {
    /// Executes `run` as `attempt` says, reporting its end to `replica`.
    pub fn new(run: RunId, attempt: Attempt, replica: Recipient<RunFinished>, census: Token) -> Self {
        TaskRunActor { run, attempt, replica, _census: census }
    }
}

impl Actor for TaskRunActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_later(self.attempt.duration, |act, ctx| {
            act.replica.do_send(RunFinished { run: act.run, outcome: act.attempt.outcome.clone() });
            ctx.stop();
        });
    }
}

/// Stop without reporting anything.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Abort;

impl Handler<Abort> for TaskRunActor {
    type Result = ();

    fn handle(&mut self, _: Abort, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
