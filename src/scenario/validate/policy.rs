//! The webhook policy keys (`timeout`, `attempts`, `backoff`, `id`) of `[webhook]`,
//! for every strategy, and of each `[webhook.<strategy>]` table, for one.

use toml::Spanned;

use crate::scenario::raw::*;
use crate::strategy::StrategyKind;
use crate::webhook::{IdPolicy, PolicyKeys, WebhookPolicies};

use super::{Result, Validator};

/// The policy keys of one table, as written.
struct Keys<'a> {
    timeout: Option<&'a Dur>,
    attempts: Option<&'a Int>,
    backoff: Option<&'a Dur>,
    id: Option<&'a Str>,
}

impl<'a> From<&'a RawPolicy> for Keys<'a> {
    fn from(raw: &'a RawPolicy) -> Self {
        Keys {
            timeout: raw.timeout.as_ref(),
            attempts: raw.attempts.as_ref(),
            backoff: raw.backoff.as_ref(),
            id: raw.id.as_ref(),
        }
    }
}

impl Validator<'_> {
    /// The policy `[webhook]` sets for every strategy and each `[webhook.<strategy>]`
    /// table for its own.
    pub(super) fn policies(&self, raw: Option<&RawWebhook>) -> Result<WebhookPolicies> {
        let Some(raw) = raw else { return Ok(WebhookPolicies::default()) };
        let every = Keys {
            timeout: raw.timeout.as_ref(),
            attempts: raw.attempts.as_ref(),
            backoff: raw.backoff.as_ref(),
            id: raw.id.as_ref(),
        };
        let every = self.policy_keys("webhook", &every)?;
        let mut by_strategy = Vec::new();
        for strategy in StrategyKind::all() {
            for (_, table) in raw.strategies.iter().filter(|(s, _)| *s == strategy) {
                by_strategy.push((strategy.to_string(), self.strategy_policy(strategy, table)?));
            }
        }
        Ok(WebhookPolicies { every, by_strategy })
    }

    /// A `[webhook.<strategy>]` table: it must say something.
    fn strategy_policy(&self, strategy: StrategyKind, table: &Spanned<RawPolicy>) -> Result<PolicyKeys> {
        let name = format!("webhook.{strategy}");
        let keys = self.policy_keys(&name, &Keys::from(table.get_ref()))?;
        if keys == PolicyKeys::default() {
            return Err(self.err(
                table,
                name.clone(),
                format!(
                    "[{name}] says nothing: give what {strategy} runs send differently \
                     (timeout, attempts, backoff or id), or remove the table"
                ),
            ));
        }
        Ok(keys)
    }

    /// The keys of the table at `table` (`webhook` or `webhook.<strategy>`).
    fn policy_keys(&self, table: &str, keys: &Keys<'_>) -> Result<PolicyKeys> {
        let key = |k: &str| format!("{table}.{k}");
        let timeout = self.positive(keys.timeout, &key("timeout"))?;
        let attempts = match keys.attempts {
            None => None,
            Some(n) => Some(self.int(
                n,
                &key("attempts"),
                1..i64::from(u32::MAX) + 1,
                "attempts counts every try, so at least 1 (1 = no retry)",
            )?),
        };
        let id = match keys.id {
            None => None,
            Some(id) => Some(IdPolicy::parse(id.get_ref()).ok_or_else(|| {
                self.err(
                    id,
                    key("id"),
                    format!(
                        "unknown id {:?}: id = \"stable\" (the webhook-id stays the same across \
                         retries) or id = \"none\" (requests carry no webhook-id)",
                        id.get_ref()
                    ),
                )
            })?),
        };
        Ok(PolicyKeys { timeout, attempts, backoff: keys.backoff.map(|d| d.get_ref().0), id })
    }
}
