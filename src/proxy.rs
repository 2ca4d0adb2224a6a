//! A TCP fault proxy: one replica's link to the database, breakable at the network
//! level while the other replicas' links carry on.
//!
//! A [`LinkProxy`] listens on `127.0.0.1` (a port the OS chooses) and forwards every
//! connection it accepts to one upstream address (Postgres, in practice), byte for
//! byte, both ways. A replica's pool connects through its own proxy (the `via` of
//! [`crate::store::RunSchema::pool`]), so a scenario acts on that replica's real
//! connections:
//!
//! - [`LinkMode::Normal`]: bytes are forwarded as soon as they are read.
//! - [`LinkMode::Latency`]: each chunk is written `d` after it was read, in both
//!   directions and in order, so a round trip takes at least `2d` longer. Chunks are
//!   pipelined: reading goes on while earlier chunks wait out their delay.
//! - [`LinkMode::HoldReplies`]: bytes to the server flow, bytes back are held as in
//!   a partition: a statement reaches the server and its reply stays on the wire.
//! - [`LinkMode::Partition`]: no byte moves either way, on existing connections and
//!   on new ones. New connections are still accepted (the listener is ours, not the
//!   far side's), but the proxy does not even connect upstream until the partition
//!   heals. What the proxy reads meanwhile is *held*, not dropped, and goes on its
//!   way, in order, once the mode is `Normal` or `Latency` again. An end of stream
//!   is held like data: a client that gives up during a partition leaves its proxied
//!   connection open until the heal (or a reset, or the proxy's stop).
//!
//! Why hold rather than drop: a real partition does not lose bytes a TCP sender has
//! written. The sender keeps them and retransmits until they are acknowledged, so when
//! the network heals the far side receives exactly the stream it was sent, late. A
//! query in flight across a partition therefore either completes after the heal or
//! fails because someone gave up on the connection (a timeout, a [`LinkProxy::reset`]),
//! never because part of it vanished. Dropping chunks would instead corrupt the
//! protocol stream, which is not a fault a network can cause under TCP.
//!
//! [`LinkProxy::reset`] closes every current connection abruptly: the proxy sets
//! `SO_LINGER` to zero on both of its sockets and drops them, so the client and the
//! server each see a connection reset, as when a middlebox or a crashed host cuts a
//! link. Connections made afterwards work as usual.
//!
//! Mode changes and resets take effect at once, for connections in flight too.
//!
//! The proxy's tasks run on the tokio runtime that called [`LinkProxy::start`] (plain
//! [`tokio::spawn`], which also works inside an actix `System`). [`LinkProxy::stop`],
//! or dropping the last handle, closes the listener and every connection, and every
//! task the proxy spawned ends; `stop` waits until they have.
//!
//! ```
//! use hasim::proxy::{LinkMode, LinkProxy};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # actix::System::new().block_on(async {
//! // An upstream that answers every connection with "hi".
//! let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let upstream_addr = upstream.local_addr()?;
//! tokio::spawn(async move {
//!     while let Ok((mut s, _)) = upstream.accept().await {
//!         let _ = s.write_all(b"hi").await;
//!     }
//! });
//!
//! let proxy = LinkProxy::start(upstream_addr).await?;
//! proxy.set_mode(LinkMode::Latency(std::time::Duration::from_millis(5)));
//! let mut client = tokio::net::TcpStream::connect(proxy.addr()).await?;
//! let mut answer = [0; 2];
//! client.read_exact(&mut answer).await?;
//! assert_eq!(&answer, b"hi");
//! proxy.stop().await;
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What a proxy does to the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkMode {
    /// Bytes are forwarded as soon as they are read.
    #[default]
    Normal,
    /// Every chunk is forwarded this long after it was read, in both directions, in
    /// order: a round trip is at least twice this much slower.
    Latency(Duration),
    /// Nothing moves in either direction; what is read meanwhile is held and flows
    /// once the link heals (the mode is `Normal` or `Latency` again).
    Partition,
    /// Bytes to the server flow; bytes to the clients are held, as in a partition
    /// (a reply on its way back, caught between the server and the replica).
    HoldReplies,
}

/// What a proxy has done so far, for tests to show that a fault struck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Bytes written to the upstream (client to server).
    pub bytes_up: u64,
    /// Bytes written to clients (server to client).
    pub bytes_down: u64,
    /// Bytes read from clients, forwarded or not yet: `read_up - bytes_up` is what the
    /// proxy holds back (a partition, a latency).
    pub read_up: u64,
    /// Bytes read from the upstream, forwarded to clients or not yet.
    pub read_down: u64,
    /// Connections accepted from clients.
    pub accepted: u64,
    /// Connections closed abruptly by [`LinkProxy::reset`].
    pub resets: u64,
    /// Connections being served now, including those a partition keeps from reaching
    /// the upstream.
    pub open: u64,
}

