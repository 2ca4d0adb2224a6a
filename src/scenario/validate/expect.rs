//! `[[expect]]` and `[[claims]]`: the strategies each applies to, the events and
//! episodes it names, the verdicts it expects, and the claim-table checks.

use std::time::Duration;

use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::{Error as ValueError, StrDeserializer};
use toml::Spanned;

use crate::check::Verdict;
use crate::model::EventType;
use crate::scenario::raw::*;
use crate::scenario::{ClaimCheck, EventRef, Expectation, Target};
use crate::strategy::StrategyKind;

use super::plans::Names;
use super::{Result, Validator};

impl Validator<'_> {
    pub(super) fn strategy(&self, s: &Spanned<String>, key: impl Into<String>) -> Result<StrategyKind> {
        s.get_ref().parse().map_err(|message: String| self.err(s, key, message))
    }
    pub(super) fn strategies(
        &self,
        key: &str,
        strategy: Option<&Str>,
        strategies: Option<&List<String>>,
    ) -> Result<Vec<StrategyKind>> {
        match (strategy, strategies) {
            (Some(_), Some(list)) => {
                Err(self.err(list, format!("{key}.strategies"), "give strategy or strategies, not both"))
            }
            (Some(s), None) => Ok(vec![self.strategy(s, format!("{key}.strategy"))?]),
            (None, Some(list)) if list.get_ref().is_empty() => Err(self.err(
                list,
                format!("{key}.strategies"),
                "empty list: leave strategies out to apply to every strategy",
            )),
            (None, Some(list)) => {
                let mut kinds = Vec::new();
                for (j, s) in list.get_ref().iter().enumerate() {
                    let kind = self.strategy(s, format!("{key}.strategies[{j}]"))?;
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                }
                Ok(kinds)
            }
            (None, None) => Ok(Vec::new()),
        }
    }

    pub(super) fn event(&self, s: &Str, key: String) -> Result<EventType> {
        s.get_ref().parse().map_err(|_| {
            let known: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
            self.err(s, key, format!("unknown event {:?} (known: {})", s.get_ref(), known.join(", ")))
        })
    }

    pub(super) fn episode(&self, n: Option<&Int>, key: String) -> Result<Option<u32>> {
        n.map(|n| {
            self.int(n, &key, 1..i64::from(u32::MAX) + 1, "episodes count from 1 (the plan's first run)")
        })
        .transpose()
    }

    pub(super) fn expectation(
        &self,
        i: usize,
        e: &Spanned<RawExpect>,
        names: &Names,
        target: &Target,
    ) -> Result<Expectation> {
        let key = format!("expect[{i}]");
        let raw = e.get_ref();
        let strategies = self.strategies(&key, raw.strategy.as_ref(), raw.strategies.as_ref())?;
        let plan = raw.plan.as_ref().map(|p| self.plan_index(p, format!("{key}.plan"), names)).transpose()?;
        if plan.is_none() {
            for (name, span) in [
                ("deliveries", raw.deliveries.as_ref().map(Spanned::span)),
                ("verdicts", raw.verdicts.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = span {
                    return Err(self.err_span(
                        span,
                        format!("{key}.{name}"),
                        format!(
                            "{name} are per plan: add plan = \"...\" (without a plan only pass is allowed)"
                        ),
                    ));
                }
            }
        }
        let pass = raw.pass.as_ref().map(|p| *p.get_ref());
        let deliveries = match &raw.deliveries {
            None => None,
            Some(list) if *target != Target::Builtin => {
                return Err(self.err(
                    list,
                    format!("{key}.deliveries"),
                    "deliveries are read from the built-in receiver's log, and webhooks go to webhook.url: \
                     expect verdicts instead",
                ));
            }
            Some(list) => {
                let mut refs = Vec::new();
                for (j, d) in list.get_ref().iter().enumerate() {
                    let d = d.get_ref();
                    let event = self.event(&d.event, format!("{key}.deliveries[{j}].event"))?;
                    let episode =
                        self.episode(d.episode.as_ref(), format!("{key}.deliveries[{j}].episode"))?;
                    let r = EventRef { event, episode };
                    if episode.is_some() && refs.contains(&r) {
                        return Err(self.err(
                            &list.get_ref()[j],
                            format!("{key}.deliveries[{j}]"),
                            "listed twice: deliveries are distinct, each (event, episode) once",
                        ));
                    }
                    refs.push(r);
                }
                Some(refs)
            }
        };
        let mut verdicts: Vec<(EventRef, Verdict)> = Vec::new();
        if let Some(list) = &raw.verdicts {
            for (j, v) in list.get_ref().iter().enumerate() {
                let raw_v = v.get_ref();
                let event = self.event(&raw_v.event, format!("{key}.verdicts[{j}].event"))?;
                let episode = self.episode(raw_v.episode.as_ref(), format!("{key}.verdicts[{j}].episode"))?;
                let verdict = parse_verdict(raw_v.verdict.get_ref()).ok_or_else(|| {
                    let known: Vec<&str> = Verdict::ALL.iter().map(|v| v.as_str()).collect();
                    self.err(
                        &raw_v.verdict,
                        format!("{key}.verdicts[{j}].verdict"),
                        format!(
                            "unknown verdict {:?} (known: {})",
                            raw_v.verdict.get_ref(),
                            known.join(", ")
                        ),
                    )
                })?;
                let r = EventRef { event, episode };
                if verdicts.iter().any(|(seen, _)| *seen == r) {
                    return Err(self.err(
                        v,
                        format!("{key}.verdicts[{j}]"),
                        "this event already has a verdict in this expectation",
                    ));
                }
                verdicts.push((r, verdict));
            }
        }
        if pass.is_none() && deliveries.is_none() && verdicts.is_empty() {
            return Err(self.err(
                e,
                key,
                "this expectation says nothing: give pass, deliveries or verdicts (deliveries and verdicts need a plan)",
            ));
        }
        Ok(Expectation { strategies, plan, pass, deliveries, verdicts })
    }

    pub(super) fn claim_check(
        &self,
        i: usize,
        c: &Spanned<RawClaim>,
        names: &Names,
        max_duration: Duration,
    ) -> Result<ClaimCheck> {
        let key = format!("claims[{i}]");
        let raw = c.get_ref();
        let at = self.moment(&raw.at, &format!("{key}.at"), max_duration)?;
        let strategies = self.strategies(&key, raw.strategy.as_ref(), raw.strategies.as_ref())?;
        let mut rows = Vec::new();
        for (j, row) in raw.rows.get_ref().iter().enumerate() {
            let r = row.get_ref();
            let plan = self.plan_index(&r.plan, format!("{key}.rows[{j}].plan"), names)?;
            let event = self.event(&r.event, format!("{key}.rows[{j}].event"))?;
            if rows.contains(&(plan, event)) {
                return Err(self.err(row, format!("{key}.rows[{j}]"), "this row is listed twice"));
            }
            rows.push((plan, event));
        }
        Ok(ClaimCheck { at, strategies, rows })
    }
}

/// The verdict a file names, through the checker's own serde names.
fn parse_verdict(name: &str) -> Option<Verdict> {
    let deserializer: StrDeserializer<'_, ValueError> = name.into_deserializer();
    Verdict::deserialize(deserializer).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_names_are_the_checkers() {
        let names: std::collections::HashSet<&str> = Verdict::ALL.iter().map(|v| v.as_str()).collect();
        assert_eq!(names.len(), Verdict::ALL.len());
        for v in Verdict::ALL {
            assert_eq!(parse_verdict(v.as_str()), Some(v));
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{}\"", v.as_str()));
        }
        assert_eq!(parse_verdict("Lost"), None);
    }
}
