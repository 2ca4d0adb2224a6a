//! Whole stories from the design, and the report's shape.

use super::*;

/// BYT-9398: a task fails, the user skips it, and the plan is complete.
#[test]
fn skipping_the_failed_task_owes_completed() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12).done(11).failed(12);
    h.claim(1, F, true).deliver("wh-f", 1, F, 1).reset(1, Some(F));
    h.skip(1, &[12]).claim(1, C, true).deliver("wh-c", 1, C, 2);
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    let e = assert_verdict(&r, 1, C, 2, Verdict::Delivered);
    assert!(e.witness.summary.contains("task(s) 12 skipped at #"), "{}", e.witness.summary);
    assert!(r.pass);
}

/// The design plan's manual test: fail, fail again (one FAILED), retry, fail again
/// (a second FAILED, episode 2), retry, all succeed (COMPLETED).
fn manual_test() -> H {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12);
    h.failed(11).claim(1, F, true).deliver("wh-f1", 1, F, 1).failed(12).claim(1, F, false);
    h.runs(1, &[11, 12]).started(11).started(12).done(12).failed(11);
    h
}

#[test]
fn the_manual_test_owes_two_failed_episodes_then_completed() {
    let mut h = manual_test();
    h.reset(1, Some(F)).claim(1, F, true).deliver("wh-f2", 1, F, 2).reset(1, Some(F));
    h.runs(1, &[11]).started(11).done(11).claim(1, C, true).deliver("wh-c", 1, C, 3);
    let r = h.check();
    assert_eq!(r.events.len(), 3, "{r:#?}");
    assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert_verdict(&r, 1, F, 2, Verdict::Delivered);
    assert_verdict(&r, 1, C, 3, Verdict::Delivered);
    assert!(r.pass && r.stray.is_empty());
}

#[test]
fn the_manual_test_without_a_reset_loses_the_second_failed() {
    let mut h = manual_test();
    h.claim(1, F, false).runs(1, &[11]).started(11).done(11).claim(1, C, false);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 2, Verdict::Lost);
    assert!(
        e.witness.summary.contains("r1 lost the claim at #15 to r1's PIPELINE_FAILED claim at #5"),
        "{r:#?}"
    );
    assert_verdict(&r, 1, C, 3, Verdict::Lost);
    assert_eq!(r.violations().count(), 2);
}

#[test]
fn only_lost_duplicate_unexpected_and_late_are_violations() {
    use Verdict::*;
    let violations: Vec<Verdict> =
        [Delivered, Lost, Duplicate, Retried, Unexpected, Late, Undeliverable, Ambiguous]
            .into_iter()
            .filter(|v| v.is_violation())
            .collect();
    assert_eq!(violations, vec![Lost, Duplicate, Unexpected, Late]);
}

#[test]
fn the_report_and_the_input_round_trip_through_json() {
    let mut h = manual_test();
    h.deliver("wh-x", 1, F, 9);
    let input = h.input();
    let text = serde_json::to_string(&input).unwrap();
    assert_eq!(serde_json::from_str::<CheckInput>(&text).unwrap(), input);
    let report = check(&input);
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains(r#""verdict":"unexpected""#) && text.contains(r#""verdict":"lost""#), "{text}");
    assert_eq!(serde_json::from_str::<Report>(&text).unwrap(), report);
}

/// Within one process: two checks of one input build their maps afresh (each
/// `HashMap` with keys of its own), so an order taken from one would show here.
/// Across processes, `tests/determinism.rs` compares what two `hasim` processes wrote.
#[test]
fn checking_one_input_twice_in_one_process_gives_one_report() {
    let input = manual_test().input();
    assert_eq!(check(&input), check(&input));
}

/// A failover loses what r1 wrote after the standby was cut off: the run's failure
/// and the claim it won. On the new primary the run fails again, r1 wins the claim
/// again and sends the same id again as a first try: a duplicate, whose witness says
/// the first claim was lost in the failover.
#[test]
fn a_claim_a_failover_lost_is_named_in_the_duplicates_witness() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).started(11).failed(11);
    let claimed = h.mark();
    h.claim(1, F, true).deliver("wh-f", 1, F, 1);
    h.fault(1, "db-failover at 1.5s");
    h.started(11).failed(11).claim(1, F, true);
    h.send_numbered("wh-f", 1).receive("wh-f", true).finish("wh-f", true, "204");
    let lost = h.push(Event::CommitLost { op: "ClaimEvent".into(), op_id: 9, invoked: claimed });
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Duplicate);
    let claim = format!(
        "r1 won the claim at #{claimed} (then lost in a failover: gone from the new primary, #{lost})"
    );
    assert!(e.witness.summary.contains(&claim), "{}", e.witness.summary);
    assert!(e.witness.summary.contains("db-failover at 1.5s"), "{}", e.witness.summary);
}

