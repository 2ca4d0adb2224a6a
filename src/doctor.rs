//! `hasim doctor`: checks that a Postgres server can host hasim runs, end to end:
//! connect, create and migrate a run schema, race a few replicas for claims, drop it.

use actix::prelude::*;
use serde::Serialize;

use crate::Result;
use crate::actors::{ClaimEvent, StoreActor};
use crate::history::History;
use crate::model::{EventType, ReplicaId};
use crate::store::{Backend, Claim, NewPlan, PgStore, RunSchema, Store};

/// What the check found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The server's URL, without its password.
    pub url: String,
    /// `SELECT version()`.
    pub server_version: String,
    /// The run schema that was created and migrated.
    pub schema: String,
    /// Replicas that raced.
    pub replicas: usize,
    /// Plans they raced for.
    pub plans: usize,
    /// Claims won, over all plans (must equal `plans`).
    pub winners: usize,
    /// Whether the schema was kept (`--keep-schema`) rather than dropped.
    pub kept: bool,
}

/// Runs the check against the server at `url`. Must run inside an actix system.
pub async fn doctor(url: &str, replicas: usize, plans: usize, keep_schema: bool) -> Result<DoctorReport> {
    let schema = RunSchema::create(url).await?;
    let outcome = race(&schema, replicas, plans).await;
    if keep_schema {
        schema.terminate(None).await?;
    } else {
        schema.drop_schema().await?;
    }
    let (server_version, winners) = outcome?;
    Ok(DoctorReport {
        url: schema.url().to_owned(),
        server_version,
        schema: schema.name().to_owned(),
        replicas,
        plans,
        winners,
        kept: keep_schema,
    })
}

async fn race(schema: &RunSchema, replicas: usize, plans: usize) -> Result<(String, usize)> {
    let setup = schema.pool("doctor", 1, None).await?;
    let (version,): (String,) = sqlx::query_as("SELECT version()").fetch_one(&setup).await?;
    let store = PgStore::new(setup);
    let mut ids = Vec::with_capacity(plans);
    for n in 0..plans {
        let plan = NewPlan { project: "doctor".into(), title: format!("plan {n}"), tasks: vec!["t".into()] };
        ids.push(store.create_plan(&plan).await?.plan);
    }
    let history = History::discard();
    let mut claimers = Vec::with_capacity(replicas);
    for r in 1..=replicas {
        let replica = ReplicaId::nth(r);
        let pool = schema.pool(replica.as_str(), 1, None).await?;
        claimers
            .push(StoreActor::new(replica, Backend::Postgres(PgStore::new(pool)), history.clone()).start());
    }
    let mut winners = 0;
    for plan in ids {
        let claims = claimers.iter().map(|c| c.send(ClaimEvent { plan, event: EventType::PipelineFailed }));
        for claim in futures_util::future::join_all(claims).await {
            let claim = claim.map_err(|_| crate::Error::ActorGone("store"))??;
            winners += usize::from(claim == Claim::Won);
        }
    }
    store.pool().close().await;
    Ok((version, winners))
}
