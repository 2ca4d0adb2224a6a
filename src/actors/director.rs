//! `Director`: runs one scenario. It starts the replicas and the plans' users, plays
//! the timeline (user actions, timed crashes), makes the users react to what their
//! plans show (`reactions`), restarts crashed replicas, routes requests like a load
//! balancer, and ends the run once the cluster is quiet.

mod collect;
mod reactions;

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::plan::{Act, PlanActor};
use super::replica::{CancelRun, CrashNow, ReplicaActor, StopReplica};
use crate::faults::{FaultKind, Trigger};
use crate::history::Event;
use crate::link::{Link, LinkMode};
use crate::model::{PlanId, ReplicaId, RunId};
use crate::reactions::Watch;
use crate::spec::ClusterSpec;
use crate::store::{Backend, Cursor, PlanState, Store};
use crate::stores::Stores;
use crate::topology::DatabaseAction;
use crate::trace::{ClaimSnapshot, Trace};
use crate::world::{Token, World};

/// Work due at a moment of the timeline, in the order it is done at that moment: a
/// fault window that ends at the moment another starts has ended first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cue {
    FaultEnd(usize),
    Fault(usize),
    ReadClaims,
    Act(usize),
}

/// One replica name's slot: its live incarnation, if any.
struct Slot {
    incarnation: u32,
    live: Option<(ReplicaId, Addr<ReplicaActor>)>,
}

/// The run's conductor.
pub struct Director {
    spec: Rc<ClusterSpec>,
    world: World,
    stores: Rc<Stores>,
    observer: Backend,
    slots: BTreeMap<ReplicaId, Slot>,
    plans: Vec<Addr<PlanActor>>,
    next_route: usize,
    /// Whether the timeline is playing (every replica came up once).
    begun: bool,
    /// The timeline's moments still to come, each with its work.
    moments: BTreeMap<Duration, Vec<Cue>>,
    /// Timeline entries, reactions, replica starts and restarts still to come.
    pending: usize,
    /// What the users have seen of their plans, and their reactions so far.
    watch: Watch,
    /// Whether a look at the plans is under way.
    watching: bool,
    /// Where the next look reads the store's feed of changed plans from.
    cursor: Cursor,
    /// Every plan as the feed has shown it so far, the changed tasks of each read
    /// folded in.
    shown: HashMap<PlanId, PlanState>,
    /// The plans the users created, learnt so far: (order of creation, position in
    /// the scenario) by id.
    known: HashMap<PlanId, (usize, usize)>,
    quiet_checks: u32,
    done: Option<oneshot::Sender<Trace>>,
    claim_snapshots: Vec<ClaimSnapshot>,
    _census: Token,
}

impl Director {
    /// A director for `spec` on `stores`; the run's trace goes to `done`.
    pub fn new(
        spec: Rc<ClusterSpec>,
        world: World,
        stores: Rc<Stores>,
        observer: Backend,
        done: oneshot::Sender<Trace>,
    ) -> Self {
        let slots = (1..=spec.config.replicas)
            .map(|n| (ReplicaId::nth(n), Slot { incarnation: 0, live: None }))
            .collect();
        let census = world.census.token();
        let watch = Watch::new(spec.reactions.clone());
        Director {
            _census: census,
            spec,
            world,
            stores,
            observer,
            slots,
            plans: Vec::new(),
            next_route: 0,
            begun: false,
            moments: BTreeMap::new(),
            pending: 0,
            watch,
            watching: false,
            cursor: Cursor::default(),
            shown: HashMap::new(),
            known: HashMap::new(),
            quiet_checks: 0,
            done: Some(done),
            claim_snapshots: Vec::new(),
        }
    }

