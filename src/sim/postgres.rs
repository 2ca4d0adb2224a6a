//! The part of a run on Postgres that needs its own server-side resources: the
//! primary-standby pair made for a run, the link proxies in front of the replicas
//! whose links a fault acts on, and the run on the schema between them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Setup, probed, run};
use crate::clock::Clock;
use crate::model::ReplicaId;
use crate::proxy::LinkProxy;
use crate::spec::{ClusterSpec, Target};
use crate::store::RunSchema;
use crate::stores::{OBSERVER, Stores};
use crate::topology::{DatabaseControl, DatabaseSpec, PgPair, Topology};
use crate::trace::Trace;
use crate::webhook::{HttpReceiver, Receiver, Secret, Transport};
use crate::world::Endpoint;
use crate::{Error, Result};

/// Runs `spec` on a fresh schema of the server at `url` (or of a primary-standby
/// pair made for the run, when the spec's database is one), with the run's receiver,
/// secret and clock (`ends`), its host probed against `lag_bound`; drops the schema
/// afterwards unless `keep_schema`, and deletes the pair.
pub(super) async fn execute(
    spec: ClusterSpec,
    setup: &Setup,
    (url, keep_schema): (&String, bool),
    ends: (Receiver, Secret, Clock),
    lag_bound: Option<Duration>,
) -> Result<Trace> {
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
            let result = on_schema(spec, setup, &schema, ends, lag, pair.clone()).await;
            let _ = sqlx::Connection::close(held).await;
            result
        }
        Err(e) => Err(e),
    };
    let released = if pair.is_some() {
        if keep_schema {
            tracing::warn!("--keep-schema: the pair the schema lives on is deleted with the run");
        }
        stop_pair(pair).await;
        Ok(())
    } else if keep_schema {
        schema.terminate(None).await
    } else {
        schema.drop_schema().await
    };
    let result = result?;
    released?;
    Ok(result)
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
) -> Result<Trace> {
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
