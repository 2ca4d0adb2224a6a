//! Running a cluster: what a run is given ([`ClusterSpec`]), where its database and
//! endpoint are ([`Stores`], [`Endpoint`]), and what it gives back ([`RunResult`]),
//! judged by the checker.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::actors::{ActionKind, Director, EndNow};
use crate::check::{self, CheckInput, DeliveryView, Report, Request};
use crate::clock::Clock;
use crate::faults::{CrashPoints, Fault, PointTrigger};
use crate::history::{Entry, Event, History};
use crate::lag::{self, DbLag, HostLag, LagProbe};
use crate::model::{PlanId, ReplicaId};
use crate::proxy::LinkProxy;
use crate::script::PlanScript;
use crate::store::{
    Backend, ClaimRow, MemoryStore, PgStore, PlanState, Plans, RunSchema, StatusWrite, Store,
};
use crate::strategy::StrategyKind;
use crate::topology::{DatabaseControl, DatabaseSpec, PgPair, Topology};
use crate::webhook::{
    HttpReceiver, ReceivedRequest, Receiver, Secret, Transport, WebhookPolicies, WebhookPolicy,
};
use crate::world::{ClusterConfig, Endpoint, World};
use crate::{Error, Result};

/// A user action at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimedAction {
    /// When, from the start of the run.
    pub at: Duration,
    /// The plan, by index.
    pub plan: usize,
    /// What to do.
    pub action: ActionKind,
    /// Which tasks, by position; `None` for all.
    pub tasks: Option<Vec<usize>>,
    /// The replica that serves it; `None` for round-robin.
    pub via: Option<ReplicaId>,
}

/// Everything a run does, before it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// Drives every random choice.
    pub seed: u64,
    /// Replicas and timing.
    pub config: ClusterConfig,
    /// The delivery design under study.
    pub strategy: StrategyKind,
    /// How replicas send webhooks, for every strategy and per strategy; the run uses
    /// the policy of `strategy` ([`ClusterSpec::webhook_policy`]).
    pub webhook: WebhookPolicies,
    /// The plans.
    pub plans: Vec<PlanScript>,
    /// User actions.
    pub timeline: Vec<TimedAction>,
    /// What the users do when something happens to a plan, in scenario order.
    #[serde(default)]
    pub reactions: Vec<crate::reactions::Reaction>,
    /// The faults, in scenario order.
    pub faults: Vec<Fault>,
    /// Moments at which to read the claim table (for the scenario's claim checks).
    pub claim_snapshots: Vec<Duration>,
    /// The contract's deadline for each delivery.
    pub deadline: Duration,
    /// The run stops here even if the cluster never goes quiet.
    pub max_duration: Duration,
    /// How the shared database is deployed: one server, or a primary and a standby.
    #[serde(default)]
    pub database: DatabaseSpec,
}

impl ClusterSpec {
    /// The webhook policy of a run of this spec: the one its `strategy` gets, so that
    /// a run under another strategy than the file's sends as that strategy's table says.
    pub fn webhook_policy(&self) -> WebhookPolicy {
        self.webhook.resolve(self.strategy.as_str(), self.strategy.webhook_id())
    }

    /// How the replicas of a run of this spec guard their status writes: as
    /// `[cluster] status_write` says, else as the design of its `strategy` does.
    pub fn status_write(&self) -> StatusWrite {
        self.config.status_write.unwrap_or_else(|| self.strategy.status_write())
    }
}

/// Where the replicas' database is.
pub enum Stores {
    /// The in-process model, shared by every replica.
    Memory {
        /// The tables.
        db: MemoryStore,
        /// The model of a primary-standby pair, when the database is one.
        pair: Option<DatabaseControl>,
    },
    /// A Postgres run schema; each replica incarnation gets its own pool, through its
    /// replica's link proxy when it has one.
    Postgres {
        /// The run's schema.
        schema: Box<RunSchema>,
        /// Connections per replica pool.
        connections: u32,
        /// Each replica's link proxy, by scenario name.
        proxies: BTreeMap<ReplicaId, LinkProxy>,
        /// The primary-standby pair behind the proxies, when the database is one.
        pair: Option<DatabaseControl>,
    },
}

