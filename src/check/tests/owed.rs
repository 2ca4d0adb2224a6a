//! Which events are owed: episodes, unexpected requests, ambiguous orders, unlogged
//! writes.

use super::*;

#[test]
fn a_completed_request_for_an_incomplete_plan_is_unexpected() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12).failed(11).done(12);
    h.claim(1, F, true).deliver("wh-f", 1, F, 1).deliver("wh-c", 1, C, 1);
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert_eq!(r.stray.len(), 1, "{r:#?}");
    let s = &r.stray[0];
    assert_eq!((s.plan, s.event, s.verdict), (PlanId(1), C, Verdict::Unexpected));
    assert!(
        s.witness.summary.contains("plan 1 was never complete (task 11 failed)"),
        "{}",
        s.witness.summary
    );
    assert!(s.witness.summary.contains("r1 sent it at #"), "{}", s.witness.summary);
    assert!(!r.pass);
}

#[test]
fn a_canceled_task_keeps_the_plan_from_completing() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).done(11).cancel(1, &[12]).deliver("wh-c", 1, C, 1);
    let r = h.check();
    assert!(r.events.is_empty(), "{r:#?}");
    assert!(r.stray[0].witness.summary.contains("plan 1 was never complete (task 12 canceled)"));
}

#[test]
fn a_failed_request_for_an_episode_without_failure_is_unexpected() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12).failed(11);
    h.deliver("wh-1", 1, F, 1).runs(1, &[11]).started(11).done(11).done(12).deliver("wh-c", 1, C, 2);
    h.deliver("wh-2", 1, F, 2);
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert_verdict(&r, 1, C, 2, Verdict::Delivered);
    assert_eq!(r.stray.len(), 1, "{r:#?}");
    let s = &r.stray[0].witness.summary;
    assert!(s.contains("no run of plan 1 failed in episode 2 (failures in episode 1)"), "{s}");
}

#[test]
fn a_failed_payload_naming_a_task_that_never_failed_is_a_wrong_payload_beside_its_delivery() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).failed(11);
    h.deliver("wh-1", 1, F, 1).tweak(|r| r.failed_tasks = vec![TaskId(12)]);
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert!(r.stray.is_empty(), "{r:#?}");
    assert_eq!(r.payloads.len(), 1, "{r:#?}");
    assert_eq!(r.payloads[0].verdict, Verdict::WrongPayload);
    assert!(
        r.payloads[0].witness.summary.contains("wh-1 at 60ms names task 12, which had no FAILED run by then")
    );
    assert!(!r.pass, "a wrong payload fails the run");
}

#[test]
fn a_failed_payload_naming_a_task_that_failed_in_another_episode_is_a_wrong_payload() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12).failed(11).failed(12);
    h.deliver("wh-1", 1, F, 1).runs(1, &[11]).started(11).failed(11);
    // Task 12 failed in episode 1 and was not retried: it did not fail in episode 2.
    h.deliver("wh-2", 1, F, 2).tweak(|r| r.failed_tasks = vec![TaskId(11), TaskId(12)]);
    let r = h.check();
    assert_verdict(&r, 1, F, 2, Verdict::Delivered);
    assert_eq!(r.payloads.len(), 1, "{r:#?}");
    let s = &r.payloads[0].witness.summary;
    assert!(s.contains("names task 12, which failed in episode 1, not 2"), "{s}");
}

#[test]
fn a_failed_payload_naming_the_episodes_failures_is_right() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12).failed(11).failed(12);
    h.deliver("wh-1", 1, F, 1).tweak(|r| r.failed_tasks = vec![TaskId(11), TaskId(12)]);
    let r = h.check();
    assert!(r.payloads.is_empty(), "{r:#?}");
    assert!(r.pass);
}

#[test]
fn a_request_before_its_cause_could_commit_is_unexpected() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).started(11);
    h.send("wh-1", 1, F, 1).receive("wh-1", true).checked(1, false, false).failed(11);
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Lost);
    assert!(r.stray[0].witness.summary.contains("before its cause at #5 could have committed"), "{r:#?}");
}

