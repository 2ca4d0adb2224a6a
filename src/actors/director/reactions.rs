//! The users' reactions, as the director plays them. Once per tick it looks at the
//! plans the users created that changed since its last look, on its own connection
//! to the store (past every replica's link, so faults do not blind it): what a user
//! watching the plans would see. The
//! reactions a look fires are work to come (`pending`) until the user has acted, so
//! the run cannot end in between; the quiet check follows each look, so a failure
//! that a quiet check saw is looked at before the next quiet check counts.
//!
//! When a reaction's `after` has passed, the user looks at that plan once more and
//! acts on what it shows then: a user action like a timeline one, routed the same
//! way, logged with the rule that caused it.

use std::collections::hash_map::Entry;

use actix::prelude::*;

use super::Director;
use crate::actors::plan::Act;
use crate::model::PlanId;
use crate::reactions::{Firing, Move};
use crate::spec::ActionKind;
use crate::store::{PlanState, Store};

impl Director {
    /// Looks at the plans the users created that changed since the last look, fires
    /// the reactions the look calls for, then checks whether the cluster is quiet.
    /// Skips the tick while a look is under way. A plan that did not change since the
    /// last look shows the user nothing new, so it fires nothing: reading only the
    /// changed ones sees what a look at every plan would.
    pub(super) fn look(&mut self, ctx: &mut Context<Self>) {
        if self.watching || self.done.is_none() {
            return;
        }
        self.learn_plans();
        if self.known.is_empty() {
            self.check_quiet(ctx);
            return;
        }
        self.watching = true;
        let (observer, since) = (self.observer.clone(), self.cursor);
        ctx.spawn(async move { observer.changed_plans(since).await }.into_actor(self).map(
            |changes, act, ctx| {
                act.watching = false;
                if act.done.is_none() {
                    return;
                }
                match changes {
                    Ok(changes) => {
                        act.cursor = changes.cursor;
                        // A plan the users learnt of while the read ran is in it
                        // with every change since it was created.
                        act.learn_plans();
                        let plans = act.fold(changes.plans);
                        for firing in act.watch.look(&act.in_creation_order(plans)) {
                            act.fire(firing, ctx);
                        }
                    }
                    Err(e) => tracing::debug!("cannot look at the plans: {e}"),
                }
                act.check_quiet(ctx);
            },
        ));
    }

    /// Learns the plans the users created since the last look.
    fn learn_plans(&mut self) {
        for (index, plan) in self.world.user_plans_from(self.known.len()) {
            let order = self.known.len();
            self.known.insert(plan, (order, index));
        }
    }

    /// Folds what a read showed of each changed plan into what earlier reads showed
    /// (a read may show only a plan's changed tasks), and returns the changed plans
    /// whole.
    fn fold(&mut self, plans: Vec<(PlanId, PlanState)>) -> Vec<(PlanId, PlanState)> {
        plans
            .into_iter()
            .map(|(id, state)| {
                let whole = match self.shown.entry(id) {
                    Entry::Occupied(mut known) => {
                        known.get_mut().absorb(state);
                        known.into_mut()
                    }
                    Entry::Vacant(first) => first.insert(state),
                };
                (id, whole.clone())
            })
            .collect()
    }

    /// The changed plans the users know, as (position in the scenario, id, state), in
    /// the order they were created; a plan the users do not know yet is left out: its
    /// creation is all that can have changed, as users act only on plans they know.
    fn in_creation_order(&self, plans: Vec<(PlanId, PlanState)>) -> Vec<(usize, PlanId, PlanState)> {
        let mut known: Vec<_> = plans
            .into_iter()
            .filter_map(|(id, state)| self.known.get(&id).map(|&(order, index)| (order, index, id, state)))
            .collect();
        known.sort_unstable_by_key(|(order, ..)| *order);
        known.into_iter().map(|(_, index, id, state)| (index, id, state)).collect()
    }

    /// A reaction fired: the user acts once its `after` has passed.
    fn fire(&mut self, firing: Firing, ctx: &mut Context<Self>) {
        let after = self.watch.rule(firing.rule).after;
        self.pending += 1;
        ctx.run_later(after, move |act, ctx| act.react(firing, ctx));
    }

    /// The user looks at the plan again and does what the rule says to what it shows.
    fn react(&mut self, firing: Firing, ctx: &mut Context<Self>) {
        let observer = self.observer.clone();
        ctx.spawn(async move { observer.plan_state(firing.id).await }.into_actor(self).map(
            move |state, act, _| {
                act.pending -= 1;
                if act.done.is_none() {
                    return;
                }
                let state = match state {
                    Ok(state) => state,
                    Err(e) => {
                        tracing::warn!(reaction = firing.rule, "cannot look at the plan; no reaction: {e}");
                        act.watch.abandon(&firing);
                        return;
                    }
                };
                let Move::Act(tasks) = act.watch.act(&firing, &state) else { return };
                let rule = act.watch.rule(firing.rule).clone();
                let Some((via_id, via)) = act.route(rule.via.as_ref()) else {
                    // A reaction's run is a retry, as the plan's user names it.
                    let word = match rule.action {
                        ActionKind::Run => "retry",
                        other => other.as_str(),
                    };
                    act.drop_request(firing.plan, word, rule.via.clone(), Some(firing.rule));
                    return;
                };
                act.world.busy(1);
                act.plans[firing.plan].do_send(Act {
                    action: rule.action,
                    tasks,
                    via: via.recipient(),
                    via_id,
                    reaction: Some(firing.rule),
                });
            },
        ));
    }
}
