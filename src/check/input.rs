//! A run's [`Trace`] as the checker reads it: the requests from the side the trace
//! saw deliveries from, the deadline the run was given, the end of the run.

use super::{CheckInput, DeliveryView, Report, Request, check, senders_view};
use crate::trace::Trace;
use crate::webhook::ReceivedRequest;

/// Judges a finished run from its trace alone: what the runner does once the run's
/// actors have stopped, and what `hasim check-trace` does again with a saved trace.
/// Re-exported as `hasim::check_trace`.
pub fn check_trace(trace: &Trace) -> Report {
    check(&CheckInput::from(trace))
}

impl From<&Trace> for CheckInput {
    /// The checker's view of `trace`: the receiver's log, or, with an outside
    /// endpoint, the requests the senders saw accepted.
    fn from(trace: &Trace) -> Self {
        let requests = match trace.judged_from {
            DeliveryView::Receiver => trace.requests.iter().map(Request::from).collect(),
            DeliveryView::Senders => senders_view(&trace.history),
        };
        CheckInput {
            history: trace.history.clone(),
            requests,
            final_state: trace.final_state.clone(),
            deadline: trace.deadline,
            view: trace.judged_from,
            end: trace.elapsed,
        }
    }
}

impl From<&ReceivedRequest> for Request {
    fn from(r: &ReceivedRequest) -> Self {
        Request {
            at: r.at,
            webhook_id: r.webhook_id.clone(),
            plan: r.payload.as_ref().map(|p| p.plan),
            event: r.payload.as_ref().map(|p| p.event),
            episode: r.payload.as_ref().map(|p| p.episode),
            failed_tasks: r
                .payload
                .as_ref()
                .map(|p| p.failed_tasks.iter().map(|t| t.task).collect())
                .unwrap_or_default(),
            accepted: r.answer.is_accepted(),
            signature_ok: r.signature_ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn trace(judged_from: DeliveryView) -> Trace {
        Trace {
            quiesced: true,
            elapsed: Duration::from_secs(3),
            deadline: Duration::from_secs(2),
            plans: Vec::new(),
            claims: Vec::new(),
            claim_snapshots: Vec::new(),
            history: Vec::new(),
            requests: Vec::new(),
            judged_from,
            final_state: Vec::new(),
            leaked_actors: 0,
            host_lag: None,
        }
    }

    #[test]
    fn the_input_carries_the_traces_deadline_end_and_view() {
        for view in [DeliveryView::Receiver, DeliveryView::Senders] {
            let input = CheckInput::from(&trace(view));
            assert_eq!(
                (input.deadline, input.end, input.view),
                (Duration::from_secs(2), Duration::from_secs(3), view)
            );
        }
    }

    #[test]
    fn a_trace_where_nothing_happened_owes_nothing_and_passes() {
        let report = check_trace(&trace(DeliveryView::Receiver));
        assert!(report.pass && report.events.is_empty() && report.stray.is_empty());
    }
}
