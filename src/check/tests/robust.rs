//! The checker on arbitrary histories: whatever the entries say (unknown runs, wrong
//! episodes, writes invoked after they returned), it reports and never panics.

use std::collections::BTreeSet;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::*;

fn arb_event() -> impl Strategy<Value = Event> {
    let plan = (1i64..3).prop_map(PlanId);
    let task = (1i64..5).prop_map(TaskId);
    let run = (1i64..7).prop_map(RunId);
    let seq = 0u64..40;
    let event = select(EventType::ALL.to_vec());
    let id = select(vec!["a", "b", "c"]).prop_map(str::to_owned);
    let new_run =
        (run.clone(), task.clone(), 1i32..3).prop_map(|(run, task, attempt)| NewRun { run, task, attempt });
    let run_ref = (run.clone(), task.clone()).prop_map(|(run, task)| RunRef { run, task });
    prop_oneof![
        (plan.clone(), vec(task.clone(), 0..4), seq.clone())
            .prop_map(|(plan, tasks, invoked)| Event::PlanCreated { plan, tasks, invoked }),
        (plan.clone(), vec(new_run, 0..3), 0u32..4, seq.clone())
            .prop_map(|(plan, runs, episode, invoked)| Event::RunsCreated { plan, runs, episode, invoked }),
        (plan.clone(), vec(task.clone(), 0..3), 0u32..4, seq.clone()).prop_map(
            |(plan, tasks, episode, invoked)| Event::TasksSkipped { plan, tasks, episode, invoked }
        ),
        (plan.clone(), vec(run_ref, 0..2), seq.clone()).prop_map(|(plan, canceled, invoked)| {
            Event::RunsCanceled { plan, canceled, running: Vec::new(), invoked }
        }),
        (vec(run.clone(), 0..3), seq.clone())
            .prop_map(|(runs, invoked)| Event::RunsPromoted { runs, invoked }),
        (run.clone(), task.clone(), plan.clone(), 1i32..3, seq.clone()).prop_map(
            |(run, task, plan, attempt, invoked)| Event::RunStarted { run, task, plan, attempt, invoked }
        ),
        (
            run,
            task,
            plan.clone(),
            select(RunStatus::ALL.to_vec()),
            proptest::option::of(select(RunStatus::ALL.to_vec())),
            any::<bool>(),
            seq.clone()
        )
            .prop_map(|(run, task, plan, status, overwrote, by_cleaner, invoked)| Event::RunEnded {
                run,
                task,
                plan,
                attempt: 1,
                status,
                overwrote,
                error: None,
                by_cleaner,
                invoked
            }),
        (plan.clone(), event.clone(), any::<bool>(), seq.clone()).prop_map(|(plan, event, won, invoked)| {
            let claim = if won { Claim::Won } else { Claim::Lost };
            Event::ClaimAttempted { plan, event, claim, invoked }
        }),
        (plan.clone(), proptest::option::of(event.clone()), seq)
            .prop_map(|(plan, deleted, invoked)| Event::ClaimReset { plan, deleted, invoked }),
        (plan.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(plan, complete, failed)| Event::CompletionChecked { plan, complete, failed }),
        (plan, event, 0u32..4, id.clone(), 1u32..3, any::<bool>()).prop_map(
            |(plan, event, episode, webhook_id, attempt, id_omitted)| {
                Event::SendStarted { plan, event, episode, webhook_id, attempt, id_omitted }
            }
        ),
        (id.clone(), 1u32..3, any::<bool>()).prop_map(|(webhook_id, attempt, accepted)| {
            Event::SendFinished { webhook_id, attempt, accepted, outcome: "x".into() }
        }),
        id.prop_map(|webhook_id| Event::SendAbandoned { webhook_id, attempts: 1, reason: "x".into() }),
        (1usize..3).prop_map(|n| Event::Crashed { replica: ReplicaId::nth(n), point: None }),
        select(vec!["r1 link down", "endpoint 503", "r22"])
            .prop_map(|d| Event::FaultStarted { fault: 0, description: d.into() }),
    ]
}

fn arb_request() -> impl Strategy<Value = Request> {
    (
        0u64..500,
        proptest::option::of(select(vec!["a", "b", "c", "d"])),
        proptest::option::of((1i64..3).prop_map(PlanId)),
        proptest::option::of(select(EventType::ALL.to_vec())),
        proptest::option::of(0u32..4),
        vec((1i64..5).prop_map(TaskId), 0..2),
        any::<(bool, bool)>(),
    )
        .prop_map(|(ms, id, plan, event, episode, failed_tasks, (accepted, signature_ok))| Request {
            at: Duration::from_millis(ms),
            webhook_id: id.map(str::to_owned),
            plan,
            event,
            episode,
            failed_tasks,
            accepted,
            signature_ok,
        })
}

proptest! {
    #[test]
    fn any_history_gets_a_consistent_report_and_no_panic(
        events in vec((arb_event(), 0u8..3, 0u64..20), 0..40),
        requests in vec(arb_request(), 0..6),
        episode in 0u32..4,
        deadline in prop_oneof![Just(Duration::MAX), (0u64..5).prop_map(Duration::from_secs)],
    ) {
        let history: Vec<Entry> = events
            .into_iter()
            .enumerate()
            .map(|(i, (event, by, ms))| Entry {
                seq: i as Seq,
                at: Duration::from_millis(i as u64 * 10 + ms),
                by: (by > 0).then(|| ReplicaId::nth(by as usize)),
                event,
            })
            .collect();
        let final_state = vec![(PlanId(1), PlanState { project: "p".into(), title: "t".into(), episode, tasks: Vec::new() })];
        let input = CheckInput {
            history,
            requests,
            final_state,
            deadline,
            view: Default::default(),
            end: Duration::from_secs(1),
        };
        let report = check(&input);

        // Wrong payloads are violations too (the run's `pass` counts them).
        let violated =
            report.events.iter().chain(&report.stray).chain(&report.payloads).any(|e| e.verdict.is_violation());
        prop_assert_eq!(report.pass, !violated);
        prop_assert!(report.stray.iter().all(|s| s.verdict == Verdict::Unexpected));
        // Episodes count from 1: no event of episode 0 is owed, or possibly owed.
        prop_assert!(report.events.iter().all(|e| e.episode >= 1), "{:?}", report.events);
        let keys: BTreeSet<_> = report.events.iter().map(|e| (e.plan, e.event, e.episode)).collect();
        prop_assert_eq!(keys.len(), report.events.len());
        for e in report.events.iter().chain(&report.stray) {
            prop_assert!(!e.witness.summary.contains('\n'));
            prop_assert!(e.witness.entries.iter().all(|s| (*s as usize) < input.history.len()));
        }
    }
}
