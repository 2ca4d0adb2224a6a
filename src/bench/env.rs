//! The environment a sweep runs in: a migrated run schema (or the memory model) with
//! the plans to claim, an admin pool for setup and sampling, and the client threads
//! replicas run on.

use actix::Arbiter;
use sqlx::PgPool;

use super::sampling::WaitSampler;
use super::{BenchError, PlanRange, PoolSettings, Target, Workload};
use crate::store::{MemoryStore, NewPlan, RunSchema, Store};

pub(super) enum EnvBackend {
    Postgres { url: String, schema: Box<RunSchema>, admin: PgPool },
    Memory(MemoryStore),
}

/// A bench environment: a migrated schema (or a memory model) with the plans, and the
/// client threads replicas run on. Must be created inside an actix `System`.
///
/// [`BenchEnv::close`] drops the schema; an environment dropped without it (a panic,
/// an early return) drops its schema on a thread of its own, so no run is left behind.
pub struct BenchEnv {
    pub(super) backend: EnvBackend,
    pub(super) plans: PlanRange,
    /// One plan per replica, claimed and reset before the clock starts.
    pub(super) warm: PlanRange,
    pub(super) arbiters: Vec<Arbiter>,
    pub(super) pool: PoolSettings,
    closed: bool,
}

impl std::fmt::Debug for BenchEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchEnv").field("schema", &self.schema_name()).field("plans", &self.plans).finish()
    }
}

impl BenchEnv {
    /// Creates the schema (or memory model) with `plans` plans to claim plus one warm-up
    /// plan per replica, and `threads` client threads.
    pub async fn create(
        target: &Target,
        plans: u32,
        max_replicas: usize,
        threads: usize,
    ) -> Result<BenchEnv, BenchError> {
        if actix::System::try_current().is_none() {
            return Err(BenchError::Invalid("a bench must run inside an actix System".into()));
        }
        let total = u64::from(plans) + max_replicas as u64;
        let (backend, first) = match target {
            Target::Postgres { url } => {
                let schema = RunSchema::create(url).await?;
                match Self::prepare_pg(&schema, total).await {
                    Ok((admin, first)) => {
                        (EnvBackend::Postgres { url: url.clone(), schema: Box::new(schema), admin }, first)
                    }
                    Err(e) => {
                        let _ = schema.drop_schema().await;
                        return Err(e);
                    }
                }
            }
            Target::Memory => {
                let db = MemoryStore::new();
                let mut first = None;
                for n in 0..total {
                    let plan = NewPlan { project: "bench".into(), title: format!("plan {n}"), tasks: vec![] };
                    let id = db.create_plan(&plan).await?.plan.0;
                    let expected = *first.get_or_insert(id) + n as i64;
                    if id != expected {
                        return Err(BenchError::Invalid(format!("memory plan ids not consecutive: {id}")));
                    }
                }
                (EnvBackend::Memory(db), first.unwrap_or(1))
            }
        };
        let arbiters = (0..threads.max(1)).map(|_| Arbiter::new()).collect();
        Ok(BenchEnv {
            backend,
            plans: PlanRange { first, count: plans },
            warm: PlanRange { first: first + i64::from(plans), count: max_replicas as u32 },
            arbiters,
            pool: PoolSettings::default(),
            closed: false,
        })
    }

    async fn prepare_pg(schema: &RunSchema, total: u64) -> Result<(PgPool, i64), BenchError> {
        let admin = schema.pool("bench-admin", 2, None).await?;
        let (first, last, count): (i64, i64, i64) = sqlx::query_as(
            "WITH ins AS (INSERT INTO plan (project, title) \
             SELECT 'bench', 'plan ' || g FROM generate_series(1, $1::bigint) g RETURNING id) \
             SELECT min(id), max(id), count(*) FROM ins",
        )
        .bind(total as i64)
        .fetch_one(&admin)
        .await?;
        if last - first + 1 != count || count as u64 != total {
            return Err(BenchError::Invalid(format!(
                "plan ids not consecutive: {first}..{last} for {count}"
            )));
        }
        Ok((admin, first))
    }

    /// Sets how replicas' pools are made from now on.
    pub fn set_pool_settings(&mut self, settings: PoolSettings) {
        self.pool = settings;
    }