/// How many chunks one direction of a connection holds while it cannot forward them
/// (a partition, a latency). Past that the proxy stops reading and the kernel's
/// buffers, then the sender's flow control, hold the rest.
const HELD_CHUNKS: usize = 256;

/// The largest chunk read at once.
const CHUNK: usize = 16 * 1024;

/// What every connection watches: the mode, resets, and whether the proxy stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Control {
    mode: LinkMode,
    /// Bumped by every reset: a connection accepted before the bump is closed.
    resets: u64,
    stopped: bool,
}

/// State shared by the handles and the tasks.
#[derive(Debug)]
struct Shared {
    control: watch::Sender<Control>,
    /// Where new connections go: the server, until a failover moves it.
    upstream: std::sync::Mutex<SocketAddr>,
    /// How many of the proxy's tasks are alive, so `stop` can wait for them.
    live: watch::Sender<usize>,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    read_up: AtomicU64,
    read_down: AtomicU64,
    accepted: AtomicU64,
    resets: AtomicU64,
    open: AtomicU64,
}

/// Counts one live task of the proxy; dropped when the task ends.
#[derive(Debug)]
struct TaskGuard(Arc<Shared>);

impl TaskGuard {
    fn new(shared: &Arc<Shared>) -> TaskGuard {
        shared.live.send_modify(|n| *n += 1);
        TaskGuard(shared.clone())
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.live.send_modify(|n| *n -= 1);
    }
}

/// The handles' common part: stops the proxy when the last handle goes.
#[derive(Debug)]
struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.control.send_modify(|c| c.stopped = true);
    }
}

/// A running fault proxy. Clones control the same proxy; it stops when [`stop`] is
/// called or the last clone is dropped.
///
/// [`stop`]: LinkProxy::stop
#[derive(Debug, Clone)]
pub struct LinkProxy {
    handle: Arc<Handle>,
}

impl LinkProxy {
    /// Listens on `127.0.0.1` at a port the OS chooses and forwards every connection
    /// to `upstream`, in [`LinkMode::Normal`]. Must be called inside a tokio runtime
    /// (an actix `System` is one); the proxy's tasks run there.
    pub async fn start(upstream: SocketAddr) -> io::Result<LinkProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            control: watch::Sender::new(Control::default()),
            upstream: std::sync::Mutex::new(upstream),
            live: watch::Sender::new(0),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
            read_up: AtomicU64::new(0),
            read_down: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            open: AtomicU64::new(0),
        });
        let guard = TaskGuard::new(&shared);
        tokio::spawn(accept_loop(listener, guard));
        Ok(LinkProxy { handle: Arc::new(Handle { addr, shared }) })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr
    }

    /// The address every new connection is forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        *self.handle.shared.upstream.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forwards every new connection to `upstream` from now on, and resets the current
    /// ones: the server's address moved (a failover's virtual IP or DNS name), and
    /// what was connected to the old one is cut off.
    pub fn repoint(&self, upstream: SocketAddr) {
        *self.handle.shared.upstream.lock().unwrap_or_else(|p| p.into_inner()) = upstream;
        self.reset();
    }

    /// The current mode.
    pub fn mode(&self) -> LinkMode {
        self.handle.shared.control.borrow().mode
    }

    /// Changes the mode, at once for connections in flight and for new ones.
    pub fn set_mode(&self, mode: LinkMode) {
        self.handle.shared.control.send_modify(|c| c.mode = mode);
    }

    /// Closes every current connection abruptly: both the client and the server see a
    /// connection reset, and whatever was held for them is lost. Connections made
    /// afterwards work (in the current mode).
    pub fn reset(&self) {
        self.handle.shared.control.send_modify(|c| c.resets += 1);
    }

    /// What the proxy has done so far.
    pub fn stats(&self) -> LinkStats {
        let s = &self.handle.shared;
        LinkStats {
            bytes_up: s.bytes_up.load(Ordering::Relaxed),
            bytes_down: s.bytes_down.load(Ordering::Relaxed),
            read_up: s.read_up.load(Ordering::Relaxed),
            read_down: s.read_down.load(Ordering::Relaxed),
            accepted: s.accepted.load(Ordering::Relaxed),
            resets: s.resets.load(Ordering::Relaxed),
            open: s.open.load(Ordering::Relaxed),
        }
    }

    /// Closes the listener and every connection (abruptly, as a reset does), for every
    /// clone of this handle, and waits until every task of the proxy has ended.
    pub async fn stop(&self) {
        let shared = &self.handle.shared;
        shared.control.send_modify(|c| c.stopped = true);
        // The sender lives in `shared`, so the wait cannot fail for want of one.
        let _ = shared.live.subscribe().wait_for(|n| *n == 0).await;
    }
}

