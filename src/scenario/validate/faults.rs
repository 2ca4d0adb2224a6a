//! `[[faults]]`: each fault's kind, trigger and window, checked against the keys its
//! kind takes.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use crate::faults::{Fault, FaultKind, Trigger};
use crate::scenario::Target;
use crate::scenario::duration::Humane;
use crate::scenario::raw::*;
use crate::webhook::{EndpointFault, Scope};

use super::fault_kind::{FAULT_KINDS, Kind, stray_key_message};
use super::{Result, Validator};

impl Validator<'_> {
    /// A db-reset or db-partition struck at a point (`when`).
    fn link_fault_at_point(&self, i: usize, fault: &Spanned<RawFault>, replicas: usize) -> Result<Fault> {
        let f = fault.get_ref();
        let key = |k: &str| format!("faults[{i}].{k}");
        let when = f.when.as_ref().expect("called with when");
        for (k, given) in
            [("at", f.at.as_ref().map(Spanned::span)), ("until", f.until.as_ref().map(Spanned::span))]
        {
            if let Some(span) = given {
                let why = match k {
                    "at" => "give at (a time) or when (a point), not both",
                    _ => {
                        "a partition struck at a point lasts heal_after (or to the end of the run), not until"
                    }
                };
                return Err(self.err_span(span, key(k), why));
            }
        }
        let (replica, trigger) = self.when(i, when, f.replica.as_ref(), replicas)?;
        let kind = match f.kind.get_ref().as_str() {
            "db-reset" => FaultKind::DbReset { replica },
            _ => FaultKind::DbPartition { replica, heal_after: f.heal_after.as_ref().map(|d| d.get_ref().0) },
        };
        Ok(Fault { index: i, kind, trigger })
    }

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
        let present: [(&str, Option<Range<usize>>); 13] = [
            ("at", f.at.as_ref().map(Spanned::span)),
            ("until", f.until.as_ref().map(Spanned::span)),
            ("when", f.when.as_ref().map(Spanned::span)),
            ("replica", f.replica.as_ref().map(Spanned::span)),
            ("restart_after", f.restart_after.as_ref().map(Spanned::span)),
            ("heal_after", f.heal_after.as_ref().map(Spanned::span)),
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
                    (None, Some(when)) => self.when(i, when, f.replica.as_ref(), replicas)?,
                };
                return Ok(Fault { index: i, kind: FaultKind::Crash { replica, restart_after }, trigger });
            }
            Kind::DbPartition | Kind::DbReset if f.when.is_some() => {
                return self.link_fault_at_point(i, fault, replicas);
            }
            Kind::DbPartition | Kind::DbLatency | Kind::DbReset => {
                if let Some(heal_after) = &f.heal_after {
                    return Err(self.err(
                        heal_after,
                        key("heal_after"),
                        "heal_after goes with when (a partition struck at a point); a partition that \
                         starts at a time ends at until",
                    ));
                }
                let Some(replica) = &f.replica else {
                    return Err(self.err(
                        fault,
                        key("replica"),
                        format!("missing required key `replica`: whose DB link the {} strikes", kind.name()),
                    ));
                };
                let replica = self.replica(replica, key("replica"), replicas)?;
                match kind {
                    Kind::DbPartition => FaultKind::DbPartition { replica, heal_after: None },
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