    fn start_replica(&mut self, name: ReplicaId, ctx: &mut Context<Self>) {
        let slot = self.slots.get_mut(&name).expect("known replica");
        slot.incarnation += 1;
        let id = match slot.incarnation {
            1 => name.clone(),
            n => ReplicaId(format!("{name}.{n}")),
        };
        self.pending += 1;
        let stores = self.stores.clone();
        let label = id.clone();
        let slot_name = name.clone();
        ctx.spawn(async move { stores.connect(&slot_name, label.as_str()).await }.into_actor(self).map(
            move |backend, act, ctx| {
                act.pending -= 1;
                // The run ended while the replica was connecting (at max_duration, or
                // asked to stop): nothing would ever stop it.
                if act.done.is_none() {
                    return;
                }
                let backend = match backend {
                    Ok(backend) => backend,
                    Err(e) => {
                        tracing::warn!(replica = %id, "cannot start: {e}; trying again");
                        let retry = act.world.config.abandon_after;
                        act.pending += 1;
                        ctx.run_later(retry, move |act, ctx| {
                            act.pending -= 1;
                            act.slots.get_mut(&name).expect("known").incarnation -= 1;
                            act.start_replica(name, ctx);
                        });
                        return;
                    }
                };
                if id != name {
                    act.world.history.record(Some(&id), Event::Restarted { replica: id.clone() });
                }
                let strategy = act.spec.strategy.build();
                let replica = ReplicaActor::new(
                    id.clone(),
                    name.clone(),
                    act.world.clone(),
                    strategy,
                    backend,
                    ctx.address().recipient(),
                )
                .start();
                act.slots.get_mut(&name).expect("known").live = Some((id, replica));
                if !act.begun && act.slots.values().all(|s| s.live.is_some()) {
                    act.begin(ctx);
                }
            },
        ));
    }

    /// Plays the timeline once every replica is up. Times stay those of the run's
    /// clock: an entry due while the cluster was starting fires at once.
    fn begin(&mut self, ctx: &mut Context<Self>) {
        self.begun = true;
        self.world.history.clock().restart();
        // Each distinct moment does its work in a fixed order (fault windows
        // ending, faults starting, claim-table reads, user actions, each in file
        // order): timers due at the same instant may fire in any order.
        for (index, fault) in self.spec.faults.iter().enumerate() {
            if let Trigger::At { at, until } = fault.trigger {
                self.moments.entry(at).or_default().push(Cue::Fault(index));
                if let Some(until) = until {
                    self.moments.entry(until).or_default().push(Cue::FaultEnd(index));
                }
            }
        }
        for &at in &self.spec.claim_snapshots {
            self.moments.entry(at).or_default().push(Cue::ReadClaims);
        }
        for (index, action) in self.spec.timeline.iter().enumerate() {
            self.moments.entry(action.at).or_default().push(Cue::Act(index));
        }
        self.pending += self.moments.values().map(Vec::len).sum::<usize>();
        self.next_moment(ctx);
    }

    /// Waits for the timeline's next moment, does its work, and so on: one timer at a
    /// time, as an actor's context polls every timer it holds whenever it wakes.
    fn next_moment(&mut self, ctx: &mut Context<Self>) {
        let Some((at, mut cues)) = self.moments.pop_first() else { return };
        let deadline = self.world.history.clock().at(at);
        ctx.spawn(tokio::time::sleep_until(deadline).into_actor(self).map(move |(), act, ctx| {
            cues.sort();
            for cue in cues {
                act.cue(cue, at, ctx);
            }
            act.next_moment(ctx);
        }));
    }

    fn cue(&mut self, cue: Cue, at: Duration, ctx: &mut Context<Self>) {
        match cue {
            Cue::FaultEnd(index) => {
                self.pending -= 1;
                self.heal(index, ctx);
            }
            Cue::Fault(index) => {
                self.pending -= 1;
                self.strike(index, ctx);
            }
            Cue::ReadClaims => {
                let observer = self.observer.clone();
                ctx.spawn(async move { observer.claims().await.unwrap_or_default() }.into_actor(self).map(
                    move |claims, act, _| {
                        act.pending -= 1;
                        act.claim_snapshots.push(ClaimSnapshot { at, rows: claims });
                    },
                ));
            }
            Cue::Act(index) => {
                self.pending -= 1;
                self.act(index);
            }
        }
    }

    /// The replica that serves a request: the named one, or the next live one.
    fn route(&mut self, named: Option<&ReplicaId>) -> Option<(ReplicaId, Addr<ReplicaActor>)> {
        if let Some(name) = named {
            return self.slots.get(name).and_then(|s| s.live.clone());
        }
        let live: Vec<_> = self.slots.values().filter_map(|s| s.live.clone()).collect();
        if live.is_empty() {
            return None;
        }
        self.next_route += 1;
        Some(live[(self.next_route - 1) % live.len()].clone())
    }

    fn act(&mut self, index: usize) {
        let action = self.spec.timeline[index].clone();
        let Some((via_id, via)) = self.route(action.via.as_ref()) else {
            self.drop_request(action.plan, action.action.as_str(), action.via, None);
            return;
        };
        self.world.busy(1);
        self.plans[action.plan].do_send(Act {
            action: action.action,
            tasks: action.tasks,
            via: via.recipient(),
            via_id,
            reaction: None,
        });
    }

