//! How replicas send webhooks: the policy of one run ([`WebhookPolicy`]), and what a
//! scenario says about it for every strategy and for each one ([`WebhookPolicies`]).
//!
//! `[webhook]` sets keys for every strategy; `[webhook.<strategy>]` overrides them for
//! runs of that strategy. A key neither table gives keeps its default, except `id`,
//! whose default follows the design: `shipped-claim` models the real system, which
//! sends no `webhook-id` to Slack-like endpoints (the design's own default,
//! `StrategyKind::webhook_id`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Whether a delivery's requests carry a `webhook-id` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdPolicy {
    /// The id names the event and stays the same across a delivery's retries, so a
    /// receiver dedupes on it (Standard Webhooks).
    #[serde(rename = "stable")]
    Stable,
    /// No `webhook-id` header at all: the receiver cannot tell a retry from a second
    /// delivery, so every accepted request is a delivery of its own.
    #[serde(rename = "none")]
    Omitted,
}

impl IdPolicy {
    /// Both policies.
    pub const ALL: [IdPolicy; 2] = [IdPolicy::Stable, IdPolicy::Omitted];

    /// The name scenario files use: `stable` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdPolicy::Stable => "stable",
            IdPolicy::Omitted => "none",
        }
    }

    /// The policy named `name` in a scenario file.
    pub fn parse(name: &str) -> Option<IdPolicy> {
        IdPolicy::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// How a replica sends a webhook in one run: how long it waits, how often it tries,
/// and whether its requests carry a stable id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPolicy {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Tries in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the second try; doubles after each further failure. A longer
    /// `Retry-After` from the endpoint wins.
    pub backoff: Duration,
    /// Whether requests carry the `webhook-id` header.
    pub id: IdPolicy,
}

impl Default for WebhookPolicy {
    /// Bytebase's 3 tries and 5 s backoff scaled down by 100, as the cluster's timing
    /// is. The timeout (3 s there) is 100 ms: 30 ms is less than a loaded machine's
    /// first HTTP round trip. A stable id.
    fn default() -> Self {
        WebhookPolicy {
            timeout: Duration::from_millis(100),
            attempts: 3,
            backoff: Duration::from_millis(50),
            id: IdPolicy::Stable,
        }
    }
}

/// The policy keys one table of a scenario gives; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyKeys {
    /// `timeout`.
    pub timeout: Option<Duration>,
    /// `attempts`.
    pub attempts: Option<u32>,
    /// `backoff`.
    pub backoff: Option<Duration>,
    /// `id`.
    pub id: Option<IdPolicy>,
}

impl PolicyKeys {
    /// `self`, with the keys `over` gives replaced.
    fn overridden_by(&self, over: &PolicyKeys) -> PolicyKeys {
        PolicyKeys {
            timeout: over.timeout.or(self.timeout),
            attempts: over.attempts.or(self.attempts),
            backoff: over.backoff.or(self.backoff),
            id: over.id.or(self.id),
        }
    }
}

/// What a scenario says about sending: `[webhook]` for every strategy, and
/// `[webhook.<strategy>]` for runs of one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPolicies {
    /// The keys of `[webhook]`.
    pub every: PolicyKeys,
    /// The keys of each `[webhook.<strategy>]` table by the strategy's name, in the
    /// order strategies were registered; strategies without a table are absent.
    pub by_strategy: Vec<(String, PolicyKeys)>,
}

impl WebhookPolicies {
    /// The policy of a run under the strategy named `strategy`: its table's keys, else
    /// `[webhook]`'s, else the defaults; for `id`, the design's own `design_id`.
    pub fn resolve(&self, strategy: &str, design_id: IdPolicy) -> WebhookPolicy {
        let own = self.by_strategy.iter().find(|(s, _)| s == strategy).map(|(_, keys)| keys);
        let keys = own.map_or_else(|| self.every.clone(), |own| self.every.overridden_by(own));
        let default = WebhookPolicy::default();
        WebhookPolicy {
            timeout: keys.timeout.unwrap_or(default.timeout),
            attempts: keys.attempts.unwrap_or(default.attempts),
            backoff: keys.backoff.unwrap_or(default.backoff),
            id: keys.id.unwrap_or(design_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn without_keys_a_run_gets_the_defaults_and_its_designs_own_id() {
        let policies = WebhookPolicies::default();
        for id in IdPolicy::ALL {
            assert_eq!(policies.resolve("any", id), WebhookPolicy { id, ..WebhookPolicy::default() });
        }
    }

    #[test]
    fn an_id_in_webhook_applies_to_every_strategy() {
        for id in IdPolicy::ALL {
            let policies = WebhookPolicies {
                every: PolicyKeys { id: Some(id), ..PolicyKeys::default() },
                by_strategy: Vec::new(),
            };
            for design_id in IdPolicy::ALL {
                assert_eq!(policies.resolve("outbox", design_id).id, id, "{id:?} over {design_id:?}");
            }
        }
    }

    #[test]
    fn a_strategy_table_overrides_webhook_for_that_strategy_only() {
        let policies = WebhookPolicies {
            every: PolicyKeys { timeout: Some(ms(80)), attempts: Some(5), ..PolicyKeys::default() },
            by_strategy: vec![(
                "outbox".to_owned(),
                PolicyKeys {
                    attempts: Some(2),
                    backoff: Some(ms(10)),
                    id: Some(IdPolicy::Omitted),
                    timeout: None,
                },
            )],
        };
        let outbox = policies.resolve("outbox", IdPolicy::Stable);
        assert_eq!(
            outbox,
            WebhookPolicy { timeout: ms(80), attempts: 2, backoff: ms(10), id: IdPolicy::Omitted }
        );
        let seed = policies.resolve("seed-claim", IdPolicy::Stable);
        assert_eq!(
            seed,
            WebhookPolicy { timeout: ms(80), attempts: 5, backoff: ms(50), id: IdPolicy::Stable }
        );
    }

    #[test]
    fn id_policies_are_named_as_files_name_them() {
        for id in IdPolicy::ALL {
            assert_eq!(IdPolicy::parse(id.as_str()), Some(id));
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{}\"", id.as_str()));
        }
        assert_eq!(IdPolicy::parse("omitted"), None);
    }
}
