//! The last step of shrinking: one-step simplifications of a [`Case`], tried greedily.
//!
//! Proptest's value trees shrink each part in its own order and stop a part once a
//! step makes the case pass, so a shrunk case can still hold a task or an action that
//! nothing needs. [`simpler`] lists every case one step smaller (a fault, plan,
//! action, task, attempt or replica fewer; a time at zero; a request routed
//! round-robin), and the search keeps the first that still fails, until none does.

use super::case::{Case, CrashWhen, FaultCase, PointCase, SpanCase};

/// Every case one step simpler than `case`, most removing first.
pub fn simpler(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    let mut with = |f: &dyn Fn(&mut Case)| {
        let mut c = case.clone();
        f(&mut c);
        if c != *case {
            out.push(c);
        }
    };
    for i in 0..case.faults.len() {
        with(&|c| {
            c.faults.remove(i);
        });
    }
    for p in 0..case.plans.len() {
        if case.plans.len() > 1 {
            with(&|c| {
                c.plans.remove(p);
            });
        }
        for a in 0..case.plans[p].actions.len() {
            with(&|c| {
                c.plans[p].actions.remove(a);
            });
        }
        for t in 0..case.plans[p].tasks.len() {
            if case.plans[p].tasks.len() > 1 {
                with(&|c| {
                    c.plans[p].tasks.remove(t);
                });
            }
            for a in 0..case.plans[p].tasks[t].attempts.len() {
                with(&|c| {
                    c.plans[p].tasks[t].attempts.remove(a);
                });
            }
        }
    }
    if case.replicas > 1 {
        with(&|c| c.replicas -= 1);
    }
    for p in 0..case.plans.len() {
        with(&|c| c.plans[p].start = 0);
        with(&|c| c.plans[p].via = None);
        for a in 0..case.plans[p].actions.len() {
            with(&|c| c.plans[p].actions[a].via = None);
            with(&|c| c.plans[p].actions[a].tasks.clear());
        }
    }
    for i in 0..case.faults.len() {
        with(&|c| zero_times(&mut c.faults[i]));
    }
    out
}

/// The fault striking at time zero (windows keep their length).
fn zero_times(fault: &mut FaultCase) {
    match fault {
        FaultCase::Crash { when: CrashWhen::At(at), .. }
        | FaultCase::DbPartition { at, .. }
        | FaultCase::DbLatency { at, .. }
        | FaultCase::DbReset { at, .. }
        | FaultCase::DbFailover { at }
        | FaultCase::ReplicationLag { at, .. }
        | FaultCase::Endpoint { span: SpanCase::Window { at, .. }, .. } => *at = 0,
        FaultCase::Crash { when: CrashWhen::Point(_, nth) | CrashWhen::AnyPoint(_, nth), .. }
        | FaultCase::DbResetAt { when: PointCase { nth, .. }, .. }
        | FaultCase::DbPartitionAt { when: PointCase { nth, .. }, .. } => *nth = 1,
        FaultCase::Endpoint { span: SpanCase::Requests(n), .. } => *n = 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::case::{ActionCase, ActionCaseKind, AttemptCase, PlanCase, TaskCase};

    fn case() -> Case {
        let task = || TaskCase { attempts: vec![AttemptCase { failed: true, after: 5 }] };
        Case {
            seed: 1,
            replicas: 2,
            plans: vec![PlanCase {
                start: 10,
                via: Some(1),
                tasks: vec![task(), task()],
                actions: vec![ActionCase { after: 5, kind: ActionCaseKind::Skip, tasks: vec![1], via: None }],
            }],
            faults: vec![FaultCase::DbReset { replica: 1, at: 30 }],
            replication: Default::default(),
        }
    }

    #[test]
    fn every_simpler_case_is_smaller_or_plainer_and_valid() {
        let base = case();
        let all = simpler(&base);
        assert!(all.iter().all(|c| c != &base));
        for c in &all {
            assert!(c.size() <= base.size());
            assert!(c.scenario(crate::strategy::StrategyKind::OUTBOX).is_ok(), "{c:?}");
        }
        // The fault, the action, each task, each attempt, a replica; then times, routing.
        assert!(all.iter().any(|c| c.faults.is_empty()));
        assert!(all.iter().any(|c| c.plans[0].actions.is_empty()));
        assert!(all.iter().any(|c| c.plans[0].tasks.len() == 1));
        assert!(all.iter().any(|c| c.replicas == 1));
        assert!(all.iter().any(|c| c.plans[0].start == 0));
        assert!(all.iter().any(|c| c.faults == vec![FaultCase::DbReset { replica: 1, at: 0 }]));
    }

    #[test]
    fn the_smallest_case_has_nothing_simpler() {
        let smallest = Case {
            seed: 1,
            replicas: 1,
            plans: vec![PlanCase {
                start: 0,
                via: None,
                tasks: vec![TaskCase { attempts: vec![] }],
                actions: vec![],
            }],
            faults: vec![],
            replication: Default::default(),
        };
        assert!(simpler(&smallest).is_empty());
    }
}
