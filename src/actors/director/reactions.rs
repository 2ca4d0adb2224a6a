//! The users' reactions, as the director plays them. Once per tick it looks at every
//! plan the users created, on its own connection to the store (past every replica's
//! link, so faults do not blind it): what a user watching the plans would see. The
//! reactions a look fires are work to come (`pending`) until the user has acted, so
//! the run cannot end in between; the quiet check follows each look, so a failure
//! that a quiet check saw is looked at before the next quiet check counts.
//!
//! When a reaction's `after` has passed, the user looks at that plan once more and
//! acts on what it shows then: a user action like a timeline one, routed the same
//! way, logged with the rule that caused it.

use actix::prelude::*;

use super::Director;
use crate::actors::plan::Act;
use crate::reactions::{Firing, Move};
use crate::store::Store;

impl Director {
    /// Looks at every plan the users created, fires the reactions the look calls for,
    /// then checks whether the cluster is quiet. Skips the tick while a look is under
    /// way.
    pub(super) fn look(&mut self, ctx: &mut Context<Self>) {
        if self.watching || self.done.is_none() {
            return;
        }
        let plans = self.world.user_plans();
        if plans.is_empty() {
            self.check_quiet(ctx);
            return;
        }
        self.watching = true;
        let observer = self.observer.clone();
        ctx.spawn(
            async move {
                let mut states = Vec::with_capacity(plans.len());
                for (index, plan) in plans {
                    states.push((index, plan, observer.plan_state(plan).await?));
                }
                Ok::<_, crate::Error>(states)
            }
            .into_actor(self)
            .map(|states, act, ctx| {
                act.watching = false;
                if act.done.is_none() {
                    return;
                }
                match states {
                    Ok(states) => {
                        for firing in act.watch.look(&states) {
                            act.fire(firing, ctx);
                        }
                    }
                    Err(e) => tracing::debug!("cannot look at the plans: {e}"),
                }
                act.check_quiet(ctx);
            }),
        );
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
                    tracing::warn!(
                        reaction = firing.rule,
                        "no live replica to serve the request; it is dropped"
                    );
                    return;
                };
                act.world.busy(1);
                act.plans[firing.plan].do_send(Act {
                    action: rule.action,
                    tasks,
                    via,
                    via_id,
                    reaction: Some(firing.rule),
                });
            },
        ));
    }
}
