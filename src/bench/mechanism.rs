//! The claim mechanisms a designer would weigh, as the SQL they run. The same
//! statements feed the hasim side (through actors) and the generated pgbench scripts,
//! so both run exactly the same text.
//!
//! - `on-conflict`, the design's: one statement, `INSERT ... ON CONFLICT (plan_id) DO
//!   NOTHING RETURNING plan_id`, sent through [`crate::actors::StoreActor`]'s
//!   `ClaimEvent` (the store's own statement).
//! - `advisory`: in a transaction, `pg_try_advisory_xact_lock(run, plan_id)`; the holder
//!   inserts the row unless one is already there. A replica that does not get the lock
//!   loses at once, without waiting.
//! - `for-update`: in a transaction, `SELECT ... FROM plan WHERE id = $1 FOR UPDATE`,
//!   then the same check-and-insert. Replicas queue on the plan row.
//!
//! Both transactional mechanisms go through [`ClaimActor`], a replica's second actor on
//! the same store (its pool, or the connection it holds), built like the store actor
//! (one message, a future per message).

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection};

use crate::Result;
use crate::model::{EventType, PlanId};
use crate::store::{Claim, PgStore};

/// How a replica claims the right to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// `INSERT ... ON CONFLICT (plan_id) DO NOTHING RETURNING plan_id` (the design's).
    OnConflict,
    /// `pg_try_advisory_xact_lock` on the plan in a transaction, then the insert.
    Advisory,
    /// `SELECT ... FROM plan WHERE id = $1 FOR UPDATE`, then check and insert.
    ForUpdate,
}

impl Mechanism {
    /// Every mechanism.
    pub const ALL: [Mechanism; 3] = [Mechanism::OnConflict, Mechanism::Advisory, Mechanism::ForUpdate];

    /// The name the CLI and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::OnConflict => "on-conflict",
            Mechanism::Advisory => "advisory",
            Mechanism::ForUpdate => "for-update",
        }
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The store's claim (`store::postgres::claim_event`), spelled the same.
pub const ON_CONFLICT_CLAIM: &str = "INSERT INTO plan_webhook_delivery (plan_id, event_type) VALUES ($1, $2) \
     ON CONFLICT (plan_id) DO NOTHING RETURNING plan_id";
/// The store's reset (`store::postgres::reset_claim`), spelled the same.
pub const RESET: &str = "DELETE FROM plan_webhook_delivery WHERE plan_id = $1 RETURNING event_type";
/// The advisory lock on the plan, as 0/1 so pgbench can test it. Advisory locks belong
/// to the database, not to a schema, so the key is (the run schema's hash, plan id):
/// runs sharing a server never take each other's locks. Plan ids must fit in an int.
pub const ADVISORY_LOCK: &str =
    "SELECT pg_try_advisory_xact_lock(hashtext(current_schema()), $1::int)::int AS got";
/// The plan row lock.
pub const PLAN_LOCK: &str = "SELECT id FROM plan WHERE id = $1 FOR UPDATE";
/// Insert unless a row is there; run while holding a lock that serializes claimers of
/// the plan, so the check cannot race another claimer.
pub const INSERT_IF_ABSENT: &str = "INSERT INTO plan_webhook_delivery (plan_id, event_type) \
     SELECT $1::bigint, $2::text WHERE NOT EXISTS \
     (SELECT 1 FROM plan_webhook_delivery WHERE plan_id = $1::bigint) RETURNING plan_id";

/// Claims `plan` with `mechanism` on a connection of `store` (one from its pool for
/// the claim, or the one it holds), as the store's own operations run.
///
/// `on-conflict` is the store's own claim and normally runs through the store actor;
/// asked here, it runs the same statement.
pub async fn claim(store: &PgStore, mechanism: Mechanism, plan: PlanId, event: EventType) -> Result<Claim> {
    let mut conn = store.connection().await?;
    let result = claim_on(&mut conn, mechanism, plan, event).await;
    conn.give_back(result)
}

/// Claims `plan` with `mechanism` on a connection the caller holds (one round trip per
/// statement, like a pgbench client).
pub async fn claim_on(
    conn: &mut PgConnection,
    mechanism: Mechanism,
    plan: PlanId,
    event: EventType,
) -> Result<Claim> {
    let inserted = match mechanism {
        Mechanism::OnConflict => sqlx::query_as::<_, (i64,)>(ON_CONFLICT_CLAIM)
            .bind(plan.0)
            .bind(event.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .is_some(),
        Mechanism::Advisory => {
            let mut tx = conn.begin().await?;
            let (got,): (i32,) = sqlx::query_as(ADVISORY_LOCK).bind(plan.0).fetch_one(&mut *tx).await?;
            let inserted = got == 1 && insert_if_absent(&mut tx, plan, event).await?;
            tx.commit().await?;
            inserted
        }
        Mechanism::ForUpdate => {
            let mut tx = conn.begin().await?;
            let locked: Option<(i64,)> =
                sqlx::query_as(PLAN_LOCK).bind(plan.0).fetch_optional(&mut *tx).await?;
            if locked.is_none() {
                return Err(crate::Error::NoSuchPlan(plan));
            }
            let inserted = insert_if_absent(&mut tx, plan, event).await?;
            tx.commit().await?;
            inserted
        }
    };
    Ok(if inserted { Claim::Won } else { Claim::Lost })
}

async fn insert_if_absent(tx: &mut sqlx::PgConnection, plan: PlanId, event: EventType) -> Result<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as(INSERT_IF_ABSENT).bind(plan.0).bind(event.as_str()).fetch_optional(tx).await?;
    Ok(row.is_some())
}

/// A replica's actor for the claims the store does not offer, on the replica's store.
#[derive(Debug)]
pub struct ClaimActor {
    store: PgStore,
}

impl ClaimActor {
    /// An actor claiming on `store` (a clone of the replica's store actor's: the same
    /// pool, the same held connection).
    pub fn new(store: PgStore) -> Self {
        ClaimActor { store }
    }
}

impl Actor for ClaimActor {
    type Context = Context<Self>;
}

/// Claims `plan` for `event` with `mechanism`.
#[derive(Debug, Clone, Copy)]
pub struct MechanismClaim {
    /// How to claim.
    pub mechanism: Mechanism,
    /// The plan.
    pub plan: PlanId,
    /// The event to claim it for.
    pub event: EventType,
}

impl Message for MechanismClaim {
    type Result = Result<Claim>;
}

impl Handler<MechanismClaim> for ClaimActor {
    type Result = ResponseActFuture<Self, Result<Claim>>;

    fn handle(&mut self, m: MechanismClaim, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { claim(&store, m.mechanism, m.plan, m.event).await }.into_actor(self))
    }
}
