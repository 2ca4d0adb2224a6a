//! The end of a run: the director collects the [`Trace`] from the world and the
//! store once the replicas have stopped. It judges nothing; the checker reads the
//! trace afterwards (`crate::check::check_trace`).

use std::time::Duration;

use crate::history::Event;
use crate::model::PlanId;
use crate::spec::ClusterSpec;
use crate::store::{Backend, Store};
use crate::stores::{OBSERVER, Stores};
use crate::trace::{ClaimSnapshot, DeliveryView, Trace};
use crate::webhook::Receiver;
use crate::world::World;

/// Everything the run produced, collected after its replicas were told to stop:
/// indeterminate writes resolved, the final state and claim table read on the
/// observer's connection `db`.
pub(super) async fn collect(
    spec: &ClusterSpec,
    world: &World,
    (stores, db): (&Stores, &Backend),
    quiesced: bool,
    claim_snapshots: Vec<ClaimSnapshot>,
) -> Trace {
    let elapsed = world.history.clock().now();
    resolve(world, stores, db).await;
    let plans = created_plans(world);
    let mut final_state = Vec::new();
    for &plan in &plans {
        if let Ok(state) = db.plan_state(plan).await {
            final_state.push((plan, state));
        }
    }
    let claims = db.claims().await.unwrap_or_default();
    let requests = world.endpoint.receiver.as_ref().map(Receiver::requests).unwrap_or_default();
    let judged_from = match &world.endpoint.receiver {
        Some(_) => DeliveryView::Receiver,
        None => DeliveryView::Senders,
    };
    Trace {
        quiesced,
        elapsed,
        deadline: spec.deadline,
        plans,
        claims,
        claim_snapshots,
        history: world.history.entries(),
        requests,
        judged_from,
        final_state,
        leaked_actors: 0,
        host_lag: None,
    }
}

/// Waits until no replica can write any more (the replicas are stopping: their
/// writes in flight are cut off), settles the database, and resolves every
/// indeterminate write from the commit log; on a pair that can fail over, also finds
/// the writes answered as committed that the database no longer has.
async fn resolve(world: &World, stores: &Stores, db: &Backend) {
    let Some(journal) = world.history.journal() else { return };
    for _ in 0..5_000 {
        if journal.settled() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    if journal.unresolved() > 0 {
        if let Err(e) = stores.settle(OBSERVER).await {
            tracing::warn!("cannot settle the database before resolving writes: {e}");
        }
        if let Err(e) = world.history.resolve(db).await {
            tracing::warn!("cannot read the commit log: {e}");
        }
    }
    // A database that can fail over may have lost writes it acknowledged.
    if stores.pair().is_some()
        && let Err(e) = world.history.find_lost(db).await
    {
        tracing::warn!("cannot look for the commits a failover lost: {e}");
    }
}

/// The plans created in the run, from its history, in the order they were created.
fn created_plans(world: &World) -> Vec<PlanId> {
    world
        .history
        .entries()
        .iter()
        .filter_map(|e| match e.event {
            Event::PlanCreated { plan, .. } => Some(plan),
            _ => None,
        })
        .collect()
}