    /// The plans to claim.
    pub fn plans(&self) -> PlanRange {
        self.plans
    }

    /// The server URL (no password), for Postgres.
    pub fn url(&self) -> Option<&str> {
        match &self.backend {
            EnvBackend::Postgres { schema, .. } => Some(schema.url()),
            EnvBackend::Memory(_) => None,
        }
    }

    /// The run schema's name, for Postgres.
    pub fn schema_name(&self) -> Option<&str> {
        match &self.backend {
            EnvBackend::Postgres { schema, .. } => Some(schema.name()),
            EnvBackend::Memory(_) => None,
        }
    }

    /// The admin pool (setup, counts, sampling), for Postgres.
    pub(super) fn admin(&self) -> Option<&PgPool> {
        match &self.backend {
            EnvBackend::Postgres { admin, .. } => Some(admin),
            EnvBackend::Memory(_) => None,
        }
    }

    /// `SELECT version()`, for Postgres.
    pub async fn server_version(&self) -> Result<Option<String>, BenchError> {
        let Some(admin) = self.admin() else { return Ok(None) };
        let (v,): (String,) = sqlx::query_as("SELECT version()").fetch_one(admin).await?;
        Ok(Some(v))
    }

    /// Settles the server so every run starts alike: the claim table emptied, for
    /// `outbox` the outbox filled with one pending row per plan of `plans` (returns how
    /// many), both vacuumed, and a checkpoint.
    pub(super) async fn clean(&self, workload: Workload, plans: PlanRange) -> Result<u64, BenchError> {
        let admin = match &self.backend {
            EnvBackend::Postgres { admin, .. } => admin,
            EnvBackend::Memory(db) => {
                for row in db.claims().await? {
                    db.reset_claim(row.plan).await?;
                }
                return Ok(0);
            }
        };
        sqlx::query("DELETE FROM plan_webhook_delivery").execute(admin).await?;
        sqlx::query("VACUUM (ANALYZE) plan_webhook_delivery").execute(admin).await?;
        let filled = match workload {
            Workload::Outbox => super::outbox::fill(admin, plans).await?,
            _ => 0,
        };
        // Needs superuser or pg_checkpoint; without it runs just settle less.
        let _ = sqlx::query("CHECKPOINT").execute(admin).await;
        Ok(filled)
    }

    /// Claim rows left in the table.
    pub(super) async fn rows_left(&self) -> Result<u64, BenchError> {
        Ok(match &self.backend {
            EnvBackend::Postgres { admin, .. } => {
                let (n,): (i64,) =
                    sqlx::query_as("SELECT count(*) FROM plan_webhook_delivery").fetch_one(admin).await?;
                n as u64
            }
            EnvBackend::Memory(db) => db.claims().await?.len() as u64,
        })
    }

    /// Samples the backends labelled `<schema>/<label_pattern>`, when `enabled` on Postgres.
    pub(super) fn sampler(&self, label_pattern: &str, enabled: bool) -> Option<WaitSampler> {
        match &self.backend {
            EnvBackend::Postgres { admin, schema, .. } if enabled => {
                Some(WaitSampler::start(admin.clone(), format!("{}/{label_pattern}", schema.name())))
            }
            _ => None,
        }
    }

    /// Stops the client threads and drops the schema.
    pub async fn close(mut self) -> Result<(), BenchError> {
        let arbiters = std::mem::take(&mut self.arbiters);
        for arbiter in &arbiters {
            arbiter.stop();
        }
        let _ = tokio::task::spawn_blocking(move || {
            for arbiter in arbiters {
                let _ = arbiter.join();
            }
        })
        .await;
        self.closed = true;
        if let EnvBackend::Postgres { schema, admin, .. } = &self.backend {
            admin.close().await;
            schema.drop_schema().await?;
        }
        Ok(())
    }
}

impl Drop for BenchEnv {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        if self.closed {
            return;
        }
        if let EnvBackend::Postgres { schema, .. } = &self.backend {
            // This may run during a panic or inside a busy actix system: drop the schema
            // on a runtime of its own.
            let schema = schema.clone();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(schema.drop_schema()).ok()
            })
            .join();
        }
    }
}
