//! Verdicts on how an owed event was delivered: delivered, lost, duplicate, retried,
//! late, undeliverable.

use super::*;

/// Plan 1 with tasks 11 and 12, both running on `replica`.
fn running(replica: &str) -> H {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).on(replica).started(11).started(12);
    h
}

#[test]
fn a_failure_announced_once_is_delivered() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).deliver("wh-a", 1, F, 1);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert_eq!((e.attempts, e.deliveries), (1, 1));
    assert_eq!(e.latency, Some(e.delivered_at.unwrap() - e.caused_at.unwrap()));
    assert!(r.pass && r.stray.is_empty());
}

#[test]
fn a_claim_winner_that_crashes_before_sending_loses_the_failed_event() {
    let mut h = running("r2");
    h.failed(11).claim(1, F, true).crash("r2", "after-claim");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Lost);
    assert_says(
        e,
        &["run 1 FAILED at #4 (r2)", "r2 won the claim at #5", "r2 crashed at #6 (after-claim)", "no send"],
    );
    assert_eq!(e.witness.entries, vec![4, 5, 6]);
    assert!(!r.pass);
}

#[test]
fn a_lost_claim_names_who_held_the_row() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).deliver("wh-a", 1, F, 1).done(12);
    h.on("r2").skip(1, &[11]).claim(1, C, false);
    let r = h.check();
    let e = assert_verdict(&r, 1, C, 2, Verdict::Lost);
    assert_says(
        e,
        &[
            "task(s) 11 skipped at #9: plan complete",
            "r2 lost the claim at #10 to r1's PIPELINE_FAILED claim at #5",
        ],
    );
}

#[test]
fn a_failure_nobody_claimed_says_no_completion_check_ran() {
    let mut h = running("r1");
    h.failed(11);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Lost);
    assert_says(e, &["no PIPELINE_FAILED claim was attempted", "no completion check ran", "no send"]);
}

#[test]
fn a_cleaner_failure_is_owed_and_names_the_replica_that_held_the_run() {
    let mut h = running("r2");
    h.crash("r2", "mid-run").on("r3").ended(11, RunStatus::Failed, true);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Lost);
    assert_says(e, &["r2 crashed at #4 (mid-run); run 1 FAILED at #5 (cleaner on r3, held by r2)"]);
}

#[test]
fn two_distinct_webhook_ids_for_one_failure_are_a_duplicate() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).deliver("wh-a", 1, F, 1).reset(1, Some(F));
    h.on("r2").claim(1, F, true).deliver("wh-b", 1, F, 1);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Duplicate);
    assert_eq!(e.deliveries, 2);
    assert_says(
        e,
        &[
            "r1 won the claim at #5",
            "r1 reset the claim at #8",
            "r2 won the claim at #9",
            "wh-a at",
            "wh-b at",
        ],
    );
    assert!(!r.pass);
}

#[test]
fn a_resend_after_recorded_success_is_a_duplicate() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).deliver("wh-a", 1, F, 1).resend("wh-a").receive("wh-a", true);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Duplicate);
    assert_eq!(e.deliveries, 1);
    assert_says(e, &["r1 sent wh-a at #6 (204 at #7); r1 sent wh-a again at #8, after its success at #7"]);
}

#[test]
fn a_timeout_then_success_with_the_same_id_is_retried() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true);
    h.send("wh-a", 1, F, 1).receive("wh-a", true).finish("wh-a", false, "timed out");
    h.resend("wh-a").receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Retried);
    assert_eq!((e.attempts, e.deliveries), (2, 1));
    assert_says(e, &["r1 sent wh-a at #6 (timed out at #7); r1 re-sent wh-a at #8 (204 at #9)"]);
    assert!(r.pass);
}