/// Each failed episode's story ends where the next episode's failure begins: what
/// happens to the second failure's claim is not told as the first one's.
#[test]
fn a_lost_events_story_stops_at_the_next_episodes_cause() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).on("r1").started(11).failed(11);
    h.claim(1, F, true).crash("r1", "after-claim");
    h.on("r2").runs(1, &[11]).started(11).failed(11).claim(1, F, false);
    let r = h.check();
    let first = assert_verdict(&r, 1, F, 1, Verdict::Lost);
    let second = assert_verdict(&r, 1, F, 2, Verdict::Lost);
    assert_eq!(
        first.witness.summary,
        "PIPELINE_FAILED plan 1 ep 1: run 1 FAILED at #3 (r1); r1 won the claim at #4; \
         r1 crashed at #5 (after-claim); no send"
    );
    assert_eq!(
        second.witness.summary,
        "PIPELINE_FAILED plan 1 ep 2: run 2 FAILED at #8 (r2); \
         r2 lost the claim at #9 to r1's PIPELINE_FAILED claim at #4; no send"
    );
}

/// Two tasks failing in one episode are two causes of one event: the story names the
/// first and counts the other.
#[test]
fn an_event_with_two_causes_names_the_first_and_counts_the_rest() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).on("r1").started(11).started(12).failed(11).failed(12);
    let r = h.check();
    let told = "PIPELINE_FAILED plan 1 ep 1: run 1 FAILED at #4 (r1) (+1 more); \
                no PIPELINE_FAILED claim was attempted; no completion check ran; no send";
    assert_told(&r, 1, F, 1, Verdict::Lost, told);
}

/// A lost event's claims: the winner, the first two that lost and to whom, the rest
/// counted, resets of the plan's row; the plan's claims for the other event are not
/// this event's.
#[test]
fn a_lost_events_story_names_two_lost_claims_counts_the_rest_and_skips_other_events() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).on("r1").started(11).started(12).failed(11);
    h.claim(1, F, true).crash("r1", "after-claim");
    for r in ["r2", "r3", "r4", "r5"] {
        h.on(r).claim(1, F, false);
    }
    h.on("r2").claim(1, C, false).reset(1, Some(F));
    let r = h.check();
    let told = "PIPELINE_FAILED plan 1 ep 1: run 1 FAILED at #4 (r1); r1 won the claim at #5; \
                r1 crashed at #6 (after-claim); r2 lost the claim at #7 to r1's PIPELINE_FAILED claim at #5; \
                r3 lost the claim at #8 to r1's PIPELINE_FAILED claim at #5; \
                r2 reset the claim at #12 (held PIPELINE_FAILED); 2 more lost claims; no send";
    assert_told(&r, 1, F, 1, Verdict::Lost, told);
}

/// A story names the first three tries and the last, and counts them all when there
/// are more than four; four are all named.
#[test]
fn a_story_names_at_most_four_tries() {
    for (tries, told) in [
        (
            4,
            "r1 sent wh-a at #5 (503 at #6); r1 re-sent wh-a at #7 (503 at #8); \
             r1 re-sent wh-a at #9 (503 at #10); r1 re-sent wh-a at #11 (503 at #12); \
             r1 gave up on wh-a at #13 after 4 tries (out of tries); \
             every attempt refused; the endpoint accepted nothing after the last",
        ),
        (
            6,
            "r1 sent wh-a at #5 (503 at #6); r1 re-sent wh-a at #7 (503 at #8); \
             r1 re-sent wh-a at #9 (503 at #10); r1 re-sent wh-a at #15 (503 at #16); \
             r1 gave up on wh-a at #17 after 6 tries (out of tries); 6 attempts in all; \
             every attempt refused; the endpoint accepted nothing after the last",
        ),
    ] {
        let mut h = H::new();
        h.created(1, &[11]).runs(1, &[11]).on("r1").started(11).failed(11).claim(1, F, true);
        h.send("wh-a", 1, F, 1).receive("wh-a", false).finish("wh-a", false, "503");
        for _ in 1..tries {
            h.refused("wh-a");
        }
        h.abandon("wh-a");
        let r = h.check();
        let e = assert_verdict(&r, 1, F, 1, Verdict::Undeliverable);
        let summary = format!("PIPELINE_FAILED plan 1 ep 1: run 1 FAILED at #3 (r1); {told}");
        assert_eq!(e.witness.summary, summary, "{tries} tries");
    }
}

