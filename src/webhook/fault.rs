//! Endpoint faults as data: what the endpoint answers ([`Answer`]) and to which
//! requests a fault applies ([`Scope`]). A scenario lists them; the [`super::Receiver`]
//! applies them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the endpoint did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    /// An HTTP status; any 2xx accepts the webhook.
    Status {
        /// The status code. The HTTP receiver answers 500 for a code HTTP cannot carry
        /// (outside 100..=999).
        code: u16,
        /// The `Retry-After` the endpoint asks for. HTTP carries it in whole seconds.
        #[serde(default, rename = "retry_after_us", with = "crate::history::micros_opt")]
        retry_after: Option<Duration>,
        /// How long the endpoint holds its answer after it processed the request (the
        /// request is recorded, and a 2xx accepted, when it arrives). A sender whose
        /// timeout is shorter sees no answer.
        #[serde(
            default,
            rename = "delay_us",
            with = "crate::history::micros_opt",
            skip_serializing_if = "Option::is_none"
        )]
        delay: Option<Duration>,
    },
    /// Never answers: the sender waits until its own timeout.
    Hang,
    /// Closes the connection without any answer.
    Reset,
}

impl Answer {
    /// A plain status, at once and without `Retry-After`.
    pub fn status(code: u16) -> Self {
        Answer::Status { code, retry_after: None, delay: None }
    }

    /// How long the answer is held after the request is processed.
    pub fn delay(&self) -> Option<Duration> {
        match self {
            Answer::Status { delay, .. } => *delay,
            Answer::Hang | Answer::Reset => None,
        }
    }

    /// Whether the webhook counts as delivered (a 2xx status).
    pub fn is_accepted(&self) -> bool {
        matches!(self, Answer::Status { code: 200..=299, .. })
    }

    /// `Retry-After` in whole seconds, rounded up, as HTTP carries it.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Answer::Status { retry_after: Some(after), .. } => {
                Some(after.as_secs() + u64::from(after.subsec_nanos() > 0))
            }
            _ => None,
        }
    }
}

/// What a fault makes the endpoint do: the answer it gives instead of the default.
pub type Behaviour = Answer;

/// Which requests a fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Requests arriving in `[from, until)` on the run's clock; no `until` means for good.
    Window {
        /// When the fault starts.
        #[serde(rename = "from_us", with = "crate::history::micros")]
        from: Duration,
        /// When it ends, if ever.
        #[serde(default, rename = "until_us", with = "crate::history::micros_opt")]
        until: Option<Duration>,
    },
    /// The next N requests after the fault is injected.
    NextRequests(u32),
}

impl Scope {
    /// Whether a fault injected when `first_seq` requests were recorded covers request
    /// `seq`, arriving at `at`.
    pub(super) fn covers(&self, first_seq: u64, seq: u64, at: Duration) -> bool {
        match *self {
            Scope::Window { from, until } => from <= at && until.is_none_or(|until| at < until),
            Scope::NextRequests(n) => (first_seq..first_seq + u64::from(n)).contains(&seq),
        }
    }
}

/// A scripted misbehaviour of the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointFault {
    /// What the endpoint does.
    pub behaviour: Behaviour,
    /// To which requests.
    pub scope: Scope,
}

impl EndpointFault {
    /// One line for people: `503 (retry after 1s) for the next 2 requests`, `200
    /// answered 300ms late`.
    pub fn describe(&self) -> String {
        let mut what = match self.behaviour {
            Answer::Status { code, retry_after: Some(after), .. } => {
                format!("{code} (retry after {after:?})")
            }
            Answer::Status { code, retry_after: None, .. } => code.to_string(),
            Answer::Hang => "hang".to_owned(),
            Answer::Reset => "reset".to_owned(),
        };
        if let Some(delay) = self.behaviour.delay() {
            what = format!("{what} answered {delay:?} late");
        }
        match self.scope {
            Scope::NextRequests(n) => format!("{what} for the next {n} requests"),
            Scope::Window { .. } => what,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn only_2xx_statuses_accept() {
        assert!(Answer::status(200).is_accepted() && Answer::status(204).is_accepted());
        for answer in
            [Answer::status(199), Answer::status(301), Answer::status(503), Answer::Hang, Answer::Reset]
        {
            assert!(!answer.is_accepted(), "{answer:?}");
        }
    }

    #[test]
    fn a_late_answer_still_accepts_and_says_how_late() {
        let late = Answer::Status { code: 200, retry_after: None, delay: Some(Duration::from_millis(300)) };
        assert!(late.is_accepted());
        assert_eq!(late.delay(), Some(Duration::from_millis(300)));
        assert_eq!(Answer::status(200).delay(), None);
        let fault = EndpointFault { behaviour: late, scope: Scope::NextRequests(1) };
        assert_eq!(fault.describe(), "200 answered 300ms late for the next 1 requests");
        let json = serde_json::to_string(&late).unwrap();
        assert_eq!(json, r#"{"kind":"status","code":200,"retry_after_us":null,"delay_us":300000}"#);
        assert_eq!(serde_json::from_str::<Answer>(&json).unwrap(), late);
        let prompt = serde_json::to_string(&Answer::status(200)).unwrap();
        assert_eq!(prompt, r#"{"kind":"status","code":200,"retry_after_us":null}"#, "no delay, no key");
    }

    #[test]
    fn retry_after_is_carried_in_whole_seconds_rounded_up() {
        let after = |d| Answer::Status { code: 429, retry_after: Some(d), delay: None }.retry_after_secs();
        assert_eq!(after(secs(5)), Some(5));
        assert_eq!(after(Duration::from_millis(1500)), Some(2));
        assert_eq!(Answer::status(503).retry_after_secs(), None);
        assert_eq!(Answer::Hang.retry_after_secs(), None);
    }

    #[test]
    fn next_requests_covers_n_requests_from_the_injection() {
        let scope = Scope::NextRequests(2);
        let covered: Vec<u64> = (0..10).filter(|&seq| scope.covers(3, seq, Duration::ZERO)).collect();
        assert_eq!(covered, [3, 4]);
        assert!(!Scope::NextRequests(0).covers(3, 3, Duration::ZERO));
    }

    #[test]
    fn a_window_covers_from_inclusive_to_until_exclusive() {
        let window = Scope::Window { from: secs(10), until: Some(secs(20)) };
        let covers = |at| window.covers(0, 0, secs(at));
        assert!(!covers(9) && covers(10) && covers(19) && !covers(20));
        let open = Scope::Window { from: secs(10), until: None };
        assert!(!open.covers(0, 0, secs(9)) && open.covers(0, 0, secs(1_000_000)));
    }

    #[test]
    fn faults_have_a_stable_json_form() {
        let hang =
            EndpointFault { behaviour: Answer::Hang, scope: Scope::Window { from: secs(1), until: None } };
        let busy = EndpointFault {
            behaviour: Answer::Status { code: 503, retry_after: Some(secs(2)), delay: None },
            scope: Scope::NextRequests(3),
        };
        let text = serde_json::to_string(&[hang, busy]).unwrap();
        assert_eq!(
            text,
            r#"[{"behaviour":{"kind":"hang"},"scope":{"window":{"from_us":1000000,"until_us":null}}},"#
                .to_owned()
                + r#"{"behaviour":{"kind":"status","code":503,"retry_after_us":2000000},"scope":{"next_requests":3}}]"#
        );
        assert_eq!(serde_json::from_str::<Vec<EndpointFault>>(&text).unwrap(), [hang, busy]);
    }
}
