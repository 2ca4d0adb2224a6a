//! The shared database as a deployment runs it: one server, or a primary with a
//! streaming standby that takes over when the primary fails.
//!
//! [`PgPair`] is a real pair of Postgres servers made from the installed binaries for
//! one run, replicating as [`Replication`] says, with [`PgPair::failover`] to lose the
//! primary as a failover manager would. With asynchronous replication, the commits the
//! standby had not received when the primary failed are gone after the failover,
//! though their writers saw them commit.

mod check;
mod control;
mod left;
mod pair;
mod server;

pub use check::{PairReport, check};
pub use control::{DatabaseAction, DatabaseControl};
pub use left::{LeftPair, drop_pair, left_pairs};
pub use pair::PgPair;
pub use server::Binaries;

use serde::{Deserialize, Serialize};

/// The scenario's `[database]`: how the shared database is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DatabaseSpec {
    /// One server, or a primary and a standby.
    pub topology: Topology,
    /// How a primary-standby pair replicates.
    pub replication: Replication,
}

/// How many servers the shared database is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// One server (the one at the database URL).
    #[default]
    Single,
    /// A primary and a streaming standby that hasim makes for the run from the
    /// installed Postgres binaries, and deletes after it.
    PrimaryStandby,
}

/// How the primary waits for its standby before it acknowledges a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Replication {
    /// It does not wait: a failover loses what the standby had not received.
    #[default]
    Async,
    /// It waits until the standby has flushed the commit to its disk.
    Sync,
    /// It waits until the standby has applied the commit (readers there see it).
    RemoteApply,
}

impl Replication {
    /// The name scenario files use.
    pub fn as_str(self) -> &'static str {
        match self {
            Replication::Async => "async",
            Replication::Sync => "sync",
            Replication::RemoteApply => "remote-apply",
        }
    }

    /// The primary's `synchronous_commit` for this mode; `None` for asynchronous
    /// replication, which names no synchronous standby.
    pub fn synchronous_commit(self) -> Option<&'static str> {
        match self {
            Replication::Async => None,
            Replication::Sync => Some("on"),
            Replication::RemoteApply => Some("remote_apply"),
        }
    }
}
