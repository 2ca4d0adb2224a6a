//! The `[cluster]` and `[webhook]` tables: replica count, timings, how status writes
//! are guarded, and where deliveries go (the built-in receiver or a URL). The webhook
//! policy is `policy`'s.

use toml::Spanned;

use crate::scenario::Target;
use crate::scenario::duration::Humane;
use crate::scenario::raw::*;
use crate::spec::ClusterConfig;
use crate::store::StatusWrite;
use crate::webhook::Secret;

use super::{DEFAULT_STATUS, MAX_REPLICAS, Result, Validator};

impl Validator<'_> {
    pub(super) fn cluster(&self, cluster: Option<&Spanned<RawCluster>>) -> Result<ClusterConfig> {
        let mut config = ClusterConfig::default();
        let Some(cluster) = cluster else { return Ok(config) };
        let raw = cluster.get_ref();
        if let Some(n) = &raw.replicas {
            config.replicas = self.int(
                n,
                "cluster.replicas",
                1..MAX_REPLICAS + 1,
                &format!("a cluster has 1 to {MAX_REPLICAS} replicas"),
            )?;
        }
        if let Some(tick) = self.positive(raw.tick.as_ref(), "cluster.tick")? {
            config.tick = tick;
        }
        if let Some(heartbeat) = self.positive(raw.heartbeat.as_ref(), "cluster.heartbeat")? {
            config.heartbeat = heartbeat;
        }
        if let Some(after) = self.positive(raw.abandon_after.as_ref(), "cluster.abandon_after")? {
            config.abandon_after = after;
        }
        if config.abandon_after <= config.heartbeat {
            let message = format!(
                "abandon_after ({}) must exceed heartbeat ({}): a live replica would look dead between beats",
                Humane(config.abandon_after),
                Humane(config.heartbeat)
            );
            return Err(match (&raw.abandon_after, &raw.heartbeat) {
                (Some(after), _) => self.err(after, "cluster.abandon_after", message),
                (None, Some(heartbeat)) => self.err(
                    heartbeat,
                    "cluster.heartbeat",
                    format!("{message} (abandon_after is the default)"),
                ),
                (None, None) => self.err(cluster, "cluster", message),
            });
        }
        if let Some(n) = &raw.runs_per_tick {
            config.runs_per_tick = self.int(
                n,
                "cluster.runs_per_tick",
                1..i64::from(u32::MAX) + 1,
                "a replica takes at least 1 run per tick",
            )?;
        }
        if let Some(mode) = &raw.status_write {
            let parsed = mode.get_ref().parse::<StatusWrite>().map_err(|e| {
                self.err(mode, "cluster.status_write", format!("{e} (leave it out for the strategy's own)"))
            })?;
            config.status_write = Some(parsed);
        }
        Ok(config)
    }

    /// Where `[webhook]` sends, its secret and the built-in receiver's status; the
    /// sending policy is read by [`Validator::policies`].
    pub(super) fn webhook(&self, raw: &RawWebhook) -> Result<(Target, Option<Secret>, u16)> {
        let target = match (&raw.receiver, &raw.url) {
            (Some(_), Some(url)) => {
                return Err(self.err(
                    url,
                    "webhook.url",
                    "give receiver or url, not both: receiver = \"builtin\" is hasim's own, url an outside one",
                ));
            }
            (Some(receiver), None) => {
                if receiver.get_ref() != "builtin" {
                    return Err(self.err(
                        receiver,
                        "webhook.receiver",
                        format!(
                            "unknown receiver {:?}: the only receiver is \"builtin\"; for another \
                             endpoint use url = \"http://host:port/path\"",
                            receiver.get_ref()
                        ),
                    ));
                }
                Target::Builtin
            }
            (None, Some(url)) => Target::Url(self.url(url)?),
            (None, None) => Target::Builtin,
        };
        let secret = match &raw.secret {
            None => None,
            Some(s) => {
                Some(Secret::parse(s.get_ref()).map_err(|e| self.err(s, "webhook.secret", e.to_string()))?)
            }
        };
        let status = match &raw.status {
            None => DEFAULT_STATUS,
            Some(status) => {
                if target != Target::Builtin {
                    return Err(self.err(
                        status,
                        "webhook.status",
                        "status is the built-in receiver's answer; an outside url answers for itself",
                    ));
                }
                self.int(status, "webhook.status", 200..300, "the normal answer must accept: 200 to 299")?
            }
        };
        Ok((target, secret, status))
    }

    pub(super) fn url(&self, url: &Str) -> Result<String> {
        let text = url.get_ref();
        let host = ["http://", "https://"]
            .iter()
            .find_map(|scheme| text.strip_prefix(scheme))
            .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
        match host {
            None => Err(self.err(
                url,
                "webhook.url",
                format!("{text:?} is not an http:// or https:// URL, e.g. \"http://127.0.0.1:8080/hook\""),
            )),
            Some("") => Err(self.err(
                url,
                "webhook.url",
                format!("{text:?} has no host, e.g. \"http://127.0.0.1:8080/hook\""),
            )),
            Some(_) if text.chars().any(char::is_whitespace) => {
                Err(self.err(url, "webhook.url", format!("{text:?} contains white space")))
            }
            Some(_) => Ok(text.clone()),
        }
    }
}
