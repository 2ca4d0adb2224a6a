//! `PlanActor`: the user's side of one plan. It creates the rollout on its first
//! "run" and then sends BatchRunTasks, BatchSkipTasks and BatchCancelTaskRuns, each
//! to the replica the director routed it to, one request at a time.

use super::director::SignalCancel;
use super::replica::{Serve, Served};
use crate::history::Event;
use crate::model::{ReplicaId, TaskId};
use crate::script::PlanScript;
use crate::spec::ActionKind;
use crate::store::{CreatedPlan, NewPlan};
use crate::world::{Token, World};
use actix::prelude::*;

/// One plan, as its user sees it.
pub struct PlanActor {
    index: usize,
    script: PlanScript,
    world: World,
    /// Where it tells the director of a cancel it made (the director signals the run).
    director: Recipient<SignalCancel>,
    created: Option<CreatedPlan>,
    _census: Token,
}

impl PlanActor {
    /// The `index`-th plan of the scenario.
    pub fn new(index: usize, script: PlanScript, world: World, director: Recipient<SignalCancel>) -> Self {
        let census = world.census.token();
        PlanActor { index, script, world, director, created: None, _census: census }
    }
}

impl Actor for PlanActor {
    type Context = Context<Self>;
}

/// Do `action` to the tasks at `tasks` (positions in the plan; `None`: all), through
/// replica `via`.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Act {
    /// What to do.
    pub action: ActionKind,
    /// Which tasks, by position (0-based); `None` for every task.
    pub tasks: Option<Vec<usize>>,
    /// The replica serving the request.
    pub via: Recipient<Serve>,
    /// Its id, for the history.
    pub via_id: ReplicaId,
    /// The `[[reactions]]` rule that made the user act; `None` for the timeline's.
    pub reaction: Option<usize>,
}

impl Act {
    /// The action as the history names it: a reaction's run is a retry (the plan
    /// exists by the time anything happens to it); the timeline's keeps its name.
    fn word(&self) -> &'static str {
        match (self.reaction, self.action) {
            (Some(_), ActionKind::Run) => "retry",
            (_, action) => action.as_str(),
        }
    }
}

impl Handler<Act> for PlanActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, act: Act, _: &mut Context<Self>) -> Self::Result {
        let created = self.created.clone();
        let new_plan = NewPlan {
            project: self.script.project.clone(),
            title: self.script.name.clone(),
            tasks: self.script.tasks.iter().map(|t| t.name.clone()).collect(),
        };
        let world = self.world.clone();
        let director = self.director.clone();
        let (index, scripts) = (self.index, self.script.tasks.clone());
        AtomicResponse::new(Box::pin(
            async move {
                let created = match created {
                    Some(created) => created,
                    None => {
                        let Ok(Ok(Served::Created(created))) =
                            act.via.send(Serve::CreatePlan(new_plan)).await
                        else {
                            return None;
                        };
                        for (position, (task, script)) in created.tasks.iter().zip(scripts).enumerate() {
                            world.register_task(*task, index, position, script);
                        }
                        world.register_plan(index, created.plan);
                        created
                    }
                };
                let tasks: Vec<TaskId> = match &act.tasks {
                    None => created.tasks.clone(),
                    Some(positions) => {
                        positions.iter().filter_map(|&p| created.tasks.get(p).copied()).collect()
                    }
                };
                world.history.record(
                    Some(&act.via_id),
                    Event::UserAction {
                        plan: created.plan,
                        action: act.word().into(),
                        tasks: tasks.clone(),
                        reaction: act.reaction,
                    },
                );
                let request = match act.action {
                    ActionKind::Run => Serve::RunTasks(created.plan, tasks),
                    ActionKind::Skip => Serve::SkipTasks(created.plan, tasks),
                    ActionKind::Cancel => Serve::CancelTasks(created.plan, tasks),
                };
                match act.via.send(request).await {
                    Ok(Ok(Served::Canceled(cancellation))) => {
                        for (run, replica) in cancellation.running {
                            director.do_send(SignalCancel { replica, run: run.run });
                        }
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::debug!(via = %act.via_id, "request failed: {e}"),
                    Err(_) => tracing::debug!(via = %act.via_id, "the replica died serving the request"),
                }
                Some(created)
            }
            .into_actor(self)
            .map(|created, act, _| {
                if created.is_some() {
                    act.created = created;
                }
                act.world.idle(1);
            }),
        ))
    }
}
