//! `[[faults]]`: each fault's kind, trigger and window, checked against the keys its
//! kind takes.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use crate::faults::{CrashPoint, Fault, FaultKind, Trigger};
use crate::scenario::Target;
use crate::scenario::duration::Humane;
use crate::scenario::raw::*;
use crate::webhook::{EndpointFault, Scope};

use super::fault_kind::{FAULT_KINDS, Kind, stray_key_message};
use super::{Result, Validator};

impl Validator<'_> {
    pub(super) fn fault(
        &self,
        i: usize,
        fault: &Spanned<RawFault>,
        replicas: usize,
        max_duration: Duration,
        target: &Target,
    ) -> Result<Fault> {
        let f = fault.get_ref();
        let key = |k: &str| format!("faults[{i}].{k}");
        let kind = Kind::parse(f.kind.get_ref()).ok_or_else(|| {
            self.err(
                &f.kind,
                key("kind"),
                format!("unknown fault kind {:?} (known: {FAULT_KINDS})", f.kind.get_ref()),
            )
        })?;

        // Keys of other kinds, reported in file order.
        let present: [(&str, Option<Range<usize>>); 12] = [
            ("at", f.at.as_ref().map(Spanned::span)),
            ("until", f.until.as_ref().map(Spanned::span)),
            ("when", f.when.as_ref().map(Spanned::span)),
            ("replica", f.replica.as_ref().map(Spanned::span)),
            ("restart_after", f.restart_after.as_ref().map(Spanned::span)),
            ("latency", f.latency.as_ref().map(Spanned::span)),
            ("status", f.status.as_ref().map(Spanned::span)),
            ("retry_after", f.retry_after.as_ref().map(Spanned::span)),
            ("hang", f.hang.as_ref().map(Spanned::span)),
            ("reset", f.reset.as_ref().map(Spanned::span)),
            ("requests", f.requests.as_ref().map(Spanned::span)),
            ("delay", f.delay.as_ref().map(Spanned::span)),
        ];
        let stray = present
            .iter()
            .filter_map(|(k, span)| span.clone().map(|s| (s, *k)))
            .filter(|(_, k)| !kind.keys().contains(k))
            .min_by_key(|(s, _)| s.start);
        if let Some((span, k)) = stray {
            return Err(self.err_span(span, key(k), stray_key_message(kind, k)));
        }

        let kind = match kind {
            Kind::Crash => {
                let restart_after = f.restart_after.as_ref().map(|d| d.get_ref().0);
                let (replica, trigger) = match (&f.at, &f.when) {
                    (Some(_), Some(when)) => {
                        return Err(self.err(
                            when,
                            key("when"),
                            "give at (a time) or when (a crash point), not both",
                        ));
                    }
                    (None, None) => {
                        return Err(self.err(
                            fault,
                            key("at"),
                            "a crash needs a trigger: at = \"300ms\", or when = { replica = \"r1\", \
                             point = \"after-claim\" }",
                        ));
                    }
                    (Some(at), None) => {
                        let at = self.moment(at, &key("at"), max_duration)?;
                        let Some(replica) = &f.replica else {
                            return Err(self.err(
                                fault,
                                key("replica"),
                                "missing required key `replica`: which replica crashes (r1, r2, ...)",
                            ));
                        };
                        (self.replica(replica, key("replica"), replicas)?, Trigger::At { at, until: None })
                    }
                    (None, Some(when)) => {
                        let w = when.get_ref();
                        let replica = self.replica(&w.replica, key("when.replica"), replicas)?;
                        if let Some(given) = &f.replica
                            && given.get_ref() != replica.as_str()
                        {
                            return Err(self.err(
                                given,
                                key("replica"),
                                format!(
                                    "{:?} is not the replica of when ({replica}): a crash at a crash point \
                                     strikes that replica; leave replica out or make them equal",
                                    given.get_ref()
                                ),
                            ));
                        }
                        let point = CrashPoint::ALL
                            .into_iter()
                            .find(|p| p.as_str() == w.point.get_ref())
                            .ok_or_else(|| {
                                let known: Vec<&str> = CrashPoint::ALL.iter().map(|p| p.as_str()).collect();
                                self.err(
                                    &w.point,
                                    key("when.point"),
                                    format!(
                                        "unknown crash point {:?} (known: {})",
                                        w.point.get_ref(),
                                        known.join(", ")
                                    ),
                                )
                            })?;
                        let nth = match &w.nth {
                            None => 1,
                            Some(n) => self.int(
                                n,
                                &key("when.nth"),
                                1..i64::from(u32::MAX) + 1,
                                "nth counts passages from 1 (the first time the replica gets there)",
                            )?,
                        };
                        (replica.clone(), Trigger::When { replica, point, nth })
                    }
                };
                return Ok(Fault { index: i, kind: FaultKind::Crash { replica, restart_after }, trigger });
            }
            Kind::DbPartition | Kind::DbLatency | Kind::DbReset => {
                let Some(replica) = &f.replica else {
                    return Err(self.err(
                        fault,
                        key("replica"),
                        format!("missing required key `replica`: whose DB link the {} strikes", kind.name()),
                    ));
                };
                let replica = self.replica(replica, key("replica"), replicas)?;
                match kind {
                    Kind::DbPartition => FaultKind::DbPartition { replica },
                    Kind::DbReset => FaultKind::DbReset { replica },
                    _ => {
                        let Some(latency) = &f.latency else {
                            return Err(self.err(
                                fault,
                                key("latency"),
                                "missing required key `latency`: the delay added to the link, e.g. latency = \"40ms\"",
                            ));
                        };
                        FaultKind::DbLatency { replica, latency: latency.get_ref().0 }
                    }
                }
            }
            Kind::Endpoint => {
                if let Target::Url(url) = target {
                    return Err(self.err(
                        &f.kind,
                        key("kind"),
                        format!(
                            "endpoint faults act on the built-in receiver, but webhooks go to {url}; \
                             remove webhook.url or this fault"
                        ),
                    ));
                }
                FaultKind::Endpoint(self.endpoint(i, fault)?)
            }
        };

        // Time-triggered faults other than crashes.
        let at = match (&f.at, &kind) {
            (Some(at), _) => self.moment(at, &key("at"), max_duration)?,
            (None, FaultKind::Endpoint(EndpointFault { scope: Scope::NextRequests(_), .. })) => {
                Duration::ZERO
            }
            (None, _) => {
                return Err(self.err(
                    fault,
                    key("at"),
                    format!(
                        "missing required key `at`: when the {} starts, e.g. at = \"300ms\"",
                        f.kind.get_ref()
                    ),
                ));
            }
        };
        let until = match &f.until {
            None => None,
            Some(until) => {
                let end = until.get_ref().0;
                if end <= at {
                    return Err(self.err(
                        until,
                        key("until"),
                        format!("until ({}) must be after at ({})", Humane(end), Humane(at)),
                    ));
                }
                if end > max_duration {
                    return Err(self.err(
                        until,
                        key("until"),
                        format!(
                            "{} is beyond max_duration ({}): the run has stopped by then; \
                             leave until out to last to the end",
                            Humane(end),
                            Humane(max_duration)
                        ),
                    ));
                }
                Some(end)
            }
        };
        let kind = match kind {
            FaultKind::Endpoint(EndpointFault { behaviour, scope: Scope::Window { .. } }) => {
                FaultKind::Endpoint(EndpointFault { behaviour, scope: Scope::Window { from: at, until } })
            }
            other => other,
        };
        Ok(Fault { index: i, kind, trigger: Trigger::At { at, until } })
    }
}