/// A write can commit at the very moment of the last entry before its invocation
/// (the history's clock does not split it), so a request at that moment may announce
/// it; a request a moment earlier cannot.
#[test]
fn a_request_at_the_earliest_moment_its_cause_can_commit_matches_it() {
    for (early, expected) in [(Duration::ZERO, Verdict::Delivered), (Duration::from_nanos(1), Verdict::Lost)]
    {
        let mut h = H::new();
        h.created(1, &[11]).runs(1, &[11]).started(11);
        h.on("r2").claim(1, F, true).send("wh-1", 1, F, 1); // the send is #4, at 50ms
        let invoked = h.mark();
        let at = Duration::from_millis(50) - early;
        h.receive("wh-1", true).tweak(|r| {
            r.at = at;
            r.failed_tasks = vec![TaskId(11)];
        });
        h.finish("wh-1", true, "204").on("r1").since(invoked).failed(11);
        let r = h.check();
        assert_verdict(&r, 1, F, 1, expected);
        assert_eq!(r.stray.len(), usize::from(expected == Verdict::Lost), "{r:#?}");
        if expected == Verdict::Lost {
            // The send was accepted, but as a request before its cause: the event is
            // lost, and its witness points at the stray.
            assert_eq!(
                event(&r, 1, F, 1).witness.summary,
                "PIPELINE_FAILED plan 1 ep 1: r2 sent wh-1 at #4 (204 at #5); run 1 FAILED at #6 (r1); \
                 wh-1 was accepted but is unexpected (see stray)"
            );
        }
    }
}

#[test]
fn unexpected_requests_are_grouped_by_webhook_id() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]);
    h.deliver("wh-x", 1, F, 3).refused("wh-x").deliver("wh-y", 1, F, 3);
    let r = h.check();
    assert_eq!(r.stray.len(), 2, "{r:#?}");
    assert_eq!((r.stray[0].attempts, r.stray[0].deliveries), (2, 1));
    assert!(r.events.is_empty());
}

#[test]
fn a_completed_request_matches_whatever_episode_it_names() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).started(11).done(11).deliver("wh-c", 1, C, 7);
    let r = h.check();
    assert_verdict(&r, 1, C, 1, Verdict::Delivered);
    assert!(r.pass && r.stray.is_empty());
}

#[test]
fn an_empty_batch_starts_no_episode() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12).failed(11).runs(1, &[]).failed(12);
    h.deliver("wh-1", 1, F, 1);
    let r = h.check();
    assert_eq!(r.events.len(), 1, "{r:#?}");
    assert_verdict(&r, 1, F, 1, Verdict::Delivered);
}

#[test]
fn a_failure_overlapping_batch_run_tasks_is_ambiguous_in_both_candidate_episodes() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11]).started(11);
    let m = h.mark();
    h.runs(1, &[12]).since(m).failed(11).deliver("wh-1", 1, F, 2);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Ambiguous);
    assert!(e.witness.summary.contains("committed in episode 1 or 2"), "{}", e.witness.summary);
    assert_eq!(assert_verdict(&r, 1, F, 2, Verdict::Ambiguous).deliveries, 1);
    assert!(r.pass && r.stray.is_empty(), "ambiguous counts no violation: {r:#?}");
}

#[test]
fn a_certain_failure_keeps_its_episode_owed_beside_an_overlapping_one() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12).failed(11);
    let m = h.mark();
    h.runs(1, &[11]).since(m).failed(12);
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Lost);
    assert_verdict(&r, 1, F, 2, Verdict::Ambiguous);
}

#[test]
fn a_delivery_that_only_an_overlapping_failure_can_explain_is_ambiguous_not_unexpected() {
    // Task 11 fails while the second episode starts (episode 1 or 2); the design put
    // it in episode 2 and announced that at once; task 12 then fails, certainly in 2.
    let mut h = H::new();
    h.created(1, &[11, 12, 13]).runs(1, &[11, 12]).started(11).started(12);
    let m = h.mark();
    h.runs(1, &[13]).since(m).failed(11).deliver("wh-2", 1, F, 2).failed(12);
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Ambiguous);
    let e = assert_verdict(&r, 1, F, 2, Verdict::Ambiguous);
    assert_eq!(e.deliveries, 1);
    assert!(e.witness.summary.contains("committed in episode 1 or 2"), "{}", e.witness.summary);
    assert!(r.pass && r.stray.is_empty(), "{r:#?}");
}

#[test]
fn an_episode_with_a_certain_failure_is_still_lost_when_nothing_arrives() {
    let mut h = H::new();
    h.created(1, &[11, 12, 13]).runs(1, &[11, 12]).started(11).started(12);
    let m = h.mark();
    h.runs(1, &[13]).since(m).failed(11).failed(12);
    let r = h.check();
    assert_verdict(&r, 1, F, 2, Verdict::Lost);
}

#[test]
fn a_completion_overlapping_a_failure_is_ambiguous() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12).skip(1, &[11]);
    let m = h.mark();
    h.done(12).since(m).failed(11).deliver("wh-1", 1, F, 2);
    let r = h.check();
    assert_verdict(&r, 1, F, 2, Verdict::Delivered);
    let e = assert_verdict(&r, 1, C, 2, Verdict::Ambiguous);
    assert!(e.witness.summary.contains("the completing write #5 overlapped run 1 FAILED at #6"), "{r:#?}");
    assert!(r.pass);
}