impl Stores {
    /// A backend for an incarnation of replica `name` (`label` names its connections).
    pub async fn connect(&self, name: &ReplicaId, label: &str) -> Result<Backend> {
        Ok(match self {
            Stores::Memory { db, .. } => Backend::Memory(db.clone()),
            Stores::Postgres { schema, connections, proxies, .. } => {
                let via = proxies.get(name).map(LinkProxy::addr);
                // The director's reads of the change feed need plans for their values.
                let plans = if label == OBSERVER { Plans::Custom } else { Plans::Generic };
                Backend::Postgres(PgStore::new(schema.pool_planned(label, *connections, via, plans).await?))
            }
        })
    }

    /// The primary-standby pair (or the memory model of one) the run's database faults
    /// act on, if it has one.
    pub fn pair(&self) -> Option<&DatabaseControl> {
        let (Stores::Postgres { pair, .. } | Stores::Memory { pair, .. }) = self;
        pair.as_ref()
    }

    /// Makes the run's writes final once its replicas have stopped: on Postgres, the
    /// link proxies drop what they hold and the server ends the replicas' connections
    /// (a transaction of theirs has then committed or not, for good). The memory
    /// model applies a write at once, so it has nothing to settle.
    pub async fn settle(&self, keep: &str) -> Result<()> {
        match self {
            Stores::Memory { .. } => Ok(()),
            Stores::Postgres { schema, proxies, .. } => {
                for proxy in proxies.values() {
                    proxy.reset();
                }
                schema.settle(keep).await
            }
        }
    }
}

/// The label of the director's own connections (the observer's).
pub(crate) const OBSERVER: &str = "director";

/// What a finished run gives back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// Whether the cluster went quiet (false: stopped at `max_duration`).
    pub quiesced: bool,
    /// Run time at the end.
    #[serde(rename = "elapsed_us", with = "crate::history::micros")]
    pub elapsed: Duration,
    /// The plans the run created, in the order they were created.
    pub plans: Vec<PlanId>,
    /// The claim table at the end.
    pub claims: Vec<ClaimRow>,
    /// The claim table at each of the spec's `claim_snapshots` moments.
    pub claim_snapshots: Vec<ClaimSnapshot>,
    /// The checker's verdicts.
    pub report: Report,
    /// The history.
    pub history: Vec<Entry>,
    /// Every request the receiver got.
    pub requests: Vec<ReceivedRequest>,
    /// Whose side the checker judged deliveries from: the receiver's log, or, with
    /// an outside endpoint, what the senders saw accepted.
    #[serde(default)]
    pub judged_from: DeliveryView,
    /// Each plan's final state.
    pub final_state: Vec<(PlanId, PlanState)>,
    /// Actors of the run still alive a moment after it ended (0: nothing leaked).
    pub leaked_actors: usize,
    /// How late the run's timers fired on its host; only a run on the real clock
    /// measures it (`None` on a paused clock, where timers cannot be late).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_lag: Option<HostLag>,
}

/// The claim table at one of the spec's `claim_snapshots` moments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimSnapshot {
    /// When it was read, on the run's clock.
    #[serde(rename = "at_us", with = "crate::history::micros")]
    pub at: Duration,
    /// The claim table's rows then.
    pub rows: Vec<ClaimRow>,
}

