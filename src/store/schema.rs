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

/// How a pool's connections plan the statements they prepare (`plan_cache_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plans {
    /// Postgres's default: a statement is planned anew for its parameters at each
    /// execution until a generic plan looks as good, which for most of the store's
    /// statements is never. Readers whose best plan depends on the values (a range
    /// over the change feed) want this.
    Custom,
    /// Planned once per connection, whatever the parameters: the store's writes
    /// look rows up by key, where one plan fits every value, and planning them at
    /// each execution was a third of the server's CPU in a busy run.
    Generic,
}

impl Plans {
    fn setting(self) -> &'static str {
        match self {
            Plans::Custom => "auto",
            Plans::Generic => "force_generic_plan",
        }
    }
}

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
    ///
    /// The schema's comment records when it was made (`hasim run schema, created at
    /// <unix seconds>`), so `hasim gc` can tell the age of one left behind. A schema
    /// that cannot be migrated is dropped before the error returns.
    pub async fn create(url: &str) -> Result<RunSchema> {
        let schema = RunSchema::named(url, format!("hasim_{}", run_id()))?;
        let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        schema
            .admin(format!(
                "CREATE SCHEMA {name}; COMMENT ON SCHEMA {name} IS '{CREATED_AT}{created}'",
                name = schema.name
            ))
            .await?;
        let migrated = async {
            let pool = schema.pool("migrate", 1, None).await?;
            let migrated = migrator().run(&pool).await;
            pool.close().await;
            Ok::<(), Error>(migrated?)
        }
        .await;
        if let Err(e) = migrated {
            // The error says what went wrong; a failure to drop would only hide it.
            let _ = schema.drop_schema().await;
            return Err(e);
        }
        tracing::info!(schema = %schema.name, "run schema created");
        Ok(schema)
    }

    /// The run schema `name` on the server at `url`, as found there (by `hasim gc`):
    /// nothing is created or checked.
    pub fn named(url: &str, name: String) -> Result<RunSchema> {
        let shown = redact_url(url);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            let reason = "expected postgres://user@host:port/database".to_owned();
            return Err(Error::BadUrl { url: shown, reason });
        }
        if !is_run_schema(&name) {
            return Err(Error::BadUrl { url: shown, reason: format!("`{name}` is not a run schema's name") });
        }
        Ok(RunSchema { name, url: shown, options: connect_options(url)? })
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
        self.pool_planned(label, max_connections, via, Plans::Custom).await
    }

    /// A pool like [`RunSchema::pool`] whose connections plan each statement as
    /// `plans` says.
    pub async fn pool_planned(
        &self,
        label: &str,
        max_connections: u32,
        via: Option<SocketAddr>,
        plans: Plans,
    ) -> Result<PgPool> {
        // JIT compiling is off: the store's statements touch tens of rows, and the
        // planner, misled by the change feed's ever-rising `changed` column, judged
        // some reads costly enough to spend half a second compiling them.
        let settings =
            [("search_path", self.name.as_str()), ("plan_cache_mode", plans.setting()), ("jit", "off")];
        let mut options =
            self.options.clone().options(settings).application_name(&format!("{}/{label}", self.name));
        if let Some(addr) = via {
            options = options.host(&addr.ip().to_string()).port(addr.port());
        }
        PgPoolOptions::new()
            .max_connections(max_connections)
            // A connection can only break on the way through a fault proxy: ping
            // before each use there, and spare the round trip elsewhere.
            .test_before_acquire(via.is_some())
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
        self.admin(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)).await?;
        tracing::info!(schema = %self.name, "run schema dropped");
        Ok(())
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

    /// A connection that marks the schema in use (labelled `<schema>/run`), for a run
    /// to hold from its schema's creation to its end: `hasim gc` drops no schema
    /// with a connection open, and a run's pools connect only once its receiver,
    /// proxies and clients are up.
    pub async fn hold(&self) -> Result<PgConnection> {
        self.connect(&self.options.clone().application_name(&format!("{}/run", self.name))).await
    }

    /// A fresh connection outside the run's schema.
    async fn connect_admin(&self) -> Result<PgConnection> {
        self.connect(&self.options).await
    }

    /// A fresh connection with `options`, given up after [`CONNECT_TIMEOUT`].
    async fn connect(&self, options: &PgConnectOptions) -> Result<PgConnection> {
        tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options))
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

/// The start of a run schema's comment; the creation time in unix seconds follows.
pub(crate) const CREATED_AT: &str = "hasim run schema, created at ";

/// Whether `name` is one run schemas are given: `hasim_` and then lower-case
/// letters, digits and underscores only (so it is safe to splice into a statement).
pub fn is_run_schema(name: &str) -> bool {
    name.strip_prefix("hasim_").is_some_and(|id| {
        !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

/// A run id unique enough for concurrent runs on one server: time and randomness.
fn run_id() -> String {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    format!("{:x}_{:08x}", millis, rand::random::<u32>())
}

/// The connection options of `url`. A server on this host (127.0.0.1, `::1`,
/// `localhost`, a Unix socket) is reached without TLS unless the URL or `PGSSLMODE`
/// asks for it: libpq's default (`prefer`) would encrypt a link that never leaves the
/// host, and sqlx's TLS handshake waits out Nagle's algorithm on its small writes,
/// which made every new connection take about 90 ms here (2 ms without TLS).
pub fn connect_options(url: &str) -> Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| Error::BadUrl { url: redact_url(url), reason: e.to_string() })?;
    let asked = url.contains("sslmode=") || std::env::var_os("PGSSLMODE").is_some();
    let host = options.get_host();
    let local =
        host.starts_with('/') || matches!(host, "localhost" | "::1" | "[::1]") || host.starts_with("127.");
    Ok(if local && !asked { options.ssl_mode(sqlx::postgres::PgSslMode::Disable) } else { options })
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
    fn run_ids_differ_and_make_run_schema_names() {
        assert_ne!(run_id(), run_id());
        assert!(is_run_schema(&format!("hasim_{}", run_id())));
    }

    #[test]
    fn only_run_schema_names_are_taken() {
        for bad in ["hasim_", "public", "hasim_x; DROP TABLE t", "hasim_A", "xhasim_1", "hasim_1'"] {
            assert!(!is_run_schema(bad), "{bad}");
        }
        let url = "postgres://postgres@127.0.0.1:5432/postgres";
        assert!(RunSchema::named(url, "public".into()).is_err());
        assert_eq!(RunSchema::named(url, "hasim_18f_00ab".into()).unwrap().name(), "hasim_18f_00ab");
    }

    #[test]
    fn a_server_on_this_host_is_reached_without_tls_unless_the_url_asks() {
        use sqlx::postgres::PgSslMode;
        // PGSSLMODE would count as asking; the test environment does not set it.
        if std::env::var_os("PGSSLMODE").is_some() {
            return;
        }
        let mode = |url: &str| connect_options(url).unwrap().get_ssl_mode();
        for local in
            ["postgres://u@127.0.0.1:5432/d", "postgres://u@localhost/d", "postgres://u@[::1]:5432/d"]
        {
            assert!(matches!(mode(local), PgSslMode::Disable), "{local}");
        }
        assert!(matches!(mode("postgres://u@127.0.0.1/d?sslmode=require"), PgSslMode::Require));
        assert!(matches!(mode("postgres://u@db.example/d"), PgSslMode::Prefer), "libpq's default elsewhere");
        assert!(
            connect_options("postgres://u@h:notaport/d")
                .unwrap_err()
                .to_string()
                .contains("invalid database URL")
        );
    }
}
