//! The fault proxy on real sockets: first against a tiny echo server, then between
//! a replica's sqlx pool (or its store actor) and Postgres.
//!
//! Timings are asserted as lower bounds only: the machine is shared, so a fault may
//! take longer to show, never less. Every test runs under [`PATIENCE`]: a regression
//! that leaves a loop or a read waiting forever fails the test instead of hanging it.

mod common;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use actix::Actor;
use common::PgFixture;
use hasim::actors::{ClaimEvent, ResetClaim, StoreActor};
use hasim::history::History;
use hasim::model::{EventType, ReplicaId};
use hasim::proxy::{LinkMode, LinkProxy};
use hasim::store::{Backend, Claim, NewPlan, PgStore, Store, breaks_connection};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a read must stay unanswered for the test to call the link blocked.
const QUIET: Duration = Duration::from_millis(200);

/// The longest a test may take: far above what any takes on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// Runs `fut` inside an actix system, failing if it takes longer than [`PATIENCE`].
#[track_caller]
fn run<F: std::future::Future>(fut: F) -> F::Output {
    common::run(async {
        match tokio::time::timeout(PATIENCE, fut).await {
            Ok(out) => out,
            Err(_) => panic!("the test did not finish within {PATIENCE:?}: something waits forever"),
        }
    })
}

/// An echo server on a port of its own: every connection gets back what it sends.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Sends `msg` and reads back exactly as many bytes.
async fn round_trip(stream: &mut TcpStream, msg: &[u8]) -> io::Result<Vec<u8>> {
    stream.write_all(msg).await?;
    let mut back = vec![0; msg.len()];
    stream.read_exact(&mut back).await?;
    Ok(back)
}

/// Waits until the proxy has accepted `n` connections (a client's connect returns
/// once the kernel has completed the handshake, before the proxy accepts).
async fn accepted(proxy: &LinkProxy, n: u64) {
    while proxy.stats().accepted < n {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// True when nothing arrives on `stream` for [`QUIET`].
async fn stays_quiet(stream: &mut TcpStream) -> bool {
    let mut byte = [0; 1];
    tokio::time::timeout(QUIET, stream.read(&mut byte)).await.is_err()
}

#[test]
fn bytes_flow_through_unchanged_both_ways() {
    run(async {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let client = TcpStream::connect(proxy.addr()).await.unwrap();
        // A megabyte of every byte value, written while it is read back, so neither
        // side's buffers can fill and stall the other.
        let sent: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let (mut r, mut w) = client.into_split();
        let writer = {
            let sent = sent.clone();
            tokio::spawn(async move {
                w.write_all(&sent).await.unwrap();
                w.shutdown().await.unwrap();
            })
        };
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        assert!(back == sent, "the echo differs from what was sent");
        let stats = proxy.stats();
        assert_eq!((stats.bytes_up, stats.bytes_down, stats.accepted), (1_000_000, 1_000_000, 1));
        proxy.stop().await;
    });
}

#[test]
fn latency_delays_each_direction_and_keeps_the_order() {
    run(async {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut client, b"warm").await.unwrap(), b"warm");

        let d = Duration::from_millis(100);
        proxy.set_mode(LinkMode::Latency(d));
        assert_eq!(proxy.mode(), LinkMode::Latency(d));
        let start = Instant::now();
        assert_eq!(round_trip(&mut client, b"ping").await.unwrap(), b"ping");
        let took = start.elapsed();
        assert!(took >= 2 * d, "a round trip took {took:?}, less than twice the latency");

        // Many small writes in a row arrive in order, pipelined: the latency is paid
        // once per trip, not once per chunk (that would be an upper bound; we only
        // check the order and the lower bound).
        let start = Instant::now();
        let mut expected = Vec::new();
        for i in 0..20u8 {
            client.write_all(&[i; 3]).await.unwrap();
            expected.extend([i; 3]);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut back = vec![0; expected.len()];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(back, expected);
        assert!(start.elapsed() >= 2 * d);

        // New connections are slowed too.
        let mut other = TcpStream::connect(proxy.addr()).await.unwrap();
        let start = Instant::now();
        assert_eq!(round_trip(&mut other, b"new").await.unwrap(), b"new");
        assert!(start.elapsed() >= 2 * d);

        proxy.set_mode(LinkMode::Normal);
        assert_eq!(round_trip(&mut client, b"fast again").await.unwrap(), b"fast again");
        proxy.stop().await;
    });
}

#[test]
fn a_partition_stops_the_flow_and_the_heal_delivers_what_was_held() {
    run(async {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut client, b"before").await.unwrap(), b"before");
        let before = proxy.stats();

        proxy.set_mode(LinkMode::Partition);
        client.write_all(b"held one way").await.unwrap();
        assert!(stays_quiet(&mut client).await, "an answer crossed the partition");
        // A connection made during the partition is accepted, but carries nothing.
        let mut late = TcpStream::connect(proxy.addr()).await.unwrap();
        late.write_all(b"held too").await.unwrap();
        assert!(stays_quiet(&mut late).await, "a new connection crossed the partition");
        let during = proxy.stats();
        assert_eq!((during.bytes_up, during.bytes_down), (before.bytes_up, before.bytes_down));
        assert_eq!(during.accepted, 2);

        // Healing into latency counts as healing: the held bytes go, in order.
        proxy.set_mode(LinkMode::Latency(Duration::from_millis(10)));
        let mut back = [0; 12];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"held one way");
        let mut back = [0; 8];
        late.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"held too");
        assert_eq!(proxy.stats().resets, 0);

        proxy.set_mode(LinkMode::Normal);
        assert_eq!(round_trip(&mut client, b"after").await.unwrap(), b"after");
        proxy.stop().await;
    });
}

