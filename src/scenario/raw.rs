//! The scenario file as written: serde types that mirror it key for key. Unknown keys
//! are refused everywhere; values keep their spans so that validation can point at
//! them. Nothing here checks meaning; `validate` does.

use serde::Deserialize;
use toml::Spanned;

use super::duration::{RawDuration, RawDurationRange};
use crate::strategy::StrategyKind;

/// A spanned string.
pub type Str = Spanned<String>;
/// A spanned duration.
pub type Dur = Spanned<RawDuration>;
/// A spanned integer (TOML integers are i64; ranges are checked in validation).
pub type Int = Spanned<i64>;
/// A spanned list of spanned items.
pub type List<T> = Spanned<Vec<Spanned<T>>>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Str,
    pub description: Str,
    pub seed: Option<Int>,
    pub strategy: Option<Str>,
    pub deadline: Option<Dur>,
    pub max_duration: Option<Dur>,
    pub cluster: Option<Spanned<RawCluster>>,
    pub database: Option<Spanned<RawDatabase>>,
    pub webhook: Option<Spanned<RawWebhook>>,
    pub plans: Option<List<RawPlan>>,
    pub workload: Option<List<RawWorkload>>,
    pub timeline: Option<List<RawAction>>,
    pub reactions: Option<List<RawReaction>>,
    pub faults: Option<List<RawFault>>,
    pub expect: Option<List<RawExpect>>,
    pub claims: Option<List<RawClaim>>,
}

/// `[cluster]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub replicas: Option<Int>,
    pub tick: Option<Dur>,
    pub heartbeat: Option<Dur>,
    pub abandon_after: Option<Dur>,
    pub runs_per_tick: Option<Int>,
    pub status_write: Option<Str>,
}

/// `[database]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub topology: Option<Str>,
    pub replication: Option<Str>,
}

/// `[webhook]`, with a `[webhook.<strategy>]` table per strategy, named as the CLI
/// names them: any registered strategy's name is a key of its own.
#[derive(Debug, Default)]
pub struct RawWebhook {
    pub receiver: Option<Str>,
    pub url: Option<Str>,
    pub timeout: Option<Dur>,
    pub attempts: Option<Int>,
    pub backoff: Option<Dur>,
    pub secret: Option<Str>,
    pub status: Option<Int>,
    pub id: Option<Str>,
    /// The `[webhook.<strategy>]` tables, in the file's order.
    pub strategies: Vec<(StrategyKind, Spanned<RawPolicy>)>,
}

/// The keys of `[webhook]` besides the strategies' tables.
const WEBHOOK_KEYS: &[&str] =
    &["receiver", "url", "timeout", "attempts", "backoff", "secret", "status", "id"];

/// A key of `[webhook]`: one of its own, or a registered strategy's name. Refused as
/// it is read, so the error points at the key.
struct WebhookKey(String);

impl<'de> Deserialize<'de> for WebhookKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = String::deserialize(d)?;
        if WEBHOOK_KEYS.contains(&key.as_str()) || key.parse::<StrategyKind>().is_ok() {
            return Ok(WebhookKey(key));
        }
        let strategies = StrategyKind::all();
        let allowed: Vec<&str> =
            WEBHOOK_KEYS.iter().copied().chain(strategies.iter().map(|s| s.as_str())).collect();
        Err(serde::de::Error::custom(format!(
            "unknown field `{key}`, expected one of `{}`",
            allowed.join("`, `")
        )))
    }
}

impl<'de> Deserialize<'de> for RawWebhook {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = RawWebhook;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a [webhook] table")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawWebhook, A::Error> {
                let mut raw = RawWebhook::default();
                while let Some(WebhookKey(key)) = map.next_key()? {
                    match key.as_str() {
                        "receiver" => raw.receiver = Some(map.next_value()?),
                        "url" => raw.url = Some(map.next_value()?),
                        "timeout" => raw.timeout = Some(map.next_value()?),
                        "attempts" => raw.attempts = Some(map.next_value()?),
                        "backoff" => raw.backoff = Some(map.next_value()?),
                        "secret" => raw.secret = Some(map.next_value()?),
                        "status" => raw.status = Some(map.next_value()?),
                        "id" => raw.id = Some(map.next_value()?),
                        name => {
                            let strategy = name.parse().map_err(serde::de::Error::custom)?;
                            raw.strategies.push((strategy, map.next_value()?));
                        }
                    }
                }
                Ok(raw)
            }
        }
        d.deserialize_map(Keys)
    }
}

/// `[webhook.<strategy>]`: the policy keys a strategy's runs override.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub timeout: Option<Dur>,
    pub attempts: Option<Int>,
    pub backoff: Option<Dur>,
    pub id: Option<Str>,
}

/// `[[plans]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub name: Str,
    pub project: Option<Str>,
    pub tasks: Option<List<RawTask>>,
}

/// `[[plans.tasks]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    pub name: Str,
    pub duration: Option<Spanned<RawDurationRange>>,
    pub failure_probability: Option<Spanned<f64>>,
    pub attempts: Option<List<RawAttempt>>,
}

