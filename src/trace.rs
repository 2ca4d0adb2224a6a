//! What a run's actors produce, and all the checker reads: the [`Trace`].
//!
//! The director collects it when the run ends (`actors/director/collect.rs`): the
//! history, the receiver's log, the store's final state, the claim table and its
//! snapshots, timing, and the actors left alive. Nothing in it is a verdict: the
//! checker judges it afterwards (`crate::check::check_trace`), from the trace alone,
//! so a trace saved as JSON (`docs/trace-format.md`) can be judged again by a later
//! checker (`crate::recheck`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::history::Entry;
use crate::lag::HostLag;
use crate::model::PlanId;
use crate::store::{ClaimRow, PlanState};
use crate::webhook::ReceivedRequest;

/// What a finished run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Whether the cluster went quiet (false: stopped at `max_duration`).
    pub quiesced: bool,
    /// Run time at the end.
    #[serde(rename = "elapsed_us", with = "crate::history::micros")]
    pub elapsed: Duration,
    /// The contract's deadline for each delivery, as the run's spec gave it: the
    /// checker needs it to tell `late` from `delivered`.
    #[serde(rename = "deadline_us", with = "crate::history::micros")]
    pub deadline: Duration,
    /// The plans the run created, in the order they were created.
    pub plans: Vec<PlanId>,
    /// The claim table at the end.
    pub claims: Vec<ClaimRow>,
    /// The claim table at each of the spec's `claim_snapshots` moments.
    pub claim_snapshots: Vec<ClaimSnapshot>,
    /// The history.
    pub history: Vec<Entry>,
    /// Every request the receiver got (empty with an outside endpoint).
    pub requests: Vec<ReceivedRequest>,
    /// Whose side deliveries are seen from, and so judged from: the receiver's log,
    /// or, with an outside endpoint, what the senders saw accepted.
    #[serde(default)]
    pub judged_from: DeliveryView,
    /// Each plan's final state.
    pub final_state: Vec<(PlanId, PlanState)>,
    /// Actors of the run still alive a moment after it ended (0: nothing leaked).
    pub leaked_actors: usize,
    /// How late the run's timers fired on its host; only a run on the real clock
    /// measures it (`None` on a paused clock, where timers cannot be late).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_lag: Option<HostLag>,
}

/// The claim table at one of the spec's `claim_snapshots` moments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimSnapshot {
    /// When it was read, on the run's clock.
    #[serde(rename = "at_us", with = "crate::history::micros")]
    pub at: Duration,
    /// The claim table's rows then.
    pub rows: Vec<ClaimRow>,
}

/// Where a trace learned what the endpoint accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryView {
    /// hasim's own receiver logged every request that reached it and its answer.
    #[default]
    Receiver,
    /// An outside endpoint: judged from what the senders saw accepted; the receiver's
    /// side is unknown.
    Senders,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_whole_microseconds_and_the_view_is_spelt_as_the_format_says() {
        let trace = Trace {
            quiesced: true,
            elapsed: Duration::from_millis(1500),
            deadline: Duration::from_secs(2),
            plans: Vec::new(),
            claims: Vec::new(),
            claim_snapshots: vec![ClaimSnapshot { at: Duration::from_millis(3), rows: Vec::new() }],
            history: Vec::new(),
            requests: Vec::new(),
            judged_from: DeliveryView::Senders,
            final_state: Vec::new(),
            leaked_actors: 0,
            host_lag: None,
        };
        let json = serde_json::to_value(&trace).unwrap();
        assert_eq!(json["elapsed_us"], 1_500_000);
        assert_eq!(json["deadline_us"], 2_000_000);
        assert_eq!(json["claim_snapshots"][0]["at_us"], 3_000);
        assert_eq!(json["judged_from"], "senders");
        assert!(json.get("host_lag").is_none());
        assert_eq!(serde_json::from_value::<Trace>(json).unwrap(), trace);
    }
}