/// Accepts connections until the proxy stops, then drops the listener.
async fn accept_loop(listener: TcpListener, guard: TaskGuard) {
    let shared = guard.0.clone();
    let mut control = shared.control.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    // The reset count at accept time: a reset from now on closes it.
                    let generation = shared.control.borrow().resets;
                    shared.accepted.fetch_add(1, Ordering::Relaxed);
                    let task = TaskGuard::new(&shared);
                    let upstream = *shared.upstream.lock().unwrap_or_else(|p| p.into_inner());
                    tokio::spawn(connection(client, upstream, generation, task));
                }
                // Out of descriptors and the like: pause rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            () = stopped(&mut control) => return,
        }
    }
}

/// Waits until the proxy stops.
async fn stopped(control: &mut watch::Receiver<Control>) {
    // The sender outlives the tasks (it is in `Shared`); an error would mean it is gone.
    let _ = control.wait_for(|c| c.stopped).await.map(drop);
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Both directions reached end of stream and were forwarded.
    Done,
    /// A socket failed (or the upstream could not be reached).
    Failed,
    /// [`LinkProxy::reset`].
    Reset,
    /// The proxy stopped.
    Stopped,
}

/// Serves one accepted connection until it ends, is reset, or the proxy stops.
async fn connection(mut client: TcpStream, upstream: SocketAddr, generation: u64, guard: TaskGuard) {
    let shared = guard.0.clone();
    shared.open.fetch_add(1, Ordering::Relaxed);
    let mut server = None;
    let mut control = shared.control.subscribe();
    // A reset comes first: bytes a reset caught on their way (held by a partition,
    // say) are lost with the connection even when the mode changes in the same
    // instant and would let them go.
    let end = tokio::select! {
        biased;
        end = interruption(&mut control, generation) => end,
        end = forward(&mut client, &mut server, upstream, &shared) => end,
    };
    if end == End::Reset {
        // Counted before the sockets close, so a client that sees the reset sees it
        // counted too.
        shared.resets.fetch_add(1, Ordering::Relaxed);
    }
    if end != End::Done {
        abort(&client);
        if let Some(server) = &server {
            abort(server);
        }
    }
    drop((client, server));
    shared.open.fetch_sub(1, Ordering::Relaxed);
}

/// Waits until the connection is reset or the proxy stops.
async fn interruption(control: &mut watch::Receiver<Control>, generation: u64) -> End {
    match control.wait_for(|c| c.stopped || c.resets != generation).await {
        Ok(c) if !c.stopped => End::Reset,
        _ => End::Stopped,
    }
}

/// Makes closing `stream` send a reset instead of an orderly end of stream.
fn abort(stream: &TcpStream) {
    // Without the option the close is merely orderly; nothing better to do.
    let _ = stream.set_zero_linger();
}

/// Connects upstream once the link is not partitioned, then pipes both directions
/// until both have ended.
async fn forward(
    client: &mut TcpStream,
    server: &mut Option<TcpStream>,
    upstream: SocketAddr,
    shared: &Shared,
) -> End {
    let mut control = shared.control.subscribe();
    // A SYN does not cross a partition either: wait for the heal before connecting.
    let healed = control.wait_for(|c| c.mode != LinkMode::Partition).await.is_ok();
    if !healed {
        return End::Stopped;
    }
    let Ok(connected) = TcpStream::connect(upstream).await else { return End::Failed };
    let server = server.insert(connected);
    // Small protocol messages should not wait for Nagle on our account.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.split();
    let (server_read, server_write) = server.split();
    let up = pipe(client_read, server_write, shared, Direction::Up);
    let down = pipe(server_read, client_write, shared, Direction::Down);
    match tokio::try_join!(up, down) {
        Ok(_) => End::Done,
        Err(_) => End::Failed,
    }
}

/// Which way a pipe carries bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

/// One chunk read, and when; `None` is the end of the stream.
type Item = (Instant, Option<Vec<u8>>);

