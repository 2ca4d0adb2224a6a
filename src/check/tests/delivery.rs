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