#[test]
fn without_ids_a_retry_after_a_late_accept_is_a_duplicate() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).without_ids();
    h.send("wh-a", 1, F, 1).receive("wh-a", true).finish("wh-a", false, "timed out");
    h.resend("wh-a").receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Duplicate);
    assert_eq!((e.attempts, e.deliveries), (2, 2));
    assert_says(
        e,
        &[
            "r1 sent wh-a at #6 (timed out at #7)",
            "receiver accepted wh-a (sent without id) at 80ms and wh-a",
        ],
    );
    assert!(!r.pass);
}

#[test]
fn without_ids_a_refusal_then_an_accept_is_one_delivery_retried() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).without_ids();
    h.send("wh-a", 1, F, 1).receive("wh-a", false).finish("wh-a", false, "503");
    h.resend("wh-a").receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Retried);
    assert_eq!((e.attempts, e.deliveries), (2, 1));
    assert!(r.pass);
}

#[test]
fn without_ids_a_stray_names_the_send_in_flight_when_it_arrived() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).without_ids();
    h.send("wh-x", 1, F, 3).receive("wh-x", true).finish("wh-x", true, "204");
    h.send("wh-y", 1, F, 3).finish("wh-y", false, "timed out");
    let r = h.check();
    let [stray] = &r.stray[..] else { panic!("one stray: {r:#?}") };
    assert_eq!((stray.attempts, stray.deliveries), (1, 1));
    assert!(stray.witness.summary.contains("r1 sent it at #2"), "{}", stray.witness.summary);
    assert!(stray.witness.summary.contains("(no webhook-id)"), "{}", stray.witness.summary);
}

#[test]
fn a_delivery_past_the_deadline_is_late() {
    let mut h = running("r1");
    h.deadline(5).failed(11).claim(1, F, true).wait(10.0).deliver("wh-a", 1, F, 1);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Late);
    assert!(e.latency.unwrap() > Duration::from_secs(10));
    assert!(!r.pass);
}

#[test]
fn refusals_inside_the_window_excuse_lateness() {
    let mut h = running("r1");
    h.deadline(5).failed(11).claim(1, F, true).wait(1.0);
    h.send("wh-a", 1, F, 1).receive("wh-a", false).finish("wh-a", false, "503");
    h.wait(9.0).resend("wh-a").receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Retried);
    assert!(r.pass);
}

#[test]
fn refusals_after_the_window_do_not_excuse_lateness() {
    let mut h = running("r1");
    h.deadline(5).failed(11).claim(1, F, true).wait(6.0);
    h.send("wh-a", 1, F, 1).receive("wh-a", false).finish("wh-a", false, "503");
    h.resend("wh-a").receive("wh-a", true).finish("wh-a", true, "204");
    assert_verdict(&h.check(), 1, F, 1, Verdict::Late);
}

#[test]
fn an_endpoint_refusing_every_attempt_to_the_end_is_undeliverable() {
    let mut h = running("r1");
    h.fault(0, "webhook endpoint answers 503").failed(11).claim(1, F, true);
    h.send("wh-a", 1, F, 1).receive("wh-a", false).finish("wh-a", false, "503");
    h.refused("wh-a").refused("wh-a").abandon("wh-a");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Undeliverable);
    assert_eq!((e.attempts, e.deliveries), (3, 0));
    assert_says(
        e,
        &[
            "fault 0 from #4: webhook endpoint answers 503",
            "r1 re-sent wh-a at #11 (503 at #12)",
            "r1 gave up on wh-a",
        ],
    );
    assert!(r.pass, "undeliverable is the endpoint's failure, not a violation");
}

#[test]
fn a_send_cut_short_by_a_crash_is_lost_not_undeliverable() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).send("wh-a", 1, F, 1).crash("r1", "mid-send");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Lost);
    assert_says(e, &["r1 sent wh-a at #6 (no answer logged)", "r1 crashed at #7 (mid-send)"]);
}