/// Forwards one direction: reads chunks as they come (holding up to [`HELD_CHUNKS`])
/// and writes each once the mode lets it go. An end of stream is forwarded as a
/// write shutdown, in order with the data.
async fn pipe<R, W>(mut reader: R, mut writer: W, shared: &Shared, direction: Direction) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = mpsc::channel::<Item>(HELD_CHUNKS);
    let (read_bytes, forwarded) = match direction {
        Direction::Up => (&shared.read_up, &shared.bytes_up),
        Direction::Down => (&shared.read_down, &shared.bytes_down),
    };
    let read = async move {
        let mut buf = vec![0; CHUNK];
        loop {
            let n = reader.read(&mut buf).await?;
            read_bytes.fetch_add(n as u64, Ordering::Relaxed);
            let chunk = (n > 0).then(|| buf[..n].to_vec());
            if tx.send((Instant::now(), chunk)).await.is_err() || n == 0 {
                return Ok::<(), io::Error>(());
            }
        }
    };
    let write = async move {
        let mut control = shared.control.subscribe();
        while let Some((read_at, chunk)) = rx.recv().await {
            let Some(chunk) = chunk else {
                gate(&mut control, read_at, direction).await;
                writer.shutdown().await?;
                return Ok(());
            };
            let mut sent = 0;
            while sent < chunk.len() {
                gate(&mut control, read_at, direction).await;
                // A partition that starts while a write waits on the peer stops the
                // rest of the chunk too.
                tokio::select! {
                    written = writer.write(&chunk[sent..]) => {
                        let n = written?;
                        if n == 0 {
                            return Err(io::ErrorKind::WriteZero.into());
                        }
                        sent += n;
                        forwarded.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    _ = control.changed() => {}
                }
            }
        }
        Ok(())
    };
    tokio::try_join!(read, write).map(|_| ())
}

