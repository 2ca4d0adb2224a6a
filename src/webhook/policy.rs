//! How replicas send webhooks: the policy of one run ([`WebhookPolicy`]), and what a
//! scenario says about it for every strategy and for each one ([`WebhookPolicies`]).
//!
//! `[webhook]` sets keys for every strategy; `[webhook.<strategy>]` overrides them for
//! runs of that strategy. A key neither table gives keeps its default.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::strategy::StrategyKind;

/// How a replica sends a webhook in one run: how long it waits, how often it tries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPolicy {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Tries in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the second try; doubles after each further failure. A longer
    /// `Retry-After` from the endpoint wins.
    pub backoff: Duration,
}

impl Default for WebhookPolicy {
    /// Bytebase's 3 tries and 5 s backoff scaled down by 100, as the cluster's timing
    /// is. The timeout (3 s there) is 100 ms: 30 ms is less than a loaded machine's
    /// first HTTP round trip.
    fn default() -> Self {
        WebhookPolicy { timeout: Duration::from_millis(100), attempts: 3, backoff: Duration::from_millis(50) }
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
}

impl PolicyKeys {
    /// `self`, with the keys `over` gives replaced.
    fn overridden_by(&self, over: &PolicyKeys) -> PolicyKeys {
        PolicyKeys {
            timeout: over.timeout.or(self.timeout),
            attempts: over.attempts.or(self.attempts),
            backoff: over.backoff.or(self.backoff),
        }
    }
}

/// What a scenario says about sending: `[webhook]` for every strategy, and
/// `[webhook.<strategy>]` for runs of one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPolicies {
    /// The keys of `[webhook]`.
    pub every: PolicyKeys,
    /// The keys of each `[webhook.<strategy>]` table, in the order of
    /// [`StrategyKind::ALL`]; strategies without a table are absent.
    pub by_strategy: Vec<(StrategyKind, PolicyKeys)>,
}

impl WebhookPolicies {
    /// The policy of a run under `strategy`: its table's keys, else `[webhook]`'s,
    /// else the defaults.
    pub fn resolve(&self, strategy: StrategyKind) -> WebhookPolicy {
        let own = self.by_strategy.iter().find(|(s, _)| *s == strategy).map(|(_, keys)| keys);
        let keys = own.map_or_else(|| self.every.clone(), |own| self.every.overridden_by(own));
        let default = WebhookPolicy::default();
        WebhookPolicy {
            timeout: keys.timeout.unwrap_or(default.timeout),
            attempts: keys.attempts.unwrap_or(default.attempts),
            backoff: keys.backoff.unwrap_or(default.backoff),
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
    fn without_keys_every_strategy_gets_the_defaults() {
        let policies = WebhookPolicies::default();
        assert!(StrategyKind::ALL.into_iter().all(|s| policies.resolve(s) == WebhookPolicy::default()));
    }

    #[test]
    fn a_strategy_table_overrides_webhook_for_that_strategy_only() {
        let policies = WebhookPolicies {
            every: PolicyKeys { timeout: Some(ms(80)), attempts: Some(5), ..PolicyKeys::default() },
            by_strategy: vec![(
                StrategyKind::Outbox,
                PolicyKeys { attempts: Some(2), backoff: Some(ms(10)), timeout: None },
            )],
        };
        let outbox = policies.resolve(StrategyKind::Outbox);
        assert_eq!(outbox, WebhookPolicy { timeout: ms(80), attempts: 2, backoff: ms(10) });
        let seed = policies.resolve(StrategyKind::SeedClaim);
        assert_eq!(seed, WebhookPolicy { timeout: ms(80), attempts: 5, backoff: ms(50) });
    }
}