#[test]
fn a_reset_breaks_current_connections_and_new_ones_work() {
    run(async {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut client, b"hello").await.unwrap(), b"hello");
        // One more, held by a partition when the reset strikes: it is lost with it.
        let mut held = TcpStream::connect(proxy.addr()).await.unwrap();
        proxy.set_mode(LinkMode::Partition);
        held.write_all(b"lost").await.unwrap();
        // A connection still in the listener's backlog is not yet the proxy's to cut.
        accepted(&proxy, 2).await;

        proxy.reset();
        let mut buf = [0; 8];
        let read = client.read(&mut buf).await;
        assert_eq!(
            read.as_ref().map_err(io::Error::kind).err(),
            Some(io::ErrorKind::ConnectionReset),
            "the client saw {read:?}, not a reset"
        );
        let read = held.read(&mut buf).await;
        assert!(read.is_err(), "the held connection saw {read:?}, not a reset");
        assert_eq!(proxy.stats().resets, 2);

        proxy.set_mode(LinkMode::Normal);
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut fresh, b"again").await.unwrap(), b"again");
        let stats = proxy.stats();
        assert_eq!((stats.accepted, stats.resets, stats.open), (3, 2, 1));
        proxy.stop().await;
    });
}

#[test]
fn stopping_closes_the_listener_and_every_connection() {
    run(async {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let addr = proxy.addr();
        let mut client = TcpStream::connect(addr).await.unwrap();
        assert_eq!(round_trip(&mut client, b"x").await.unwrap(), b"x");
        let mut waiting = TcpStream::connect(addr).await.unwrap();
        proxy.set_mode(LinkMode::Partition);
        waiting.write_all(b"y").await.unwrap();

        let handle = proxy.clone();
        proxy.stop().await; // returns once every task of the proxy has ended
        assert_eq!(handle.stats().open, 0);
        let mut buf = [0; 1];
        assert!(!matches!(client.read(&mut buf).await, Ok(1)));
        assert!(!matches!(waiting.read(&mut buf).await, Ok(1)));
        assert!(TcpStream::connect(addr).await.is_err(), "the listener is still open");
        // Stopping again is harmless.
        handle.stop().await;
    });
}

#[test]
fn dropping_the_last_handle_stops_the_proxy() {
    run(async {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let addr = proxy.addr();
        let mut client = TcpStream::connect(addr).await.unwrap();
        assert_eq!(round_trip(&mut client, b"x").await.unwrap(), b"x");
        let clone = proxy.clone();
        drop(proxy);
        // A clone keeps it running.
        assert_eq!(round_trip(&mut client, b"y").await.unwrap(), b"y");
        drop(clone);
        let mut buf = [0; 1];
        assert!(!matches!(client.read(&mut buf).await, Ok(1)));
        assert!(TcpStream::connect(addr).await.is_err(), "the listener is still open");
    });
}

/// An address nothing listens on: a port the OS gave and took back.
async fn nobody_listening() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