#[test]
fn a_sender_that_gave_up_while_the_endpoint_accepted_later_lost_the_event() {
    let mut h = running("r1");
    h.created(2, &[21]).runs(2, &[21]).started(21);
    h.failed(11).claim(1, F, true);
    h.send("wh-a", 1, F, 1).receive("wh-a", false).finish("wh-a", false, "503").abandon("wh-a");
    h.wait(2.0).failed(21).claim(2, F, true).deliver("wh-b", 2, F, 1);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Lost);
    assert_says(
        e,
        &["r1 gave up on wh-a at #11", "the sender stopped, yet the endpoint accepted wh-b at 2.17s"],
    );
    assert_verdict(&r, 2, F, 1, Verdict::Delivered);
    assert!(!r.pass);
}

#[test]
fn a_bad_signature_still_delivers_but_the_witness_says_so() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).deliver("wh-a", 1, F, 1).tweak(|r| r.signature_ok = false);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert_says(e, &["1 request(s) with a bad signature"]);
}

// The redelivery rule. The contract: "deliveries with the same `webhook-id` are one
// delivery retried", and a second send after the first succeeded is a duplicate. A
// sender knows of a success only when it saw it: so after r1's recorded success, a
// try of the same id by r2 that continues the numbering (a relay that took the row
// over, never told of the success) is the one delivery retried, whereas a first try
// (a fresh announcement) or another try by r1 (which saw the 204) is a second one.

#[test]
fn another_replica_continuing_the_numbering_after_a_recorded_success_is_a_retry() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).deliver("wh-a", 1, F, 1);
    h.on("r2").send_numbered("wh-a", 4).receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    // One id accepted twice: one distinct delivery, two attempts.
    let e = assert_verdict(&r, 1, F, 1, Verdict::Retried);
    assert_eq!((e.attempts, e.deliveries), (2, 1));
    assert!(r.pass, "a retry is not a violation: {r:#?}");
}

#[test]
fn another_replica_starting_afresh_after_a_recorded_success_is_a_duplicate() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).deliver("wh-a", 1, F, 1);
    h.on("r2").send_numbered("wh-a", 1).receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Duplicate);
    assert_eq!((e.attempts, e.deliveries), (2, 1));
    assert!(!r.pass);
}

#[test]
fn the_sender_that_saw_the_success_trying_again_with_a_higher_number_is_a_duplicate() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).deliver("wh-a", 1, F, 1);
    // r2 continues the numbering (a retry), then r1, which saw its own 204, sends again.
    h.on("r2").send_numbered("wh-a", 4).receive("wh-a", true).finish("wh-a", true, "204");
    h.on("r1").send_numbered("wh-a", 5).receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Duplicate);
    assert!(!r.pass);
}

#[test]
fn tries_by_another_replica_before_the_success_are_retries_whatever_their_number() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true);
    // r2 tries first and times out, unseen by r1; r1 then starts afresh and succeeds.
    h.on("r2").send("wh-a", 1, F, 1).finish("wh-a", false, "timed out");
    h.on("r1").send_numbered("wh-a", 1).receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    // Nothing came after the success: one delivery that took two attempts.
    let e = assert_verdict(&r, 1, F, 1, Verdict::Retried);
    assert_eq!((e.attempts, e.deliveries), (2, 1));
}

#[test]
fn a_replica_that_saw_its_own_later_success_and_sends_again_is_a_duplicate() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).deliver("wh-a", 1, F, 1);
    // r2 continues the numbering and is accepted too (a retry); then r2, which saw
    // that 204 itself, sends again: a send by a sender after a success it saw.
    h.on("r2").send_numbered("wh-a", 4).receive("wh-a", true).finish("wh-a", true, "204");
    h.send_numbered("wh-a", 5).receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Duplicate);
    assert_eq!((e.attempts, e.deliveries), (3, 1));
    assert_says(e, &["r2 sent wh-a again at #10, after its success at #9"]);
}

#[test]
fn a_try_timed_out_inside_the_window_excuses_lateness_though_the_receiver_never_saw_it() {
    let mut h = running("r1");
    // The first try never reached the receiver (the request was lost on the way)
    // and timed out inside the window: the endpoint did not accept in time, so a
    // delivery past the deadline is not `late` (the contract's "provided the endpoint
    // accepts requests for long enough in that window").
    h.deadline(5).failed(11).claim(1, F, true).wait(1.0);
    h.send("wh-a", 1, F, 1).finish("wh-a", false, "timed out");
    h.wait(9.0).resend("wh-a").receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Retried);
    assert!(r.pass);
}