/// `[[workload]]`: many plans made from one template, started at seeded moments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub plans: Int,
    pub name: Option<Str>,
    pub project: Option<Str>,
    pub tasks: Option<Int>,
    pub duration: Option<Spanned<RawDurationRange>>,
    pub failure_probability: Option<Spanned<f64>>,
    pub start: Option<Dur>,
    pub over: Option<Dur>,
    pub rate: Option<Spanned<f64>>,
}

/// One scripted attempt.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAttempt {
    pub outcome: Str,
    pub error: Option<Str>,
    pub after: Dur,
}

/// `[[timeline]]`: a user action.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    pub at: Dur,
    pub plan: Str,
    pub action: Str,
    pub tasks: Option<List<String>>,
    pub via: Option<Str>,
}

/// `[[reactions]]`: what the user does when something happens to a plan.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReaction {
    pub when: Str,
    pub plan: Option<Str>,
    pub action: Str,
    pub tasks: Option<Str>,
    pub after: Dur,
    pub via: Option<Str>,
    pub max: Option<Int>,
}

/// `[[faults]]`: every key any kind takes; which ones a kind allows is checked after.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub kind: Str,
    pub at: Option<Dur>,
    pub until: Option<Dur>,
    pub when: Option<Spanned<RawWhen>>,
    pub replica: Option<Str>,
    pub restart_after: Option<Dur>,
    pub heal_after: Option<Dur>,
    pub latency: Option<Dur>,
    pub status: Option<Int>,
    pub retry_after: Option<Dur>,
    pub hang: Option<Spanned<bool>>,
    pub reset: Option<Spanned<bool>>,
    pub requests: Option<Int>,
    pub delay: Option<Dur>,
    pub every: Option<Dur>,
    pub rounds: Option<Int>,
}

/// A fault's `when = { replica, point, op, nth }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    pub replica: Str,
    pub point: Str,
    pub op: Option<Str>,
    pub nth: Option<Int>,
}

/// `[[expect]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub strategy: Option<Str>,
    pub strategies: Option<List<String>>,
    pub plan: Option<Str>,
    pub pass: Option<Spanned<bool>>,
    pub deliveries: Option<List<RawEventRef>>,
    pub verdicts: Option<List<RawVerdict>>,
}

/// `{ event, episode }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEventRef {
    pub event: Str,
    pub episode: Option<Int>,
}

/// `{ event, episode, verdict }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVerdict {
    pub event: Str,
    pub episode: Option<Int>,
    pub verdict: Str,
}

/// `[[claims]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaim {
    pub at: Dur,
    pub strategy: Option<Str>,
    pub strategies: Option<List<String>>,
    pub rows: List<RawRow>,
}

/// `{ plan, event }`: a claim row.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRow {
    pub plan: Str,
    pub event: Str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_at_every_level() {
        let base = "name = \"n\"\ndescription = \"d\"\n";
        for extra in [
            "bogus = 1",
            "[cluster]\nbogus = 1",
            "[webhook]\nbogus = 1",
            "[webhook.outbox]\nbogus = 1",
            "[webhook.bogus]\nattempts = 1",
            "[[plans]]\nname = \"p\"\nbogus = 1",
            "[[workload]]\nplans = 3\nbogus = 1",
            "[[plans]]\nname = \"p\"\n[[plans.tasks]]\nname = \"t\"\nbogus = 1",
            "[[plans]]\nname = \"p\"\n[[plans.tasks]]\nname = \"t\"\nattempts = [{ outcome = \"done\", after = \"1ms\", bogus = 1 }]",
            "[[timeline]]\nat = \"0ms\"\nplan = \"p\"\naction = \"run\"\nbogus = 1",
            "[[reactions]]\nwhen = \"task-failed\"\naction = \"retry\"\nafter = \"0ms\"\nbogus = 1",
            "[[faults]]\nkind = \"crash\"\nbogus = 1",
            "[[faults]]\nkind = \"crash\"\nwhen = { replica = \"r1\", point = \"after-claim\", bogus = 1 }",
            "[[expect]]\nbogus = 1",
            "[[expect]]\ndeliveries = [{ event = \"PIPELINE_FAILED\", bogus = 1 }]",
            "[[expect]]\nverdicts = [{ event = \"PIPELINE_FAILED\", verdict = \"lost\", bogus = 1 }]",
            "[[claims]]\nat = \"0ms\"\nrows = []\nbogus = 1",
            "[[claims]]\nat = \"0ms\"\nrows = [{ plan = \"p\", event = \"PIPELINE_FAILED\", bogus = 1 }]",
        ] {
            let err = toml::from_str::<RawScenario>(&format!("{base}{extra}\n")).unwrap_err();
            assert!(err.message().contains("unknown field `bogus`"), "{extra}: {}", err.message());
        }
    }

    #[test]
    fn a_minimal_file_reads() {
        let raw: RawScenario = toml::from_str(
            "name = \"n\"\ndescription = \"d\"\n[[plans]]\nname = \"p\"\n[[plans.tasks]]\nname = \"t\"\n",
        )
        .unwrap();
        assert_eq!(raw.name.get_ref(), "n");
        let plans = raw.plans.unwrap().into_inner();
        assert_eq!(plans[0].get_ref().tasks.as_ref().unwrap().get_ref().len(), 1);
        assert!(raw.timeline.is_none() && raw.faults.is_none());
    }
}