#[test]
fn a_failure_committed_but_never_logged_makes_its_plan_ambiguous() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).on("r2").started(11);
    // r2 crashes inside finish_run: the FAILED status commits, the history never hears.
    h.latest(11).2 = RunStatus::Failed;
    h.crash("r2", "mid-finish").on("r1").send("wh-1", 1, F, 1).receive("wh-1", true);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Ambiguous);
    assert!(e.witness.summary.contains("note: task 11 is failed in the store, open in the history"));
    assert_eq!(e.witness.entries, vec![1], "the run's creation");
    assert!(r.pass && r.stray.is_empty(), "{r:#?}");
}

/// An unlogged failure in episode 2 leaves episode 2's accounting unknown, even for
/// its logged failure, but not episode 1's, which ended before the unlogged write's
/// run was created.
#[test]
fn an_unlogged_failure_makes_its_episode_ambiguous_and_leaves_earlier_ones_alone() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).on("r1").started(11).started(12).done(12).failed(11);
    h.claim(1, F, true).deliver("wh-1", 1, F, 1).reset(1, Some(F));
    h.runs(1, &[11, 12]).on("r2").started(11).started(12).failed(12);
    // r2 crashes inside finish_run of task 11: FAILED commits, the history never hears.
    h.latest(11).2 = RunStatus::Failed;
    h.crash("r2", "mid-finish");
    // r1 announces episode 2 with the failed tasks the store shows: 11, whose failure
    // the history never logged, and 12.
    h.on("r1").claim(1, F, true).deliver("wh-2", 1, F, 2).tweak(|r| r.failed_tasks = vec![TaskId(11)]);
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    let e = assert_verdict(&r, 1, F, 2, Verdict::Ambiguous);
    assert_says(e, &["the store's final state shows writes the history did not log"]);
    // Nor is the payload of an ambiguous episode judged: task 11 did fail, unlogged.
    assert!(r.pass && r.payloads.is_empty() && r.stray.is_empty(), "{r:#?}");
    // The store shows no complete plan, so no completion is even possibly owed.
    assert_eq!(r.events.len(), 2, "{r:#?}");
}

/// A run the scheduler promoted (PENDING -> AVAILABLE) before a replica took it
/// moves on to RUNNING and FAILED: its failure is owed.
#[test]
fn a_promoted_run_that_fails_owes_the_failure() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).promoted(&[1]).started(11).failed(11);
    h.claim(1, F, true).deliver("wh-1", 1, F, 1).tweak(|r| r.failed_tasks = vec![TaskId(11)]);
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert!(r.pass && r.stray.is_empty() && r.payloads.is_empty(), "{r:#?}");
}

/// A DONE that committed unlogged (the replica crashed inside its status write)
/// leaves the failures alone, as no unlogged write failed anything, but makes the
/// plan's completion unknown: announced, it is ambiguous, not unexpected.
#[test]
fn an_unlogged_done_makes_the_completion_unknown_and_leaves_failures_alone() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).on("r1").started(11).started(12).failed(12);
    h.claim(1, F, true).deliver("wh-f", 1, F, 1).tweak(|r| r.failed_tasks = vec![TaskId(12)]);
    h.reset(1, Some(F)).runs(1, &[12]).started(12).done(12);
    h.latest(11).2 = RunStatus::Done;
    h.crash("r1", "mid-finish");
    h.on("r2").claim(1, C, true).deliver("wh-c", 1, C, 2);
    let r = h.check();
    assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    let e = assert_verdict(&r, 1, C, 2, Verdict::Ambiguous);
    assert_says(e, &["the store's final task states disagree with the history"]);
    assert!(r.pass && r.stray.is_empty(), "{r:#?}");
}

#[test]
fn an_episode_field_the_order_forbids_is_reported_in_the_witness() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).started(11).failed(11).deliver("wh-1", 1, F, 1);
    if let Event::RunsCreated { episode, .. } = &mut h.entries[1].event {
        *episode = 5;
    }
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert!(e.witness.summary.contains("note: #1 says episode 5 but the history orders it as episode 1"));
    assert!(e.witness.entries.contains(&1));
}

#[test]
fn a_done_written_over_the_cleaners_failed_owes_the_failure_and_the_completion() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).started(11);
    let m = h.mark();
    h.on("r2").ended(11, RunStatus::Failed, true);
    // r1's DONE, invoked before the cleaner's write, hung on its cut link; when the link
    // heals it overwrites the FAILED (unfenced) and the plan is complete. The FAILED
    // needed the run RUNNING, so it committed first: no race.
    h.on("r1").since(m).done(11).claim(1, C, true).deliver("wh-c", 1, C, 1);
    assert!(matches!(h.entries[4].event, Event::RunEnded { overwrote: Some(RunStatus::Failed), .. }));
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Lost);
    assert_says(e, &["run 1 FAILED at #3 (cleaner on r2, held by r1)", "run 1 DONE over FAILED at #4 (r1)"]);
    assert!(e.witness.entries.contains(&4), "{:?}", e.witness.entries);
    let c = assert_verdict(&r, 1, C, 1, Verdict::Delivered);
    assert_eq!(c.caused_at, Some(h.entries[4].at), "the plan became complete at the DONE");
    assert!(r.stray.is_empty() && !e.witness.summary.contains("note:"), "{r:#?}");
}