#[test]
fn an_unreachable_upstream_closes_the_client_connection_and_counts_no_reset() {
    run(async {
        let proxy = LinkProxy::start(nobody_listening().await).await.unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        let _ = client.write_all(b"anyone?").await;
        // The proxy cannot connect upstream: it closes the client's connection
        // abruptly, and nothing ever comes back.
        let mut buf = [0; 8];
        let read = client.read(&mut buf).await;
        assert!(matches!(read, Ok(0) | Err(_)), "the client read {read:?} from nowhere");
        while proxy.stats().open > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let stats = proxy.stats();
        assert_eq!((stats.accepted, stats.resets, stats.bytes_up, stats.bytes_down), (1, 0, 0, 0));
        proxy.stop().await;
    });
}

#[test]
fn a_reset_during_a_latency_loses_the_chunk_waiting_out_its_delay() {
    run(async {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut client, b"warm").await.unwrap(), b"warm");
        // A chunk read now is due a minute later; the reset strikes once the proxy
        // holds it.
        proxy.set_mode(LinkMode::Latency(Duration::from_secs(60)));
        client.write_all(b"slow").await.unwrap();
        while proxy.stats().read_up < 8 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        proxy.reset();
        let mut buf = [0; 8];
        let read = client.read(&mut buf).await;
        assert_eq!(
            read.as_ref().map_err(io::Error::kind).err(),
            Some(io::ErrorKind::ConnectionReset),
            "the client saw {read:?}, not a reset"
        );
        let stats = proxy.stats();
        // Only the warm-up crossed: the delayed chunk died with the connection.
        assert_eq!((stats.bytes_up, stats.bytes_down, stats.resets), (4, 4, 1));
        proxy.stop().await;
    });
}

#[test]
fn a_server_that_closes_first_has_its_data_and_end_forwarded_and_the_client_may_still_send() {
    run(async {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let upstream = listener.local_addr().unwrap();
        // The server says goodbye and closes its side first, then reads what the
        // client still sends until the client closes too.
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"bye").await.unwrap();
            s.shutdown().await.unwrap();
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).await.unwrap();
            rest
        });
        let proxy = LinkProxy::start(upstream).await.unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye", "the data, then the end of stream");
        client.write_all(b"last words").await.unwrap();
        client.shutdown().await.unwrap();
        assert_eq!(server.await.unwrap(), b"last words");
        // Both ends closed in order: the connection ends without a reset.
        while proxy.stats().open > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let stats = proxy.stats();
        assert_eq!((stats.bytes_up, stats.bytes_down, stats.resets), (10, 3, 0));
        proxy.stop().await;
    });
}

#[test]
fn a_partition_holds_a_bounded_backlog_then_stops_reading_and_the_heal_delivers_all_in_order() {
    run(async {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        // The connection reaches the server first, so the proxy is piping it when the
        // partition starts (a connection made during a partition waits unread).
        let warm = round_trip(&mut client, b"warm").await.unwrap().len() as u64;
        let (mut r, mut w) = client.into_split();
        proxy.set_mode(LinkMode::Partition);
        // The proxy holds at most 256 chunks of 16 KiB per direction (4 MiB), then
        // stops reading; the kernel's buffers take a few MiB more. Past that a write
        // blocks. 64 MiB is far beyond the bound: reaching it means nothing held back.
        let limit: usize = 64 << 20;
        let pattern = |i: usize| (i % 251) as u8;
        let block: Vec<u8> = (0..64 * 1024).map(pattern).collect();
        let mut written = 0;
        loop {
            assert!(
                written < limit,
                "the proxy read {written} bytes across a partition without pushing back"
            );
            let start = written % block.len();
            match tokio::time::timeout(QUIET, w.write(&block[start..])).await {
                Ok(n) => written += n.unwrap(),
                Err(_) => break,
            }
        }
        let stats = proxy.stats();
        assert_eq!(stats.bytes_up, warm, "nothing crossed the partition");
        // What the proxy itself read and holds: more than nothing, and at most its 256
        // queued chunks of 16 KiB, the one its writer waits to send and the one its
        // reader waits to queue.
        let held = stats.read_up - warm;
        assert!(held > 0, "the proxy read nothing across the partition");
        assert!(held <= 258 * 16 * 1024, "the proxy held {held} bytes");
        proxy.set_mode(LinkMode::Normal);
        let mut back = vec![0; written];
        r.read_exact(&mut back).await.unwrap();
        let wrong = back.iter().enumerate().position(|(i, b)| *b != pattern(i % block.len()));
        assert_eq!(wrong, None, "the held bytes came back out of order");
        assert_eq!(proxy.stats().bytes_up, warm + written as u64);
        proxy.stop().await;
    });
}

// --- Against Postgres -----------------------------------------------------------