/// A claim that lost after the row was reset lost to a claim the history does not
/// show, not to the one the reset deleted; a claim nobody attempted is told with what
/// the plan's last completion check saw.
#[test]
fn a_claim_lost_after_a_reset_lost_to_an_unseen_claim() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).on("r1").started(11).started(12).failed(11);
    h.claim(1, F, true).deliver("wh-1", 1, F, 1).reset(1, Some(F));
    h.runs(1, &[11]).started(11).failed(11).on("r2").claim(1, F, false);
    h.runs(1, &[11]).started(11).failed(11).checked(1, false, true);
    let r = h.check();
    let told = "PIPELINE_FAILED plan 1 ep 2: run 3 FAILED at #11 (r1); \
                r2 lost the claim at #12 to a claim the history does not show; no send";
    assert_told(&r, 1, F, 2, Verdict::Lost, told);
    let told = "PIPELINE_FAILED plan 1 ep 3: run 4 FAILED at #15 (r2); \
                last completion check at #16 (r2) saw complete=false failed=true; \
                no PIPELINE_FAILED claim was attempted; no send";
    assert_told(&r, 1, F, 3, Verdict::Lost, told);
}

/// Exactly two lost claims are both named, and nothing is counted.
#[test]
fn two_lost_claims_are_named_and_none_counted() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).on("r1").started(11).failed(11).claim(1, F, true);
    h.crash("r1", "after-claim").on("r2").claim(1, F, false).on("r3").claim(1, F, false);
    let r = h.check();
    let told = "PIPELINE_FAILED plan 1 ep 1: run 1 FAILED at #3 (r1); r1 won the claim at #4; \
                r1 crashed at #5 (after-claim); r2 lost the claim at #6 to r1's PIPELINE_FAILED claim at #4; \
                r3 lost the claim at #7 to r1's PIPELINE_FAILED claim at #4; no send";
    assert_told(&r, 1, F, 1, Verdict::Lost, told);
}

/// A story tells the faults that were on when its cause came, and those that began
/// after, not those that had ended before, nor those of replicas it does not involve.
#[test]
fn a_story_tells_faults_still_on_at_its_cause_not_those_already_over() {
    let mut h = H::new();
    h.fault(0, "webhook endpoint answers 503");
    h.push(Event::FaultEnded { fault: 0 });
    h.fault(1, "r1's database link is 50ms slower");
    h.fault(2, "r3's database link is cut"); // on, but r3 has no part in the story
    h.created(1, &[11]).runs(1, &[11]).on("r1").started(11).failed(11);
    let r = h.check();
    let told = "PIPELINE_FAILED plan 1 ep 1: fault 1 from #2: r1's database link is 50ms slower; run 1 FAILED at #7 (r1); \
                no PIPELINE_FAILED claim was attempted; no completion check ran; no send";
    assert_told(&r, 1, F, 1, Verdict::Lost, told);
}

/// A store operation of an involved replica that failed after the cause is told.
#[test]
fn a_story_tells_the_store_failures_of_the_replicas_involved() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).on("r1").started(11).failed(11);
    let invoked = h.mark();
    let error = "connection reset by peer".to_owned();
    h.push(Event::StoreFailed { op: "claim".into(), error, invoked, op_id: None });
    let r = h.check();
    let told = "PIPELINE_FAILED plan 1 ep 1: run 1 FAILED at #3 (r1); r1's claim failed at #4 (connection reset by peer); \
                no PIPELINE_FAILED claim was attempted; no completion check ran; no send";
    assert_told(&r, 1, F, 1, Verdict::Lost, told);
}

