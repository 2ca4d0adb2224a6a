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
    /// A rolling crash: every replica in turn, r1 at `at`, r2 `every` later, and so on
    /// for `rounds` turns of the cluster, each restarted `restart_after` after its crash.
    fn rolling_crash(
        &self,
        i: usize,
        fault: &Spanned<RawFault>,
        first_index: usize,
        replicas: usize,
        max_duration: Duration,
    ) -> Result<Vec<Fault>> {
        let f = fault.get_ref();
        let key = |k: &str| format!("faults[{i}].{k}");
        let missing =
            |k: &str, why: &str| self.err(fault, key(k), format!("missing required key `{k}`: {why}"));
        let Some(at) = &f.at else { return Err(missing("at", "when the first replica (r1) crashes")) };
        let at = self.moment(at, &key("at"), max_duration)?;
        let Some(every) = &f.every else {
            return Err(missing(
                "every",
                "the time from one replica's crash to the next's, e.g. every = \"2s\"",
            ));
        };
        let every_value = self.positive(Some(every), &key("every"))?.unwrap_or_default();
        let Some(restart_after) = &f.restart_after else {
            return Err(missing(
                "restart_after",
                "a rolling crash brings each replica back (without it the cluster would end with none)",
            ));
        };
        let rounds: usize = match &f.rounds {
            None => 1,
            Some(n) => self.int(n, &key("rounds"), 1..1001, "1 to 1000 turns of the cluster")?,
        };
        let crashes = rounds * replicas;
        let last = at.saturating_add(every_value.saturating_mul(crashes as u32 - 1));
        if last >= max_duration {
            return Err(self.err(
                every,
                key("every"),
                format!(
                    "the last of the {crashes} crashes ({rounds} x {replicas} replicas) would be at {}, \
                     not before max_duration ({}): shorten every, lower rounds or raise max_duration",
                    Humane(last),
                    Humane(max_duration)
                ),
            ));
        }
        Ok((0..crashes)
            .map(|k| Fault {
                index: first_index + k,
                kind: FaultKind::Crash {
                    replica: crate::model::ReplicaId::nth(k % replicas + 1),
                    restart_after: Some(restart_after.get_ref().0),
                },
                trigger: Trigger::At { at: at + every_value * k as u32, until: None },
            })
            .collect())
    }

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

    /// Refuses the first key (in file order) that `kind` does not take.
    pub(super) fn no_stray_keys(&self, i: usize, f: &RawFault, kind: Kind) -> Result<()> {
        let key = |k: &str| format!("faults[{i}].{k}");
        // Keys of other kinds, reported in file order.
        let present: [(&str, Option<Range<usize>>); 15] = [
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
            ("every", f.every.as_ref().map(Spanned::span)),
            ("rounds", f.rounds.as_ref().map(Spanned::span)),
        ];
        let stray = present
            .iter()
            .filter_map(|(k, span)| span.clone().map(|s| (s, *k)))
            .filter(|(_, k)| !kind.keys().contains(k))
            .min_by_key(|(s, _)| s.start);
        if let Some((span, k)) = stray {
            return Err(self.err_span(span, key(k), stray_key_message(kind, k)));
        }
        Ok(())
    }

    pub(super) fn fault(
        &self,
        i: usize,
        fault: &Spanned<RawFault>,
        first_index: usize,
        replicas: usize,
        max_duration: Duration,
        target: &Target,
    ) -> Result<Vec<Fault>> {
        let f = fault.get_ref();
        let key = |k: &str| format!("faults[{i}].{k}");
        let kind = Kind::parse(f.kind.get_ref()).ok_or_else(|| {
            self.err(
                &f.kind,
                key("kind"),
                format!("unknown fault kind {:?} (known: {FAULT_KINDS})", f.kind.get_ref()),
            )
        })?;

        self.no_stray_keys(i, f, kind)?;

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
                let kind = FaultKind::Crash { replica, restart_after };
                return Ok(vec![Fault { index: first_index, kind, trigger }]);
            }
            Kind::RollingCrash => return self.rolling_crash(i, fault, first_index, replicas, max_duration),
            Kind::DbPartition | Kind::DbReset if f.when.is_some() => {
                let mut fault = self.link_fault_at_point(i, fault, replicas)?;
                fault.index = first_index;
                return Ok(vec![fault]);
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
            Kind::DbFailover => FaultKind::DbFailover,
            Kind::DbRestart => FaultKind::DbRestart,
            Kind::ReplicationLag => FaultKind::ReplicationLag,
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
        Ok(vec![Fault { index: first_index, kind, trigger: Trigger::At { at, until } }])
    }
}
