//! Run isolation: every run against Postgres lives in a schema of its own
//! (`hasim_<run id>`), created and migrated at the start and dropped at the end, so
//! many runs and tests share one server without seeing each other's rows.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};

use crate::{Error, Result};

/// The migrations in `migrations/`, built into the binary. Each run migrates its own
/// schema, so runs need not wait on each other's migration lock.
fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_locking(false);
    migrator
}

/// How long a pool waits for a connection before it reports the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A migrated schema of one run, on one server.
#[derive(Debug, Clone)]
pub struct RunSchema {
    name: String,
    url: String,
    options: PgConnectOptions,
}

impl RunSchema {
    /// Creates `hasim_<run id>` on the server at `url` and migrates it.
    ///
    /// Fails with [`Error::Connect`] (naming the URL without its password) when the
    /// server cannot be reached.
    pub async fn create(url: &str) -> Result<RunSchema> {
        let shown = redact_url(url);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            let reason = "expected postgres://user@host:port/database".to_owned();
            return Err(Error::BadUrl { url: shown, reason });
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::BadUrl { url: shown.clone(), reason: e.to_string() })?;
        let schema = RunSchema { name: format!("hasim_{}", run_id()), url: shown, options };
        schema.admin(format!("CREATE SCHEMA {}", schema.name)).await?;
        let pool = schema.pool("migrate", 1, None).await?;
        let migrated = migrator().run(&pool).await;
        pool.close().await;
        migrated?;
        Ok(schema)
    }

    /// The schema's name (`hasim_...`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's TCP address, for a proxy to forward to.
    pub async fn server_addr(&self) -> Result<SocketAddr> {
        let (host, port) = (self.options.get_host(), self.options.get_port());
        let bad = |reason: String| Error::BadUrl { url: self.url.clone(), reason };
        tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| bad(format!("cannot resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| bad(format!("{host} resolves to no address")))
    }

    /// The server's URL, without any password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A pool of up to `max_connections` whose every connection uses this schema.
    ///
    /// Its connections carry the application name `<schema>/<label>` (a replica's id,
    /// say), so [`RunSchema::terminate`] can find them. `via` replaces the server's
    /// address, so a replica can reach the database through a fault proxy.
    pub async fn pool(&self, label: &str, max_connections: u32, via: Option<SocketAddr>) -> Result<PgPool> {
        let mut options = self
            .options
            .clone()
            .options([("search_path", self.name.as_str())])
            .application_name(&format!("{}/{label}", self.name));
        if let Some(addr) = via {
            options = options.host(&addr.ip().to_string()).port(addr.port());
        }
        PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|cause| Error::Connect { url: self.url.clone(), cause })
    }

    /// Drops the schema and everything in it, on a connection of its own (so it works
    /// from any runtime, even after every pool of the run is gone). Connections of the
    /// run still open are terminated first, so none can hold a lock that blocks it.
    pub async fn drop_schema(&self) -> Result<()> {
        self.terminate(None).await?;
        self.admin(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)).await
    }

    /// Kills the server backends of the pools made with `label` (every pool of the
    /// run with `None`): their clients see the connection reset.
    pub async fn terminate(&self, label: Option<&str>) -> Result<()> {
        debug_assert!(
            label.is_none_or(|l| l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        );
        let pattern = match label {
            Some(label) => format!("{}/{label}", self.name),
            None => format!("{}/%", self.name),
        };
        self.admin(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name LIKE '{pattern}' AND pid <> pg_backend_pid()"
        ))
        .await
    }

    /// Ends every connection of the run's pools except those labelled `keep`, and
    /// waits until the server has let go of them: a transaction of theirs has then
    /// committed or rolled back for good, so the commit log is final.
    pub async fn settle(&self, keep: &str) -> Result<()> {
        debug_assert!(keep.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let (pattern, kept) = (format!("{}/%", self.name), format!("{}/{keep}", self.name));
        let others = format!(
            "FROM pg_stat_activity WHERE application_name LIKE '{pattern}' \
             AND application_name <> '{kept}' AND pid <> pg_backend_pid()"
        );
        self.admin(format!("SELECT pg_terminate_backend(pid) {others}")).await?;
        let mut conn = self.connect_admin().await?;
        let count = format!("SELECT count(*) {others}");
        for _ in 0..500 {
            let (left,): (i64,) = sqlx::query_as(AssertSqlSafe(count.as_str())).fetch_one(&mut conn).await?;
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        conn.close().await?;
        Ok(())
    }

    /// A fresh connection outside the run's schema.
    async fn connect_admin(&self) -> Result<PgConnection> {
        let connect = PgConnection::connect_with(&self.options);
        tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .unwrap_or_else(|_| Err(sqlx::Error::Io(std::io::ErrorKind::TimedOut.into())))
            .map_err(|cause| Error::Connect { url: self.url.clone(), cause })
    }

    /// Runs one statement on a fresh connection outside the run's schema.
    async fn admin(&self, sql: String) -> Result<()> {
        let mut conn = self.connect_admin().await?;
        // The statements are ours, naming our own schema (`hasim_` + hex) and labels
        // the caller chose (replica ids), never text from a scenario file.
        conn.execute(sqlx::raw_sql(AssertSqlSafe(sql))).await?;
        conn.close().await?;
        Ok(())
    }
}

/// A run id unique enough for concurrent runs on one server: time and randomness.
fn run_id() -> String {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    format!("{:x}_{:08x}", millis, rand::random::<u32>())
}

/// The URL with its password removed, for messages: `postgres://user@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority_end, tail) = match rest.find(['/', '?']) {
        Some(i) => (i, &rest[i..]),
        None => (rest.len(), ""),
    };
    let authority = &rest[..authority_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_only_the_password() {
        assert_eq!(
            redact_url("postgres://alice:s3cret@db.example:5432/app?sslmode=disable"),
            "postgres://alice@db.example:5432/app?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn run_ids_differ() {
        assert_ne!(run_id(), run_id());
    }
}