#[test]
fn an_overwrite_logged_before_the_end_it_replaced_still_ends_the_run() {
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).started(11);
    let m = h.mark();
    // The DONE that overwrote the cleaner's FAILED is logged first (the cleaner's
    // answer came late): the FAILED needed the run RUNNING, so it committed first.
    h.done(11).since(m).on("r2").ended(11, RunStatus::Failed, true);
    if let Event::RunEnded { overwrote, .. } = &mut h.entries[3].event {
        *overwrote = Some(RunStatus::Failed);
    }
    if let Event::RunEnded { overwrote, .. } = &mut h.entries[4].event {
        *overwrote = None;
    }
    h.latest(11).2 = RunStatus::Done;
    h.on("r1").claim(1, C, true).deliver("wh-c", 1, C, 1);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Lost);
    assert!(!e.witness.summary.contains("note:"), "the replay agrees with the store: {}", e.witness.summary);
    assert_verdict(&r, 1, C, 1, Verdict::Delivered);
    assert!(r.stray.is_empty(), "{r:#?}");
}

#[test]
fn a_completion_may_come_from_a_write_logged_after_an_overlapping_one() {
    // The DONE committed first and its reply came late (held on the link): the
    // delivery that followed it is in time, though the skip was logged first.
    let mut h = H::new();
    h.created(1, &[11]).runs(1, &[11]).started(11);
    let invoked = h.mark();
    h.deliver("wh-c", 1, C, 1).skip(1, &[11]).since(invoked).done(11);
    let r = h.check();
    assert_verdict(&r, 1, C, 2, Verdict::Delivered);
    assert!(r.stray.is_empty(), "{r:#?}");
}

#[test]
fn a_completion_is_no_earlier_than_its_last_task_could_finish() {
    // Task 12's DONE was invoked only after the request: the request is early.
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12).done(11);
    h.deliver("wh-c", 1, C, 1).done(12);
    let r = h.check();
    assert_eq!(r.stray.len(), 1, "{r:#?}");
    assert!(r.stray[0].witness.summary.contains("before its cause"), "{r:#?}");
}

#[test]
fn a_completion_counts_from_the_writes_that_finished_its_tasks_before_it_not_after() {
    // Task 11 is DONE at #4, task 12 at #5: the plan is complete from #5, and a
    // stale status write of task 11 invoked after the delivery (DONE over DONE, #8)
    // does not move that: the request before it announces the completion.
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11, 12]).started(11).started(12).done(11).done(12);
    h.deliver("wh-c", 1, C, 1).done(11);
    let r = h.check();
    assert_verdict(&r, 1, C, 1, Verdict::Delivered);
    assert!(r.pass && r.stray.is_empty(), "{r:#?}");
}

/// A task that never got a run is known from the plan's creation: the history and
/// the store agree about it, so no witness carries a note of disagreement.
#[test]
fn a_task_that_never_ran_is_known_from_the_plans_creation() {
    let mut h = H::new();
    h.created(1, &[11, 12]).runs(1, &[11]).started(11).failed(11);
    h.claim(1, F, true).deliver("wh-1", 1, F, 1).tweak(|r| r.failed_tasks = vec![TaskId(11)]);
    let r = h.check();
    let e = assert_verdict(&r, 1, F, 1, Verdict::Delivered);
    assert!(!e.witness.summary.contains("note:"), "{}", e.witness.summary);
}

#[test]
fn a_delivery_at_the_earliest_moment_a_certain_failure_can_have_committed_is_not_before_it() {
    // As above, but the delivery arrives at the very moment after which task 12's
    // certain failure may have committed (the entry logged just before that write was
    // invoked): not certainly before it, so the certain failure explains it.
    let mut h = H::new();
    h.created(1, &[11, 12, 13]).runs(1, &[11, 12]).started(11).started(12);
    let m = h.mark();
    h.runs(1, &[13]).since(m).failed(11).deliver("wh-2", 1, F, 2);
    let earliest = h.entries.last().expect("the send's answer").at;
    h.tweak(|r| r.at = earliest).failed(12);
    let r = h.check();
    assert_verdict(&r, 1, F, 2, Verdict::Delivered);
    // A microsecond earlier it is certainly before: ambiguous, as above.
    h.requests.last_mut().expect("the request").at = earliest - Duration::from_micros(1);
    assert_verdict(&h.check(), 1, F, 2, Verdict::Ambiguous);
}