/// Postgres's address, from the tests' database URL.
async fn postgres_addr() -> SocketAddr {
    let url = common::database_url();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let host_port = if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:5432") };
    tokio::net::lookup_host(host_port.as_str())
        .await
        .unwrap_or_else(|e| panic!("these tests need Postgres: cannot resolve {host_port}: {e}"))
        .next()
        .expect("an address for Postgres")
}

async fn select_one(pool: &PgPool) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT 1").fetch_one(pool).await
}

/// A replica's pool through a proxy of its own, another one straight to the server.
async fn replicas(db: &PgFixture, connections: u32) -> (LinkProxy, PgPool, PgPool) {
    let proxy = LinkProxy::start(postgres_addr().await).await.unwrap();
    let proxied =
        db.schema.pool("r1", connections, Some(proxy.addr())).await.expect("pool through the proxy");
    let direct = db.schema.pool("r2", 2, None).await.expect("direct pool");
    (proxy, proxied, direct)
}

#[test]
fn postgres_partition_blocks_one_replica_while_the_other_proceeds() {
    run(async {
        let db = PgFixture::new().await;
        let (proxy, proxied, direct) = replicas(&db, 2).await;
        assert_eq!(select_one(&proxied).await.unwrap(), 1);
        assert!(proxy.stats().bytes_down > 0, "the pool did not go through the proxy");

        proxy.set_mode(LinkMode::Partition);
        let hung = tokio::time::timeout(Duration::from_millis(300), select_one(&proxied)).await;
        assert!(hung.is_err(), "a query crossed the partition: {hung:?}");
        assert_eq!(select_one(&direct).await.unwrap(), 1, "the other replica is blocked too");

        proxy.set_mode(LinkMode::Normal);
        assert_eq!(select_one(&proxied).await.unwrap(), 1);
        assert_eq!(proxy.stats().resets, 0);
        proxied.close().await;
        direct.close().await;
        proxy.stop().await;
    });
}

/// Nothing is lost in a partition, so a query that nobody gives up on just waits:
/// it completes, late, when the link heals.
#[test]
fn postgres_a_query_hung_in_a_partition_completes_after_the_heal() {
    run(async {
        let db = PgFixture::new().await;
        let (proxy, proxied, direct) = replicas(&db, 1).await;
        assert_eq!(select_one(&proxied).await.unwrap(), 1);

        proxy.set_mode(LinkMode::Partition);
        let healer = proxy.clone();
        let heal_after = Duration::from_millis(400);
        tokio::spawn(async move {
            tokio::time::sleep(heal_after).await;
            healer.set_mode(LinkMode::Normal);
        });
        let start = Instant::now();
        let answer: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_class").fetch_one(&proxied).await.unwrap();
        assert!(answer > 0);
        assert!(start.elapsed() >= heal_after, "answered before the heal");
        assert_eq!(select_one(&direct).await.unwrap(), 1);
        proxied.close().await;
        direct.close().await;
        proxy.stop().await;
    });
}