/// Waits until a chunk read at `read_at` may be forwarded under the current mode,
/// following mode changes as they come.
async fn gate(control: &mut watch::Receiver<Control>, read_at: Instant, direction: Direction) {
    loop {
        let mode = control.borrow_and_update().mode;
        let due = match mode {
            LinkMode::Normal => return,
            LinkMode::HoldReplies if direction == Direction::Up => return,
            LinkMode::Latency(d) => read_at + d,
            LinkMode::Partition | LinkMode::HoldReplies => {
                // The sender outlives every connection; if it did not, nothing would
                // ever change again, and the connection's own watch ends it.
                if control.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
                continue;
            }
        };
        if Instant::now() >= due {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            changed = control.changed() => if changed.is_err() {
                tokio::time::sleep_until(due).await;
                return;
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::paused;

    fn control(mode: LinkMode) -> watch::Sender<Control> {
        watch::Sender::new(Control { mode, ..Control::default() })
    }

    #[test]
    fn normal_lets_a_chunk_go_at_once() {
        paused(async {
            let tx = control(LinkMode::Normal);
            let start = Instant::now();
            gate(&mut tx.subscribe(), start, Direction::Up).await;
            assert_eq!(start.elapsed(), Duration::ZERO);
        });
    }

    #[test]
    fn latency_holds_a_chunk_until_it_is_due_counting_from_its_read() {
        paused(async {
            let tx = control(LinkMode::Latency(Duration::from_millis(50)));
            let read_at = Instant::now();
            tokio::time::sleep(Duration::from_millis(20)).await;
            gate(&mut tx.subscribe(), read_at, Direction::Up).await;
            assert_eq!(read_at.elapsed(), Duration::from_millis(50));
            // A chunk already past its delay goes at once.
            let now = Instant::now();
            gate(&mut tx.subscribe(), read_at, Direction::Up).await;
            assert_eq!(now.elapsed(), Duration::ZERO);
        });
    }

    #[test]
    fn a_partition_holds_a_chunk_until_it_heals() {
        paused(async {
            let tx = Arc::new(control(LinkMode::Partition));
            let healer = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                healer.send_modify(|c| c.mode = LinkMode::Normal);
            });
            let start = Instant::now();
            gate(&mut tx.subscribe(), start, Direction::Up).await;
            assert_eq!(start.elapsed(), Duration::from_millis(300));
        });
    }

    #[test]
    fn holding_replies_lets_requests_through_and_holds_replies_until_the_link_heals() {
        paused(async {
            let tx = Arc::new(control(LinkMode::HoldReplies));
            let start = Instant::now();
            gate(&mut tx.subscribe(), start, Direction::Up).await;
            assert_eq!(start.elapsed(), Duration::ZERO, "a request goes at once");
            let healer = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                healer.send_modify(|c| c.mode = LinkMode::Normal);
            });
            gate(&mut tx.subscribe(), start, Direction::Down).await;
            assert_eq!(start.elapsed(), Duration::from_millis(200), "the reply waits for the heal");
        });
    }

    #[test]
    fn a_partition_that_starts_during_a_latency_wait_holds_the_chunk() {
        paused(async {
            let tx = Arc::new(control(LinkMode::Latency(Duration::from_millis(100))));
            let changer = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                changer.send_modify(|c| c.mode = LinkMode::Partition);
                tokio::time::sleep(Duration::from_millis(400)).await;
                changer.send_modify(|c| c.mode = LinkMode::Latency(Duration::from_millis(100)));
            });
            let start = Instant::now();
            gate(&mut tx.subscribe(), start, Direction::Up).await;
            // Released by the heal, its delay long since served.
            assert_eq!(start.elapsed(), Duration::from_millis(450));
        });
    }

    #[test]
    fn a_shorter_latency_releases_a_waiting_chunk_early() {
        paused(async {
            let tx = Arc::new(control(LinkMode::Latency(Duration::from_secs(10))));
            let changer = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                changer.send_modify(|c| c.mode = LinkMode::Latency(Duration::from_millis(80)));
            });
            let start = Instant::now();
            gate(&mut tx.subscribe(), start, Direction::Up).await;
            assert_eq!(start.elapsed(), Duration::from_millis(80));
        });
    }

    /// An end of stream is data too: it is held by a partition and forwarded, after
    /// the bytes before it, when the link heals.
    #[test]
    fn a_half_close_is_held_by_a_partition_and_forwarded_in_order() {
        actix::System::new().block_on(async {
            let upstream = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
            let upstream_addr = upstream.local_addr().unwrap();
            let received = tokio::spawn(async move {
                let (mut s, _) = upstream.accept().await.unwrap();
                let mut all = Vec::new();
                s.read_to_end(&mut all).await.unwrap();
                all
            });
            let proxy = LinkProxy::start(upstream_addr).await.unwrap();
            let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
            client.write_all(b"before").await.unwrap();
            let forwarded = async {
                while proxy.stats().bytes_up < 6 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(30), forwarded).await.expect("the bytes were forwarded");
            proxy.set_mode(LinkMode::Partition);
            client.write_all(b" during").await.unwrap();
            client.shutdown().await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(!received.is_finished(), "the end of stream crossed the partition");
            assert_eq!(proxy.stats().bytes_up, 6);
            proxy.set_mode(LinkMode::Normal);
            let received = tokio::time::timeout(Duration::from_secs(30), received).await;
            assert_eq!(received.expect("the heal forwarded the end of stream").unwrap(), b"before during");
            proxy.stop().await;
        });
    }

    /// A failover moves the server: the proxy cuts what it had connected and sends
    /// new connections to the new address.
    #[test]
    fn a_repoint_resets_the_connections_and_forwards_new_ones_to_the_new_server() {
        actix::System::new().block_on(async {
            // Two servers that each answer every connection with their name.
            let mut servers = Vec::new();
            for name in [&b"old"[..], &b"new"[..]] {
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
                servers.push(listener.local_addr().unwrap());
                tokio::spawn(async move {
                    while let Ok((mut s, _)) = listener.accept().await {
                        let _ = s.write_all(name).await;
                        tokio::spawn(async move {
                            let mut sink = Vec::new();
                            let _ = s.read_to_end(&mut sink).await;
                        });
                    }
                });
            }
            let proxy = LinkProxy::start(servers[0]).await.unwrap();
            async fn greeting(proxy: &LinkProxy) -> ([u8; 3], TcpStream) {
                let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
                let mut got = [0u8; 3];
                let read = tokio::time::timeout(Duration::from_secs(30), client.read_exact(&mut got));
                read.await.expect("an answer within 30 s").expect("an answer");
                (got, client)
            }
            let (got, mut old) = greeting(&proxy).await;
            assert_eq!(&got, b"old");
            proxy.repoint(servers[1]);
            assert_eq!(proxy.upstream(), servers[1]);
            let mut rest = Vec::new();
            let cut = tokio::time::timeout(Duration::from_secs(30), old.read_to_end(&mut rest));
            let cut = cut.await.expect("the old connection ends");
            assert!(cut.is_err() || rest.is_empty(), "the old connection was cut: {cut:?} {rest:?}");
            let (got, _) = greeting(&proxy).await;
            assert_eq!(&got, b"new");
            proxy.stop().await;
        });
    }
}
