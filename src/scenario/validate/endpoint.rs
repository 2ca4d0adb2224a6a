//! An `endpoint` fault's behaviour (status, at once or late; hang; reset) and scope
//! (a time window or the next so many requests).

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use crate::scenario::raw::*;
use crate::webhook::{Answer, EndpointFault, Scope};

use super::{Result, Validator};

impl Validator<'_> {
    /// An endpoint fault's behaviour and scope (a window's bounds are filled in by the
    /// caller).
    pub(super) fn endpoint(&self, i: usize, fault: &Spanned<RawFault>) -> Result<EndpointFault> {
        let f = fault.get_ref();
        let key = |k: &str| format!("faults[{i}].{k}");
        for (name, flag) in [("hang", &f.hang), ("reset", &f.reset)] {
            if let Some(flag) = flag
                && !flag.get_ref()
            {
                return Err(self.err(
                    flag,
                    key(name),
                    format!("{name} = false does nothing: write {name} = true, or leave it out"),
                ));
            }
        }
        let mut given: Vec<(&str, Range<usize>)> = [
            ("status", f.status.as_ref().map(Spanned::span)),
            ("hang", f.hang.as_ref().map(Spanned::span)),
            ("reset", f.reset.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
        given.sort_by_key(|(_, span)| span.start);
        if let [(first, _), (second, span), ..] = given.as_slice() {
            return Err(self.err_span(
                span.clone(),
                key(second),
                format!("give one of status, hang or reset: {first} and {second} cannot both happen"),
            ));
        }
        let behaviour = match (&f.status, &f.hang, &f.reset) {
            (Some(status), _, _) => {
                let code = self.int(status, &key("status"), 100..600, "an HTTP status is 100 to 599")?;
                let delay = match &f.delay {
                    Some(delay) if delay.get_ref().0.is_zero() => {
                        return Err(self.err(
                            delay,
                            key("delay"),
                            "must be more than 0: leave delay out to answer at once",
                        ));
                    }
                    delay => delay.as_ref().map(|d| d.get_ref().0),
                };
                Answer::Status { code, retry_after: f.retry_after.as_ref().map(|d| d.get_ref().0), delay }
            }
            (None, Some(_), _) => Answer::Hang,
            (None, None, Some(_)) => Answer::Reset,
            (None, None, None) => {
                return Err(self.err(
                    fault,
                    key("status"),
                    "an endpoint fault needs what the endpoint does: status = 503, hang = true or reset = true",
                ));
            }
        };
        if let (Some(after), false) = (&f.retry_after, matches!(behaviour, Answer::Status { .. })) {
            return Err(self.err(
                after,
                key("retry_after"),
                "retry_after goes with status (e.g. status = 429)",
            ));
        }
        if let (Some(delay), false) = (&f.delay, matches!(behaviour, Answer::Status { .. })) {
            return Err(self.err(
                delay,
                key("delay"),
                "delay goes with status: the endpoint processes the request, then answers that \
                 status late (e.g. status = 200, delay = \"300ms\"); a hang never answers and a \
                 reset answers nothing",
            ));
        }
        let scope = match &f.requests {
            Some(n) => {
                if let Some(until) = &f.until {
                    return Err(self.err(
                        until,
                        key("until"),
                        "give until (a time window) or requests (the next N requests), not both",
                    ));
                }
                let n = self.int(
                    n,
                    &key("requests"),
                    1..i64::from(u32::MAX) + 1,
                    "requests = N answers the next N requests; N is at least 1",
                )?;
                Scope::NextRequests(n)
            }
            None => Scope::Window { from: Duration::ZERO, until: None },
        };
        Ok(EndpointFault { behaviour, scope })
    }
}
