//! Where a [`PgStore`]'s operations get their connection: from its pool, one per
//! operation, or from the one connection the store holds.
//!
//! - On the pool ([`PgStore::new`], what replicas in scenario runs use): each
//!   operation takes a connection for itself and gives it back, so operations run
//!   concurrently, up to the pool's size, like a server's requests. sqlx spends a round
//!   trip on each hand-over where the connection may have broken: a ping before
//!   lending it out (`test_before_acquire`, on in [`super::RunSchema::pool`]'s pools
//!   that reach the server through a fault proxy).
//! - Holding one ([`PgStore::holding`]): the store takes one connection from its pool
//!   at its first operation and keeps it, running operations one at a time in the order
//!   they asked, like a client that holds its connection (a pgbench client, say). No
//!   hand-over, so no round trip but the operation's own.
//!
//! A held connection is given up when an operation fails because the connection broke
//! (an I/O or protocol error, the server ending the session): the next operation takes
//! a new one from the pool, so a cut link never wedges the store. The operation that
//! met the break fails; whether a write of it committed is unknown, so it is not
//! retried. A held connection is not pinged before use either: a link cut while the
//! store was idle fails the first operation after it, where a pool's ping would have
//! found the break and connected again.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::PgStore;
use crate::{Error, Result};

/// The connection a holding store keeps between operations (none before the first
/// operation and after a break).
pub(super) type Held = Arc<Mutex<Option<PoolConnection<Postgres>>>>;

/// A connection lent to one operation of a [`PgStore`]. Give it back with
/// [`PgConn::give_back`] and the operation's result; dropped instead (the operation
/// was cancelled), it goes back to the pool, which checks it before lending it again.
#[derive(Debug)]
pub struct PgConn {
    conn: PoolConnection<Postgres>,
    /// The holding store's slot, locked for the operation.
    home: Option<OwnedMutexGuard<Option<PoolConnection<Postgres>>>>,
}

impl PgStore {
    /// The store on `pool`, holding one connection of it for all its operations (and
    /// its clones'), which then run one at a time in arrival order. A pool of one
    /// connection is enough; other users of the pool wait while it is held.
    pub fn holding(pool: PgPool) -> Self {
        PgStore { pool, held: Some(Held::default()), tag: None }
    }

    /// Whether this store holds a connection rather than taking one per operation.
    pub fn holds_connection(&self) -> bool {
        self.held.is_some()
    }

    /// A connection for one operation: one taken from the pool, or, for a holding
    /// store, the held one once the operations before have given it back (a new one
    /// from the pool if there is none).
    pub async fn connection(&self) -> Result<PgConn> {
        let Some(held) = &self.held else {
            return Ok(PgConn { conn: self.pool.acquire().await?, home: None });
        };
        let mut home = held.clone().lock_owned().await;
        let conn = match home.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        Ok(PgConn { conn, home: Some(home) })
    }
}

impl PgConn {
    /// Ends the operation that produced `result`: a pool's connection goes back to the
    /// pool; a held one goes back to its store, unless `result` shows the connection
    /// broken, in which case it is closed and the next operation takes a new one.
    pub fn give_back<T>(self, result: Result<T>) -> Result<T> {
        let PgConn { mut conn, home } = self;
        let Some(mut home) = home else { return result };
        match &result {
            Err(e) if breaks_connection(e) => {
                tracing::debug!(error = %e, "the held connection broke: giving it up");
                conn.close_on_drop();
            }
            _ => *home = Some(conn),
        }
        result
    }
}

impl Deref for PgConn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// Whether `e` means the connection it happened on is unusable: the socket failed,
/// the protocol stream is out of step, or the server ended the session (SQLSTATE class
/// 08, connection exception, or 57P, operator intervention). A statement's own error
/// (a constraint, a bad value, a cancelled query) leaves the connection usable.
pub fn breaks_connection(e: &Error) -> bool {
    match e {
        Error::Database(e) => match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                db.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
            }
            _ => false,
        },
        Error::LinkReset => true,
        _ => false,
    }
}

/// Commits on success; on failure rolls back at once, so the connection does not sit
/// idle in a transaction holding locks until its next use.
pub(super) async fn finish<T>(tx: Transaction<'_, Postgres>, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // The connection may be gone already; the error that matters is `e`.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Runs one operation on a connection of `$store` ([`PgStore::connection`]): `$body`
/// is a future using `$c: &mut PgConnection`; the connection is given back with its
/// result.
macro_rules! on_connection {
    ($store:expr, |$c:ident| $body:expr) => {{
        let mut lent = $store.connection().await?;
        let result = {
            let $c: &mut sqlx::PgConnection = &mut lent;
            $body.await
        };
        lent.give_back(result)
    }};
}

/// A future running `$body` (a future using `$tx: &mut Transaction`) in a transaction
/// on `$c`, committed when it succeeds and rolled back when it fails.
macro_rules! in_tx {
    ($c:expr, |$tx:ident| $body:expr) => {
        async {
            let mut tx = sqlx::Connection::begin($c).await?;
            let result = {
                let $tx = &mut tx;
                $body.await
            };
            $crate::store::postgres_conn::finish(tx, result).await
        }
    };
}

/// Runs a single-statement write of `$store` (`$body`, a future using `$c: &mut
/// PgConnection`). A tagged store ([`super::commit_log::OpTag`]) runs it in a
/// transaction that also records it in the commit log; an untagged one (benchmarks)
/// runs the bare statement.
macro_rules! write_op {
    ($store:expr, |$c:ident| $body:expr) => {{
        match &$store.tag {
            None => $crate::store::postgres_conn::on_connection!($store, |$c| $body),
            Some(tag) => $crate::store::postgres_conn::on_connection!(
                $store,
                |conn| $crate::store::postgres_conn::in_tx!(conn, |tx| async {
                    let value = {
                        let $c: &mut sqlx::PgConnection = &mut **tx;
                        $body.await?
                    };
                    $crate::store::commit_log::record(&mut **tx, tag, &value).await?;
                    Ok::<_, $crate::Error>(value)
                })
            ),
        }
    }};
}

/// Runs a transaction of `$store` (`$body`, a future using `$tx: &mut Transaction`),
/// recording it in the commit log before it commits when the store is tagged.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:expr) => {
        $crate::store::postgres_conn::on_connection!($store, |c| $crate::store::postgres_conn::in_tx!(
            c,
            |$tx| async {
                let value = $body.await?;
                if let Some(tag) = &$store.tag {
                    $crate::store::commit_log::record(&mut **$tx, tag, &value).await?;
                }
                Ok::<_, $crate::Error>(value)
            }
        ))
    };
}

pub(super) use {in_tx, on_connection, write_op, write_tx};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_of_the_connection_break_it() {
        let io = |kind| Error::Database(sqlx::Error::Io(std::io::Error::from(kind)));
        assert!(breaks_connection(&io(std::io::ErrorKind::ConnectionReset)));
        assert!(breaks_connection(&io(std::io::ErrorKind::UnexpectedEof)));
        assert!(breaks_connection(&Error::Database(sqlx::Error::Protocol("out of step".into()))));
        assert!(breaks_connection(&Error::LinkReset));
        assert!(!breaks_connection(&Error::NoSuchPlan(crate::model::PlanId(7))));
        assert!(!breaks_connection(&Error::Database(sqlx::Error::RowNotFound)));
        assert!(!breaks_connection(&Error::Database(sqlx::Error::PoolTimedOut)));
    }
}