impl RunResult {
    pub(crate) async fn collect(
        spec: &ClusterSpec,
        world: &World,
        (stores, db): (&Stores, &Backend),
        quiesced: bool,
        claim_snapshots: Vec<ClaimSnapshot>,
    ) -> RunResult {
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
        let history = world.history.entries();
        let (judged_from, seen) = match &world.endpoint.receiver {
            Some(_) => (DeliveryView::Receiver, requests.iter().map(Request::from).collect()),
            None => (DeliveryView::Senders, check::senders_view(&history)),
        };
        let input = CheckInput {
            history: history.clone(),
            requests: seen,
            final_state: final_state.clone(),
            view: judged_from,
            deadline: spec.deadline,
            end: elapsed,
        };
        let report = check::check(&input);
        RunResult {
            quiesced,
            elapsed,
            plans,
            claims,
            claim_snapshots,
            report,
            history,
            requests,
            judged_from,
            final_state,
            leaked_actors: 0,
            host_lag: None,
        }
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

/// Runs `spec` on `stores`, sending webhooks to `endpoint`. Must run inside an actix
/// system; on the memory store with the in-process endpoint, a paused clock makes it
/// deterministic.
pub async fn run(spec: ClusterSpec, stores: Stores, endpoint: Endpoint, clock: Clock) -> Result<RunResult> {
    let history = History::new(clock);
    if let (Some(_), Some(journal)) = (stores.pair(), history.journal()) {
        journal.keep_committed();
    }
    let crash_points = CrashPoints::new(spec.faults.iter().filter_map(PointTrigger::of).collect());
    let observer = stores.connect(&ReplicaId(OBSERVER.into()), OBSERVER).await?;
    let policy = spec.webhook_policy();
    let world = World::new(
        spec.seed,
        spec.config.clone(),
        (spec.status_write(), policy),
        history,
        crash_points,
        endpoint,
    )
    .observing(observer.clone());
    if let Stores::Postgres { proxies, .. } = &stores {
        for (name, proxy) in proxies {
            if let Some(link) = world.link(name) {
                link.attach(proxy.clone());
            }
        }
    }
    let census = world.census.clone();
    let (done, mut result) = oneshot::channel();
    let director = Director::new(Rc::new(spec), world, Rc::new(stores), observer, done).start();
    // A stop request ends the run early. Waited for here, not in the director's
    // context: an item more there would change the order its futures are polled in,
    // and with it the history of a run on the paused clock.
    let result = tokio::select! {
        result = &mut result => result,
        _ = crate::interrupt::wait() => {
            director.do_send(EndNow);
            result.await
        }
    };
    let mut result = result.map_err(|_| Error::ActorGone("director"))?;
    // Actors stop a few turns after the director reports; give them a moment.
    for _ in 0..50 {
        if census.live() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    result.leaked_actors = census.live();
    Ok(result)
}

/// Where webhooks go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// hasim's own receiver: HTTP on localhost on Postgres, in process on the memory
    /// store.
    Builtin,
    /// An outside URL (the checker then sees no receiver log).
    Url(String),
}

/// Which database a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The in-process model.
    Memory,
    /// A fresh schema on the Postgres server at `url`, dropped afterwards unless
    /// `keep_schema`.
    Postgres {
        /// The server.
        url: String,
        /// Leave the schema for inspection.
        keep_schema: bool,
    },
}

/// Where a run's database and webhooks go, and how webhooks are signed and answered.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The database.
    pub database: Database,
    /// The webhook endpoint.
    pub target: Target,
    /// The signing secret (`None`: derived from the seed).
    pub secret: Option<Secret>,
    /// The built-in receiver's answer when no fault applies.
    pub default_status: u16,
}

impl Setup {
    /// The memory store and the built-in receiver, in process.
    pub fn memory() -> Self {
        Setup { database: Database::Memory, target: Target::Builtin, secret: None, default_status: 200 }
    }

    /// A fresh schema on `url` and the built-in receiver over HTTP.
    pub fn postgres(url: impl Into<String>) -> Self {
        let database = Database::Postgres { url: url.into(), keep_schema: false };
        Setup { database, ..Setup::memory() }
    }

    /// Whether the run does no real I/O, so a paused clock can drive it.
    pub fn is_virtual(&self) -> bool {
        self.database == Database::Memory && self.target == Target::Builtin
    }
}