    /// Records that a request for plan `plan_index` found no live replica to serve it
    /// (`via`, or any): the history, the reports and the summary show it.
    fn drop_request(&self, plan_index: usize, action: &str, via: Option<ReplicaId>, reaction: Option<usize>) {
        let plan =
            self.world.user_plans_from(0).into_iter().find(|(i, _)| *i == plan_index).map(|(_, id)| id);
        let name = self.spec.plans.get(plan_index).map(|p| p.name.clone()).unwrap_or_default();
        let named = via.as_ref().map_or("any", |v| v.0.as_str());
        tracing::warn!(plan = %name, action, via = named, "no live replica to serve the request; it is dropped");
        let event =
            Event::RequestDropped { plan_index, name, plan, action: action.to_owned(), via, reaction };
        self.world.history.record(None, event);
    }

    /// Starts fault `index` (a timed one).
    fn strike(&mut self, index: usize, ctx: &mut Context<Self>) {
        let fault = self.spec.faults[index].clone();
        let history = self.world.history.clone();
        history.record(
            fault.replica(),
            Event::FaultStarted { fault: fault.index, description: fault.describe() },
        );
        let link = fault.replica().and_then(|r| self.world.link(r)).cloned();
        match (&fault.kind, link) {
            (FaultKind::Crash { replica, restart_after }, _) => {
                match self.slots.get(replica).and_then(|s| s.live.as_ref()) {
                    Some((_, addr)) => addr.do_send(CrashNow {
                        fault: Some(fault.index),
                        point: None,
                        restart_after: *restart_after,
                    }),
                    None => tracing::debug!(%replica, "already down; the crash does nothing"),
                }
            }
            (FaultKind::DbPartition { .. }, Some(link)) => link.set_mode(LinkMode::Partition),
            (FaultKind::DbLatency { latency, .. }, Some(link)) => link.set_mode(LinkMode::Latency(*latency)),
            (FaultKind::DbReset { .. }, Some(link)) => link.reset(),
            // A failover is over when the standby has taken over, a restart when the
            // primary takes connections again: their ends say when.
            (FaultKind::DbFailover, _) => self.on_the_database(fault.index, DatabaseAction::Failover, ctx),
            (FaultKind::DbRestart, _) => self.on_the_database(fault.index, DatabaseAction::Restart, ctx),
            (FaultKind::ReplicationLag, _) => {
                self.on_the_database(fault.index, DatabaseAction::CutReplication, ctx)
            }
            (FaultKind::Endpoint(endpoint), _) => match &self.world.endpoint.receiver {
                Some(receiver) => receiver.inject(*endpoint),
                None => {
                    tracing::warn!("endpoint faults need the built-in receiver; fault {index} does nothing")
                }
            },
            (_, None) => tracing::warn!(fault = index, "no such replica link"),
        }
    }

    /// Does `action` to the run's primary-standby pair (or its model); the run does
    /// not end before it is done, and when it ends fault `fault`, that end is logged.
    fn on_the_database(&mut self, fault: usize, action: DatabaseAction, ctx: &mut Context<Self>) {
        let Some(db) = self.stores.pair().cloned() else {
            tracing::warn!(fault, "a database fault needs a primary-standby pair; it does nothing");
            return;
        };
        self.pending += 1;
        let links: Vec<Link> = self.world.links.values().cloned().collect();
        ctx.spawn(async move { db.act(action, &links).await }.into_actor(self).map(move |done, act, _| {
            act.pending -= 1;
            if let Err(e) = done {
                tracing::error!(fault, "the database fault failed: {e}");
            }
            if action.ends_the_fault() {
                act.world.history.record(None, Event::FaultEnded { fault });
            }
            // After a failover the database is the standby's: what the feed showed of
            // the old primary may be gone, and its positions do not carry over. Read
            // it all again.
            if action == DatabaseAction::Failover {
                act.cursor = Cursor::default();
                act.shown.clear();
            }
        }));
    }