#[test]
fn a_request_refused_inside_the_window_excuses_lateness_though_its_answer_came_after() {
    let mut h = running("r1");
    // The receiver refused the request inside the window; the 503 reached the sender
    // only after the window (a slow answer). The endpoint refused in the window.
    h.deadline(5).failed(11).claim(1, F, true).wait(1.0);
    h.send("wh-a", 1, F, 1).receive("wh-a", false).wait(6.0).finish("wh-a", false, "503");
    h.wait(3.0).resend("wh-a").receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Retried);
    assert!(r.pass);
}

#[test]
fn a_delivery_exactly_at_the_deadline_is_in_time_and_a_moment_later_is_late() {
    // "Each delivery arrives within the scenario's deadline after the transition":
    // arriving at cause + deadline is within it. The request arrives three steps after
    // the FAILED entry (claim, send, receive) plus the wait.
    for (extra, verdict) in [(Duration::ZERO, Verdict::Delivered), (Duration::from_micros(1), Verdict::Late)]
    {
        let mut h = running("r1");
        h.deadline(5).failed(11).claim(1, F, true).wait_for(Duration::from_secs(5) - STEP * 3 + extra);
        h.deliver("wh-a", 1, F, 1);
        let r = h.check();
        let e = assert_verdict(&r, 1, F, 1, verdict);
        assert_eq!(e.latency, Some(Duration::from_secs(5) + extra));
    }
}

#[test]
fn without_ids_one_accepted_try_is_delivered() {
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).without_ids().deliver("wh-a", 1, F, 1);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert_eq!((e.attempts, e.deliveries), (1, 1));
}

#[test]
fn an_accept_at_the_very_moment_of_the_last_refused_try_is_not_later_so_the_event_is_undeliverable() {
    // Undeliverable needs the endpoint to accept nothing *after* the last attempt;
    // another plan's delivery accepted at the same instant as that attempt is not
    // after it.
    let mut h = running("r1");
    h.created(2, &[21]).runs(2, &[21]).started(21).failed(21).claim(2, F, true);
    h.failed(11).claim(1, F, true);
    h.send("wh-a", 1, F, 1).receive("wh-a", false).finish("wh-a", false, "503");
    h.refused("wh-a").abandon("wh-a");
    let last_try = h.entries.iter().rev().find(|e| matches!(e.event, Event::SendStarted { .. })).unwrap().at;
    h.deliver("wh-b", 2, F, 1).tweak(|r| r.at = last_try);
    assert_verdict(&h.check(), 1, F, 1, Verdict::Undeliverable);
    // A microsecond later, it was accepted after the sender stopped: lost.
    h.tweak(|r| r.at = last_try + Duration::from_micros(1));
    assert_verdict(&h.check(), 1, F, 1, Verdict::Lost);
}

#[test]
fn one_try_that_reached_the_receiver_twice_is_one_delivery_retried() {
    // The request of one try arrived twice (repeated on the way): two requests with
    // one id are one delivery retried.
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).send("wh-a", 1, F, 1).receive("wh-a", false).receive("wh-a", true);
    h.finish("wh-a", true, "204");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Retried);
    assert_eq!((e.attempts, e.deliveries), (1, 1));
}

#[test]
fn a_refused_request_of_another_id_does_not_make_a_delivery_retried() {
    // Retried counts the tries of the delivered id: a refused request carrying
    // another id (its send not in the history) is not one of them.
    let mut h = running("r1");
    h.failed(11).claim(1, F, true).send("wh-a", 1, F, 1).receive("wh-a", false);
    h.tweak(|r| r.webhook_id = Some("wh-x".into())).receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert_eq!((e.attempts, e.deliveries), (1, 1));
}