/// Runs `spec` as `setup` says. Must run inside an actix system; when
/// [`Setup::is_virtual`], a paused clock makes the run deterministic.
pub async fn execute(spec: ClusterSpec, setup: &Setup) -> Result<RunResult> {
    // On the real clock, measure how late timers fire while the cluster runs; a paused
    // clock gets no timer of ours, so its history stays a function of the seed.
    let lag_bound = (!setup.is_virtual()).then(|| HostLag::bound_for(spec.config.heartbeat));
    let clock = Clock::start();
    let secret = setup.secret.clone().unwrap_or_else(|| secret_for(spec.seed));
    let receiver =
        Receiver::new(clock.clone(), Some(secret.clone())).with_default_status(setup.default_status);
    let external = |url: &String| Endpoint {
        transport: Transport::http(url.clone()),
        receiver: None,
        secret: secret.clone(),
    };
    match &setup.database {
        Database::Memory => {
            let endpoint = match &setup.target {
                Target::Builtin => Endpoint {
                    transport: Transport::InProcess(receiver.clone()),
                    receiver: Some(receiver),
                    secret: secret.clone(),
                },
                Target::Url(url) => external(url),
            };
            let db = MemoryStore::new();
            let pair = (spec.database.topology == Topology::PrimaryStandby)
                .then(|| DatabaseControl::model(db.clone(), spec.database.replication));
            probed(lag_bound, None, run(spec, Stores::Memory { db, pair }, endpoint, clock)).await
        }
        Database::Postgres { url, keep_schema } => {
            // A primary-standby pair is made for the run, on this host, and deleted
            // after it with its schema; a single server is the one at `url`. The run's
            // own connections to a pair go through a proxy that a failover moves.
            let pair = match spec.database.topology {
                Topology::Single => None,
                Topology::PrimaryStandby => Some(start_pair(spec.database).await?),
            };
            let url = match &pair {
                Some(pair) => format!("postgres://postgres@{}/postgres", pair.admin.addr()),
                None => url.clone(),
            };
            let schema = match RunSchema::create(&url).await {
                Ok(schema) => schema,
                Err(e) => {
                    stop_pair(pair).await;
                    return Err(e);
                }
            };
            // Whatever happens from here on, the schema goes (or stays, asked to). A
            // connection held all along shows `hasim gc` the schema in use.
            let result = match schema.hold().await {
                Ok(mut held) => {
                    let lag = (lag_bound, &mut held);
                    let ends = (receiver, secret, clock);
                    let result = on_schema(spec, setup, &schema, ends, lag, pair.clone()).await;
                    let _ = sqlx::Connection::close(held).await;
                    result
                }
                Err(e) => Err(e),
            };
            let released = if pair.is_some() {
                if *keep_schema {
                    tracing::warn!("--keep-schema: the pair the schema lives on is deleted with the run");
                }
                stop_pair(pair).await;
                Ok(())
            } else if *keep_schema {
                schema.terminate(None).await
            } else {
                schema.drop_schema().await
            };
            let result = result?;
            released?;
            Ok(result)
        }
    }
}

/// A run's primary-standby pair, and the proxy the run's own connections (its schema's
/// administration, the connection that holds it) reach the primary through.
#[derive(Clone)]
struct RunPair {
    pair: Arc<Mutex<PgPair>>,
    /// Forwards to the primary (until a failover moves it).
    admin: LinkProxy,
}

/// Makes and starts the run's primary-standby pair (on a thread of its own: it runs
/// the Postgres programs), and the run's proxy to it.
async fn start_pair(database: DatabaseSpec) -> Result<RunPair> {
    let started = tokio::task::spawn_blocking(move || PgPair::start(database.replication)).await;
    let pair = started.map_err(|e| Error::Pair(format!("the thread starting the pair stopped: {e}")))??;
    tracing::info!(primary = %pair.primary_url(), replication = database.replication.as_str(), "primary-standby pair started");
    let primary = std::net::SocketAddr::from(([127, 0, 0, 1], pair.primary_port()));
    let pair = Arc::new(Mutex::new(pair));
    match LinkProxy::start(primary).await {
        Ok(admin) => Ok(RunPair { pair, admin }),
        Err(e) => {
            let _ = tokio::task::spawn_blocking(move || drop(pair)).await;
            Err(Error::Listen(e))
        }
    }
}

/// Stops and deletes the run's pair, if it has one, off the run's thread.
async fn stop_pair(pair: Option<RunPair>) {
    if let Some(RunPair { pair, admin }) = pair {
        admin.stop().await;
        let _ = tokio::task::spawn_blocking(move || drop(pair)).await;
    }
}