#[test]
fn postgres_a_reset_fails_the_query_in_flight_and_the_pool_reconnects() {
    run(async {
        let db = PgFixture::new().await;
        let (proxy, proxied, direct) = replicas(&db, 1).await;
        assert_eq!(select_one(&proxied).await.unwrap(), 1);

        // A query on a connection already lent out, caught on the link when it is
        // cut, fails with the reset.
        let mut conn = proxied.acquire().await.unwrap();
        proxy.set_mode(LinkMode::Partition);
        let in_flight = tokio::spawn(async move {
            let result: Result<i32, _> = sqlx::query_scalar("SELECT 1").fetch_one(&mut *conn).await;
            drop(conn);
            result
        });
        tokio::time::sleep(QUIET).await; // written, and held
        proxy.reset();
        let failed = in_flight.await.unwrap();
        assert!(
            matches!(&failed, Err(sqlx::Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset),
            "the query in flight did not see a reset: {failed:?}"
        );
        assert_eq!(proxy.stats().resets, 1);

        // The pool drops the broken connection and opens another once the link heals.
        proxy.set_mode(LinkMode::Normal);
        let accepted = proxy.stats().accepted;
        assert_eq!(select_one(&proxied).await.unwrap(), 1);
        assert!(proxy.stats().accepted > accepted, "the pool did not reconnect");

        // An idle connection cut by a reset: the pool's check before lending it out
        // finds it broken, so the next query goes through on a fresh connection and
        // its caller never sees the reset.
        let accepted = proxy.stats().accepted;
        proxy.reset();
        while proxy.stats().open > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(select_one(&proxied).await.unwrap(), 1);
        let stats = proxy.stats();
        assert_eq!(stats.resets, 2);
        assert!(stats.accepted > accepted, "the pool did not reconnect");
        assert_eq!(select_one(&direct).await.unwrap(), 1);
        proxied.close().await;
        direct.close().await;
        proxy.stop().await;
    });
}

/// A query sent through the pool while the link is partitioned first waits in the
/// pool's health check of its idle connection. A reset there fails only the check:
/// the pool opens a new connection (which waits for the heal) and the query succeeds.
/// (Were the partition to outlast the pool's acquire timeout, the query would fail
/// with `PoolTimedOut` instead.)
#[test]
fn postgres_a_reset_while_the_pool_checks_a_connection_is_retried_on_a_fresh_one() {
    run(async {
        let db = PgFixture::new().await;
        let (proxy, proxied, direct) = replicas(&db, 1).await;
        assert_eq!(select_one(&proxied).await.unwrap(), 1);

        proxy.set_mode(LinkMode::Partition);
        let query = tokio::spawn({
            let pool = proxied.clone();
            async move { select_one(&pool).await }
        });
        tokio::time::sleep(QUIET).await;
        proxy.reset();
        accepted(&proxy, 2).await; // the pool's new connection, held by the partition
        proxy.set_mode(LinkMode::Normal);
        assert_eq!(query.await.unwrap().unwrap(), 1);
        let stats = proxy.stats();
        assert_eq!((stats.resets, stats.accepted), (1, 2));
        assert_eq!(select_one(&direct).await.unwrap(), 1);
        proxied.close().await;
        direct.close().await;
        proxy.stop().await;
    });
}

/// A store actor holding its connection (as `hasim bench` replicas do) meets a cut
/// link in the operation that was on it, or, cut while idle, in the next one (a held
/// connection is not pinged before use). Either way that one operation fails, the
/// broken connection is given up, and the next operation runs on a new one.
#[test]
fn postgres_a_store_actor_holding_its_connection_takes_a_new_one_after_the_link_is_cut() {
    run(async {
        let db = PgFixture::new().await;
        let setup = db.store(1).await;
        let new_plan = || NewPlan { project: "demo".into(), title: "rollout".into(), tasks: vec![] };
        let (p, q) = (
            setup.create_plan(&new_plan()).await.unwrap().plan,
            setup.create_plan(&new_plan()).await.unwrap().plan,
        );
        let proxy = LinkProxy::start(postgres_addr().await).await.unwrap();
        let pool = db.schema.pool("r1", 1, Some(proxy.addr())).await.expect("pool through the proxy");
        let store =
            StoreActor::new(ReplicaId::nth(1), Backend::Postgres(PgStore::new(pool)), History::discard())
                .holding_connection()
                .start();
        let claim = |plan| store.send(ClaimEvent { plan, event: EventType::PipelineFailed });
        assert_eq!(claim(p).await.unwrap().unwrap(), Claim::Won);
        assert_eq!(proxy.stats().accepted, 1);

        // Cut while idle: the next operation meets the break and fails without
        // reaching the server; the one after it opens a new connection.
        proxy.reset();
        while proxy.stats().open > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let failed = store.send(ResetClaim { plan: p }).await.unwrap();
        assert!(failed.as_ref().is_err_and(breaks_connection), "expected a broken connection: {failed:?}");
        let reset = store.send(ResetClaim { plan: p }).await.unwrap().unwrap();
        assert_eq!(reset, Some(EventType::PipelineFailed), "the failed reset never reached the server");
        assert_eq!(proxy.stats().accepted, 2, "a new connection for the operation after the break");

        // Cut with an operation on the link: it fails; the next one, after the heal,
        // runs on a new connection.
        proxy.set_mode(LinkMode::Partition);
        let in_flight = actix::spawn(claim(q));
        tokio::time::sleep(QUIET).await; // written, and held
        proxy.reset();
        let failed = in_flight.await.unwrap().unwrap();
        assert!(failed.as_ref().is_err_and(breaks_connection), "expected a broken connection: {failed:?}");
        proxy.set_mode(LinkMode::Normal);
        assert_eq!(claim(q).await.unwrap().unwrap(), Claim::Won, "the cut claim never reached the server");
        assert_eq!(proxy.stats().accepted, 3);
        assert_eq!(proxy.stats().resets, 2);
        proxy.stop().await;
    });
}
