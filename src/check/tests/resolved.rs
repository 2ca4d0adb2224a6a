//! Writes whose answer never came, resolved after the run from the commit log, and
//! writes a failover lost after they were answered: where the checker places them and
//! what the witness says of them.

use super::*;

impl H {
    /// The current replica's write invoked at `invoked` was cut off in flight.
    fn dropped(&mut self, op: &str, op_id: u64, invoked: Seq) -> &mut Self {
        self.push(Event::StoreDropped { op: op.into(), op_id, invoked });
        self
    }

    /// After the run: whether that write committed (the entries of what it changed follow).
    fn resolved(&mut self, op: &str, op_id: u64, invoked: Seq, committed: bool) -> &mut Self {
        self.push(Event::StoreResolved { op: op.into(), op_id, invoked, committed });
        self
    }
}

/// Plan 1's tasks 11 and 12 run on r1; r1's write failing run 1 (task 11) is cut off
/// by its crash, and r2, seeing the failure, claims and delivers the event. After the
/// run the commit log shows the write committed: it is logged there with its
/// invocation.
fn failure_resolved_after_the_run() -> H {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).on("r1").started(11).started(12);
    let invoked = h.mark(); // #4
    h.dropped("finish_run", 7, invoked).crash("r1", "mid-write"); // #4, #5
    h.on("r2").claim(1, F, true).deliver("wh-a", 1, F, 1); // #6, #7 and #8
    // r2 read the failed task from the store, where the write had committed.
    h.tweak(|r| r.failed_tasks = vec![TaskId(11)]);
    h.on("r1").resolved("finish_run", 7, invoked, true).since(invoked).failed(11); // #9, #10
    h
}

/// The failure is owed from where its write was invoked (#4), so r2's request, which
/// came before the failure was logged (#10) but after the write was invoked, is its
/// delivery, not a request before its cause; the witness says where the write was
/// invoked and that it committed though its answer never came.
#[test]
fn a_write_cut_off_in_flight_that_committed_causes_its_event_from_its_invocation() {
    let r = failure_resolved_after_the_run().check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    // (The latency that follows counts from where the write was logged, the latest
    // it can have committed, so that lateness is never blamed on an unknown commit.)
    let told = "PIPELINE_FAILED plan 1 ep 1: r2 sent wh-a at #7 (204 at #8); run 1 FAILED at #10 (r1) \
                (invoked at #4; it committed though its answer never came, resolved at #9); accepted at 90ms";
    assert!(e.witness.summary.starts_with(told), "{}", e.witness.summary);
    assert_eq!(e.witness.entries, vec![7, 8, 10]);
    assert!(r.pass && r.stray.is_empty() && r.payloads.is_empty(), "{r:#?}");
}

/// The same write, when the commit log shows it did not commit: nothing failed, so
/// r2's request announces a failure that never happened.
#[test]
fn a_write_cut_off_in_flight_that_did_not_commit_causes_nothing() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).on("r1").started(11).started(12);
    let invoked = h.mark();
    h.dropped("finish_run", 7, invoked).crash("r1", "mid-write");
    h.on("r2").claim(1, F, true).send("wh-a", 1, F, 1).receive("wh-a", true).finish("wh-a", true, "204");
    h.on("r1").resolved("finish_run", 7, invoked, false);
    let r = h.check();
    assert!(r.events.is_empty(), "{r:#?}");
    assert_eq!(r.stray.len(), 1, "{r:#?}");
    assert_eq!(r.stray[0].verdict, Verdict::Unexpected);
    assert!(!r.pass);
}

/// The story of an event caused by a write resolved after the run starts where that
/// write was invoked: a claim just before it is not part of it.
#[test]
fn the_story_of_a_resolved_cause_starts_at_its_invocation() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).on("r1").started(11).started(12);
    h.on("r2").claim(1, F, false); // #4, before r1's write
    let invoked = h.mark(); // #5
    h.on("r1").dropped("finish_run", 3, invoked).crash("r1", "mid-write");
    h.resolved("finish_run", 3, invoked, true).since(invoked).failed(11); // #7, #8
    let r = h.check();
    let told = "PIPELINE_FAILED plan 1 ep 1: r1's finish_run was cut off in flight at #5; \
                r1 crashed at #6 (mid-write); run 1 FAILED at #8 (r1) (invoked at #5; it committed though its \
                answer never came, resolved at #7); \
                no PIPELINE_FAILED claim was attempted; no completion check ran; no send";
    assert_told(&r, 1, F, 1, Verdict::Lost, told);
}
