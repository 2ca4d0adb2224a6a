//! The cluster a run starts: how many replicas, and their timing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::StatusWrite;

/// The cluster's timing: real Bytebase uses a 5 s scheduler tick, a 10 s heartbeat and
/// a 60 s abandon-after bound; simulations scale these down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterConfig {
    /// Replicas (`r1` ... `rN`).
    pub replicas: usize,
    /// Scheduler tick: promote PENDING runs, take AVAILABLE ones.
    pub tick: Duration,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// A RUNNING run whose replica's heartbeat is older than this is abandoned.
    pub abandon_after: Duration,
    /// Runs a replica takes per tick.
    pub runs_per_tick: u32,
    /// How a replica's status write of its own run is guarded; `None` leaves it to
    /// the design of the strategy run ([`crate::spec::ClusterSpec::status_write`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_write: Option<StatusWrite>,
}

impl Default for ClusterConfig {
    /// Bytebase's 5 s / 10 s / 60 s scaled down by 100.
    fn default() -> Self {
        ClusterConfig {
            replicas: 3,
            tick: Duration::from_millis(50),
            heartbeat: Duration::from_millis(100),
            abandon_after: Duration::from_millis(600),
            runs_per_tick: 8,
            status_write: None,
        }
    }
}