    /// Ends the window of fault `index` (a timed one): a partition or latency heals,
    /// a replication lag catches up.
    fn heal(&mut self, index: usize, ctx: &mut Context<Self>) {
        let fault = &self.spec.faults[index];
        if matches!(fault.kind, FaultKind::ReplicationLag) {
            return self.on_the_database(fault.index, DatabaseAction::RestoreReplication, ctx);
        }
        let heals = matches!(fault.kind, FaultKind::DbPartition { .. } | FaultKind::DbLatency { .. });
        if let Some(link) = fault.replica().and_then(|r| self.world.link(r)).filter(|_| heals) {
            link.set_mode(LinkMode::Normal);
        }
        self.world.history.record(fault.replica(), Event::FaultEnded { fault: fault.index });
    }

    fn check_quiet(&mut self, ctx: &mut Context<Self>) {
        if !self.begun || self.pending > 0 || self.world.in_flight() > 0 {
            self.quiet_checks = 0;
            return;
        }
        let observer = self.observer.clone();
        ctx.spawn(
            async move { observer.work_left(crate::store::MAX_LEASES).await.map(|left| !left) }
                .into_actor(self)
                .map(|quiet, act, ctx| {
                    if matches!(quiet, Ok(true)) && act.world.in_flight() == 0 && act.pending == 0 {
                        act.quiet_checks += 1;
                        if act.quiet_checks >= 3 {
                            act.finish(true, ctx);
                        }
                    } else {
                        act.quiet_checks = 0;
                    }
                }),
        );
    }

    fn finish(&mut self, quiesced: bool, ctx: &mut Context<Self>) {
        let Some(done) = self.done.take() else { return };
        for slot in self.slots.values_mut() {
            if let Some((_, replica)) = slot.live.take() {
                replica.do_send(StopReplica);
            }
        }
        let (observer, world, spec) = (self.observer.clone(), self.world.clone(), self.spec.clone());
        let stores = self.stores.clone();
        let snapshots = std::mem::take(&mut self.claim_snapshots);
        ctx.spawn(
            async move {
                let trace = collect::collect(&spec, &world, (&stores, &observer), quiesced, snapshots).await;
                let _ = done.send(trace);
            }
            .into_actor(self)
            .map(|(), _, ctx| ctx.stop()),
        );
    }
}

impl Actor for Director {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let names: Vec<ReplicaId> = self.slots.keys().cloned().collect();
        for name in names {
            self.start_replica(name, ctx);
        }
        for (index, plan) in self.spec.plans.iter().enumerate() {
            self.plans.push(
                PlanActor::new(index, plan.clone(), self.world.clone(), ctx.address().recipient()).start(),
            );
        }
        ctx.run_interval(self.world.config.tick, |act, ctx| {
            if act.watch.is_empty() { act.check_quiet(ctx) } else { act.look(ctx) }
        });
        ctx.run_later(self.spec.max_duration, |act, ctx| act.finish(false, ctx));
    }
}

/// A replica stopped: it crashed. Restart it later if the fault says so.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ReplicaDown {
    /// The replica's scenario name.
    pub name: ReplicaId,
    /// When to start its next incarnation.
    pub restart_after: Option<Duration>,
}

impl Handler<ReplicaDown> for Director {
    type Result = ();

    fn handle(&mut self, msg: ReplicaDown, ctx: &mut Context<Self>) {
        if let Some(slot) = self.slots.get_mut(&msg.name) {
            slot.live = None;
        }
        if let Some(after) = msg.restart_after {
            self.pending += 1;
            ctx.run_later(after, move |act, ctx| {
                act.pending -= 1;
                if act.done.is_some() {
                    act.start_replica(msg.name, ctx);
                }
            });
        }
    }
}

/// End the run now, as at `max_duration`: the replicas stop and the result is
/// collected. Sent when a stop is asked ([`crate::interrupt`]); the runner does not
/// judge such a run.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct EndNow;

impl Handler<EndNow> for Director {
    type Result = ();

    fn handle(&mut self, _: EndNow, ctx: &mut Context<Self>) {
        self.finish(false, ctx);
    }
}

/// Tell the replica incarnation running `run` to cancel it.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SignalCancel {
    /// The incarnation id stored on the run.
    pub replica: ReplicaId,
    /// The run.
    pub run: RunId,
}

impl Handler<SignalCancel> for Director {
    type Result = ();

    fn handle(&mut self, msg: SignalCancel, _: &mut Context<Self>) {
        let live = self.slots.values().filter_map(|s| s.live.as_ref()).find(|(id, _)| *id == msg.replica);
        if let Some((_, replica)) = live {
            replica.do_send(CancelRun { run: msg.run });
        }
    }
}