/// The part of a Postgres run that needs its schema: the receiver, the link proxies
/// and the cluster. Every one of them is closed before it returns, on success or error.
/// The connection that holds the schema probes the server's lag meanwhile.
async fn on_schema(
    spec: ClusterSpec,
    setup: &Setup,
    schema: &RunSchema,
    (receiver, secret, clock): (Receiver, Secret, Clock),
    (lag_bound, held): (Option<Duration>, &mut sqlx::PgConnection),
    pair: Option<RunPair>,
) -> Result<RunResult> {
    let server = match &setup.target {
        Target::Builtin => Some(HttpReceiver::start(receiver)?),
        Target::Url(_) => None,
    };
    let endpoint = match (&server, &setup.target) {
        (Some(server), _) => Endpoint {
            transport: Transport::http(server.url()),
            receiver: Some(server.receiver().clone()),
            secret: secret.clone(),
        },
        (None, Target::Url(url)) => {
            Endpoint { transport: Transport::http(url.clone()), receiver: None, secret: secret.clone() }
        }
        (None, Target::Builtin) => unreachable!("a builtin target has a server"),
    };
    let mut proxies = BTreeMap::new();
    let upstream = pair.as_ref().map(|p| p.admin.upstream());
    let started = start_proxies(&spec, schema, &mut proxies, upstream).await;
    let stops: Vec<LinkProxy> = proxies.values().cloned().collect();
    let result = match started {
        Ok(()) => {
            let pair = pair.map(|RunPair { pair, admin }| {
                DatabaseControl::new(pair, stops.iter().cloned().chain([admin]).collect())
            });
            let stores = Stores::Postgres { schema: Box::new(schema.clone()), connections: 4, proxies, pair };
            probed(lag_bound, Some(held), run(spec, stores, endpoint, clock)).await
        }
        Err(e) => Err(e),
    };
    for proxy in stops {
        proxy.stop().await;
    }
    if let Some(server) = server {
        server.stop().await;
    }
    result
}

/// Starts a link proxy for every replica whose link a fault acts on, into `proxies`
/// (those started stay there when one fails, for the caller to stop). Only such a
/// replica talks through a proxy: every byte a proxy relays costs the run's own
/// thread, under load as much as the replica's work. In front of a primary-standby
/// pair (its primary at `pair`), every replica and the run's observer get one: a
/// failover moves them all.
async fn start_proxies(
    spec: &ClusterSpec,
    schema: &RunSchema,
    proxies: &mut BTreeMap<ReplicaId, LinkProxy>,
    pair: Option<std::net::SocketAddr>,
) -> Result<()> {
    let everyone = pair.is_some();
    let mut faulted: Vec<ReplicaId> = (1..=spec.config.replicas)
        .map(ReplicaId::nth)
        .filter(|name| everyone || spec.faults.iter().any(|fault| fault.acts_on_link(name)))
        .collect();
    if everyone {
        faulted.push(ReplicaId(OBSERVER.into()));
    }
    if faulted.is_empty() {
        return Ok(());
    }
    let upstream = match pair {
        Some(primary) => primary,
        None => schema.server_addr().await?,
    };
    for name in faulted {
        let proxy = LinkProxy::start(upstream).await.map_err(Error::Listen)?;
        tracing::info!(listening = %proxy.addr(), replica = %name, "link proxy started");
        proxies.insert(name, proxy);
    }
    Ok(())
}

/// Runs `run` with a [`LagProbe`] of `bound` beside it (none when `bound` is `None`)
/// and, given the database's connection `db`, a [`lag::ping`] of the server; gives
/// its result what they saw.
async fn probed(
    bound: Option<Duration>,
    db: Option<&mut sqlx::PgConnection>,
    run: impl Future<Output = Result<RunResult>>,
) -> Result<RunResult> {
    use futures_util::future::{Either, select};
    let Some(probe) = bound.map(LagProbe::start) else { return run.await };
    let Some(db) = db else {
        let mut result = run.await?;
        result.host_lag = Some(probe.finish());
        return Ok(result);
    };
    let mut seen = DbLag::default();
    let outcome = match select(std::pin::pin!(run), std::pin::pin!(lag::ping(db, &mut seen))).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(((), _)) => unreachable!("the ping never ends"),
    };
    let mut result = outcome?;
    result.host_lag = Some(probe.finish().with_database(seen));
    Ok(result)
}

/// The signing secret of a run, derived from its seed.
fn secret_for(seed: u64) -> Secret {
    use rand::SeedableRng;
    Secret::generate(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed))
}

impl From<&ReceivedRequest> for Request {
    fn from(r: &ReceivedRequest) -> Self {
        Request {
            at: r.at,
            webhook_id: r.webhook_id.clone(),
            plan: r.payload.as_ref().map(|p| p.plan),
            event: r.payload.as_ref().map(|p| p.event),
            episode: r.payload.as_ref().map(|p| p.episode),
            failed_tasks: r
                .payload
                .as_ref()
                .map(|p| p.failed_tasks.iter().map(|t| t.task).collect())
                .unwrap_or_default(),
            accepted: r.answer.is_accepted(),
            signature_ok: r.signature_ok,
        }
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