/// An unexpected request's story: why it is unexpected, the claim its sender won
/// before sending (not one won later, nor another replica's), the send, how many
/// tries, and bad signatures.
#[test]
fn a_stray_names_the_senders_claim_its_tries_and_bad_signatures() {
    let mut h = H::new();
    h.created(1, &[11, 12]).created(2, &[21]).runs(1, &[11, 12]).runs(2, &[21]);
    h.on("r2").claim(1, C, true).on("r1").started(11).done(11).claim(1, C, true); // #4, #7
    h.send("wh-c", 1, C, 1).receive("wh-c", false).tweak(|r| r.signature_ok = false);
    h.finish("wh-c", false, "503").refused("wh-c").tweak(|r| r.signature_ok = false); // #8 to #11
    h.send("wh-2", 2, C, 1).receive("wh-2", true).finish("wh-2", true, "204"); // #12, #13
    h.claim(1, C, true); // r1 again, after its send: not the claim it sent under
    let r = h.check();
    let told: Vec<&str> = r.stray.iter().map(|s| s.witness.summary.as_str()).collect();
    assert_eq!(
        told,
        [
            "unexpected PIPELINE_COMPLETED plan 1 ep 1 (wh-c): plan 1 was never complete (task 12 open); \
             r1 won the PIPELINE_COMPLETED claim at #7; r1 sent it at #8; 2 attempts; \
             note: 2 request(s) with a bad signature",
            "unexpected PIPELINE_COMPLETED plan 2 ep 1 (wh-2): plan 2 was never complete (task 21 open); \
             r1 sent it at #12",
        ]
    );
}

/// A retried event's story tells the faults when a refused or timed-out try excuses
/// the retry, and not otherwise.
#[test]
fn a_retried_events_story_tells_the_faults_that_excuse_it() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).on("r1").started(11).failed(11).claim(1, F, true); // #0 to #4
    h.fault(0, "webhook endpoint answers 503").send("wh-a", 1, F, 1).receive("wh-a", false);
    h.finish("wh-a", false, "503").resend("wh-a").receive("wh-a", true).finish("wh-a", true, "204");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Retried);
    assert!(
        e.witness.summary.starts_with(
            "PIPELINE_FAILED plan 1 ep 1: run 1 FAILED at #3 (r1); fault 0 from #5: webhook endpoint answers 503; \
             r1 sent wh-a at #6 (503 at #7); r1 re-sent wh-a at #8 (204 at #9); accepted at"
        ),
        "{}",
        e.witness.summary
    );

    // r1's try got no answer (it crashed mid-send); r2 tried again, numbering on: a
    // retry nothing refused, told without the crash.
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).on("r1").started(11).failed(11).claim(1, F, true); // #0 to #4
    h.send("wh-a", 1, F, 1).crash("r1", "mid-send").on("r2").resend("wh-a").receive("wh-a", true);
    h.finish("wh-a", true, "204");
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Retried);
    assert!(
        e.witness.summary.starts_with(
            "PIPELINE_FAILED plan 1 ep 1: run 1 FAILED at #3 (r1); r1 sent wh-a at #5 (no answer logged); \
             r2 re-sent wh-a at #7 (204 at #8); accepted at"
        ),
        "{}",
        e.witness.summary
    );
}

/// A story tells at most four faults, the first in log order.
#[test]
fn a_story_tells_at_most_four_faults() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).on("r1").started(11).failed(11); // #0 to #3
    for fault in 0..5 {
        h.fault(fault, "webhook endpoint hangs").push(Event::FaultEnded { fault });
    }
    let r = h.check();
    let told = "PIPELINE_FAILED plan 1 ep 1: run 1 FAILED at #3 (r1); fault 0 from #4: webhook endpoint hangs; \
                fault 1 from #6: webhook endpoint hangs; fault 2 from #8: webhook endpoint hangs; \
                fault 3 from #10: webhook endpoint hangs; \
                no PIPELINE_FAILED claim was attempted; no completion check ran; no send";
    assert_told(&r, 1, F, 1, Verdict::Lost, told);
}
