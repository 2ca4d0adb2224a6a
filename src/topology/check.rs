//! `hasim doctor --topology primary-standby`: checks that this host can make the pair
//! a run needs, end to end: make and start it, see a commit reach the standby, fail
//! over, write on the new primary, delete it all.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::server::pair_error;
use super::{PgPair, Replication};
use crate::Result;

/// How long a commit may take to show on the standby.
const PATIENCE: Duration = Duration::from_secs(30);

/// What the check of a pair found.
#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    /// The directory of the Postgres programs used.
    pub binaries: PathBuf,
    /// Whether the servers ran as the `postgres` OS user (hasim runs as root).
    pub as_postgres_user: bool,
    /// `SELECT version()` on the primary.
    pub server_version: String,
    /// How the pair replicated.
    pub replication: Replication,
    /// From nothing to both servers up and the standby streaming.
    #[serde(rename = "started_us", with = "crate::history::micros")]
    pub started: Duration,
    /// From a commit on the primary to its row on the standby.
    #[serde(rename = "replicated_us", with = "crate::history::micros")]
    pub replicated: Duration,
    /// From the primary's death to the standby accepting writes.
    #[serde(rename = "failover_us", with = "crate::history::micros")]
    pub failover: Duration,
}

/// Makes a pair replicating as `replication` says, checks it, fails it over and
/// deletes it. Blocks (it runs the Postgres programs): a few seconds.
pub fn check(replication: Replication) -> Result<PairReport> {
    let started = Instant::now();
    let mut pair = PgPair::start(replication)?;
    let started = started.elapsed();
    let server_version = pair.primary_sql("SELECT version()")?;
    pair.primary_sql("CREATE TABLE hasim_doctor (v int); INSERT INTO hasim_doctor VALUES (1)")?;
    let committed = Instant::now();
    let seen = "SELECT count(*) FROM pg_tables WHERE tablename = 'hasim_doctor'";
    while pair.standby_sql(seen)? != "1" {
        if committed.elapsed() > PATIENCE {
            return Err(pair_error(format!(
                "a commit on the primary did not reach the standby in {PATIENCE:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let replicated = committed.elapsed();
    let failing = Instant::now();
    pair.failover()?;
    pair.primary_sql("INSERT INTO hasim_doctor VALUES (2)")?;
    let failover = failing.elapsed();
    let rows = pair.primary_sql("SELECT count(*) FROM hasim_doctor")?;
    if rows != "2" {
        return Err(pair_error(format!("the new primary has {rows} rows of the 2 written")));
    }
    Ok(PairReport {
        binaries: pair.binaries().dir.clone(),
        as_postgres_user: pair.binaries().user.is_some(),
        server_version,
        replication,
        started,
        replicated,
        failover,
    })
}
