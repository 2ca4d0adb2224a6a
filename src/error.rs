//! The library's error type.

use crate::model::{PlanId, UnknownValue};

/// Everything that can go wrong inside the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached at all.
    #[error("cannot connect to Postgres at {url}: {cause}{}", connect_hint(.cause))]
    Connect {
        /// The URL, without any password.
        url: String,
        /// What the driver said (part of the message, so not a separate source).
        cause: sqlx::Error,
    },
    /// A connection URL that cannot be parsed.
    #[error("invalid database URL {url}: {reason}")]
    BadUrl {
        /// The URL, without any password.
        url: String,
        /// Why it is not usable.
        reason: String,
    },
    /// A statement failed (connection lost, timeout, constraint, permission...).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be migrated.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// An operation named a plan that does not exist (the foreign key refused it).
    #[error("no plan with id {0}")]
    NoSuchPlan(PlanId),
    /// A column held a value the model does not know.
    #[error("corrupt row: {0}")]
    Corrupt(#[from] UnknownValue),
    /// An operation's result could not be written to or read from the commit log.
    #[error("commit log: {0}")]
    CommitLog(String),
    /// The replica's link to the database was reset while the operation was on it.
    #[error("connection reset: the link to the database was cut")]
    LinkReset,
    /// An actor that was asked to do something has stopped (e.g. its replica crashed).
    #[error("actor stopped: {0}")]
    ActorGone(&'static str),
    /// A webhook signing secret that cannot be used. The message never repeats the secret.
    #[error("invalid webhook secret: {0} (expected whsec_ followed by base64)")]
    BadSecret(&'static str),
    /// The exploration could not run a case (a generator bug, not a finding).
    #[error("explore: {0}")]
    Explore(String),
    /// The HTTP webhook receiver could not start listening.
    #[error("cannot start the webhook receiver: {0}")]
    Listen(#[source] std::io::Error),
    /// A results folder or a file in it could not be written.
    #[error("cannot write the results at {}: {cause}", path.display())]
    Results {
        /// The folder or file.
        path: std::path::PathBuf,
        /// What the file system said (part of the message, so not a separate source).
        cause: std::io::Error,
    },
    /// A primary-standby pair could not be made, started, failed over or stopped.
    #[error("primary-standby pair: {0}")]
    Pair(String),
    /// A run built in Rust (`Sim::builder`) that cannot run: no plan, a plan named
    /// twice, an action on a plan never declared.
    #[error("the simulation cannot run: {0}")]
    Spec(String),
    /// A strategy could not be registered (a bad name, or a name another design holds).
    #[error("{0}")]
    Strategy(String),
    /// A saved trace file cannot be judged again (`crate::recheck`).
    #[error("cannot check the trace {}: {problem}", path.display())]
    Trace {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it (part of the message, so not a separate source).
        problem: crate::recheck::TraceProblem,
    },
    /// The work was asked to stop (SIGINT or SIGTERM) before it finished.
    #[error("stopped by {0}")]
    Interrupted(crate::interrupt::Signal),
}

/// What to do about a failed connection: start a server when none answered; when the
/// server answered and refused, its message already says why.
fn connect_hint(source: &sqlx::Error) -> &'static str {
    match source {
        sqlx::Error::Database(_) => " (check the user, database and permissions in the URL)",
        _ => {
            "\n  (is the server running? start one with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, \
             or point DATABASE_URL / --database-url at a reachable one)"
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
