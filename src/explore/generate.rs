//! Proptest strategies for [`Case`]s: random HA scenarios that shrink toward small ones.
//!
//! Shrinking removes faults, actions, plans, tasks and scripted attempts (proptest's
//! collections shrink by dropping elements), lowers the replica count, turns failed
//! attempts into done ones, moves every time toward zero and every replica reference
//! toward `r1`. Whatever it produces is still a valid scenario (see [`Case`]).
//!
//! ```
//! use hasim::explore::{Bounds, case};
//! use hasim::strategy::StrategyKind;
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::deterministic();
//! let case = case(&Bounds::default()).new_tree(&mut runner).unwrap().current();
//! let scenario = case.scenario(StrategyKind::OUTBOX).unwrap();
//! assert_eq!(scenario.spec.plans.len(), case.plans.len());
//! ```

use std::ops::RangeInclusive;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use crate::faults::CrashPoint;
use crate::topology::Replication;

use super::case::{
    ActionCase, ActionCaseKind, AttemptCase, Case, CrashWhen, EndpointCase, FaultCase, PlanCase, PointCase,
    SpanCase, TaskCase,
};

/// How big generated cases get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// Replicas.
    pub replicas: RangeInclusive<u8>,
    /// Plans.
    pub plans: RangeInclusive<usize>,
    /// Tasks per plan.
    pub tasks: RangeInclusive<usize>,
    /// User actions per plan after its first run.
    pub actions: RangeInclusive<usize>,
    /// Faults.
    pub faults: RangeInclusive<usize>,
    /// When cases may run on a primary-standby pair that fails over: how it
    /// replicates. `None`: one server, no database faults.
    pub pair: Option<Replication>,
}

impl Default for Bounds {
    /// 1-5 replicas, 1-4 plans, 1-6 tasks, 0-3 later actions per plan, 0-4 faults,
    /// one database server.
    fn default() -> Self {
        Bounds { replicas: 1..=5, plans: 1..=4, tasks: 1..=6, actions: 0..=3, faults: 0..=4, pair: None }
    }
}

impl Bounds {
    /// Exactly this shape (actions per plan still 0-3): for measuring.
    pub fn exactly(replicas: u8, plans: usize, tasks: usize, faults: usize) -> Self {
        Bounds {
            replicas: replicas..=replicas,
            plans: plans..=plans,
            tasks: tasks..=tasks,
            actions: 0..=3,
            faults: faults..=faults,
            pair: None,
        }
    }
}

/// Latest start of a plan, in ms.
const LAST_START: u16 = 1000;
/// Latest user action after its plan's start, in ms.
const LAST_ACTION: u16 = 2000;
/// Latest time a fault strikes, in ms.
const LAST_FAULT: u16 = 2500;
/// Longest fault window, and longest restart delay, in ms.
const LONGEST_WINDOW: u16 = 800;

/// Generated scenarios within `bounds`.
pub fn case(bounds: &Bounds) -> impl Strategy<Value = Case> + use<> {
    (
        (0u64..1_000_000).no_shrink(),
        bounds.replicas.clone(),
        vec(plan(bounds), bounds.plans.clone()),
        vec(fault(), bounds.faults.clone()),
        // Drawn after the rest, and not at all for one server: a seed draws the same
        // plans and faults as it did before the database could fail over.
        match bounds.pair {
            Some(_) => proptest::option::weighted(0.5, database_faults()).boxed(),
            None => Just(None).boxed(),
        },
        Just(bounds.pair.unwrap_or_default()),
    )
        .prop_map(|(seed, replicas, plans, mut faults, database, replication)| {
            faults.extend(database.unwrap_or_default());
            Case { seed, replicas, plans, faults, replication }
        })
}

/// The database failing over: most often after the standby fell behind (a lag
/// window, and a failover in it or after it), or a failover alone, or a lag alone.
pub fn database_faults() -> impl Strategy<Value = Vec<FaultCase>> {
    let lag =
        (0..=LAST_FAULT, 1..=LONGEST_WINDOW).prop_map(|(at, len)| FaultCase::ReplicationLag { at, len });
    let failover = (0..=LAST_FAULT).prop_map(|at| FaultCase::DbFailover { at });
    prop_oneof![
        3 => (0..=LAST_FAULT, 1..=LONGEST_WINDOW, 0..=LONGEST_WINDOW).prop_map(|(at, len, after)| vec![
            FaultCase::ReplicationLag { at, len },
            FaultCase::DbFailover { at: at.saturating_add(after) },
        ]),
        1 => failover.prop_map(|f| vec![f]),
        1 => lag.prop_map(|l| vec![l]),
    ]
}

/// One plan, its tasks and its user's later actions.
pub fn plan(bounds: &Bounds) -> impl Strategy<Value = PlanCase> + use<> {
    (
        0..=LAST_START,
        proptest::option::weighted(0.3, any::<u8>()),
        vec(task(), bounds.tasks.clone()),
        vec(action(), bounds.actions.clone()),
    )
        .prop_map(|(start, via, tasks, actions)| PlanCase { start, via, tasks, actions })
}

/// A task: up to three scripted attempts, each failing with probability 0.4.
pub fn task() -> impl Strategy<Value = TaskCase> {
    let attempt =
        (proptest::bool::weighted(0.4), 1u16..=200).prop_map(|(failed, after)| AttemptCase { failed, after });
    vec(attempt, 0..=3).prop_map(|attempts| TaskCase { attempts })
}

/// A retry (most often), skip or cancel, of some or all tasks.
pub fn action() -> impl Strategy<Value = ActionCase> {
    let kind = prop_oneof![
        3 => Just(ActionCaseKind::Retry),
        2 => Just(ActionCaseKind::Skip),
        1 => Just(ActionCaseKind::Cancel),
    ];
    (1..=LAST_ACTION, kind, vec(any::<u8>(), 0..=2), proptest::option::weighted(0.3, any::<u8>()))
        .prop_map(|(after, kind, tasks, via)| ActionCase { after, kind, tasks, via })
}

/// A fault of any kind; crashes (at crash points most often) weigh the most.
pub fn fault() -> impl Strategy<Value = FaultCase> {
    let when = prop_oneof![
        2 => (0..=LAST_FAULT).prop_map(CrashWhen::At),
        3 => (select(CrashPoint::ALL.to_vec()), 1u8..=3).prop_map(|(p, n)| CrashWhen::Point(p, n)),
        1 => (select(CrashPoint::ALL.to_vec()), 1u8..=3).prop_map(|(p, n)| CrashWhen::AnyPoint(p, n)),
    ];
    let crash = (any::<u8>(), when, 1..=LONGEST_WINDOW, proptest::bool::weighted(0.2)).prop_map(
        |(replica, when, restart_after, stays_down)| FaultCase::Crash {
            replica,
            when,
            restart_after,
            stays_down,
        },
    );
    let partition = (any::<u8>(), 0..=LAST_FAULT, 1..=LONGEST_WINDOW)
        .prop_map(|(replica, at, len)| FaultCase::DbPartition { replica, at, len });
    let latency = (any::<u8>(), 0..=LAST_FAULT, 1..=LONGEST_WINDOW, 1u16..=30)
        .prop_map(|(replica, at, len, latency)| FaultCase::DbLatency { replica, at, len, latency });
    let reset = (any::<u8>(), 0..=LAST_FAULT).prop_map(|(replica, at)| FaultCase::DbReset { replica, at });
    let endpoint =
        (endpoint_behaviour(), span()).prop_map(|(behaviour, span)| FaultCase::Endpoint { behaviour, span });
    let reset_at = (any::<u8>(), point()).prop_map(|(replica, when)| FaultCase::DbResetAt { replica, when });
    let partition_at = (any::<u8>(), point(), 1..=LONGEST_WINDOW)
        .prop_map(|(replica, when, len)| FaultCase::DbPartitionAt { replica, when, len });
    prop_oneof![
        4 => crash,
        1 => partition,
        1 => latency,
        1 => reset,
        1 => reset_at,
        1 => partition_at,
        2 => endpoint,
    ]
}

/// A point for a DB link fault: of the fault's replica, or of whichever gets there.
fn point() -> impl Strategy<Value = PointCase> {
    (proptest::bool::weighted(0.3), select(CrashPoint::ALL.to_vec()), 1u8..=3)
        .prop_map(|(any, point, nth)| PointCase { any, point, nth })
}

fn endpoint_behaviour() -> impl Strategy<Value = EndpointCase> {
    let status = || select(vec![500u16, 503, 429, 404, 410]);
    prop_oneof![
        3 => status().prop_map(EndpointCase::Status),
        1 => (status(), 1u16..=1500).prop_map(|(s, after)| EndpointCase::RetryAfter(s, after)),
        1 => Just(EndpointCase::Hang),
        1 => Just(EndpointCase::Reset),
        1 => (1u16..=300).prop_map(EndpointCase::Late),
    ]
}

fn span() -> impl Strategy<Value = SpanCase> {
    prop_oneof![
        (1u8..=4).prop_map(SpanCase::Requests),
        (0..=LAST_FAULT, 1..=LONGEST_WINDOW).prop_map(|(at, len)| SpanCase::Window { at, len }),
    ]
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::*;
    use crate::strategy::StrategyKind;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn prop_every_generated_case_is_a_valid_scenario(case in case(&Bounds::default())) {
            let scenario = case.scenario(StrategyKind::SEED_CLAIM);
            prop_assert!(scenario.is_ok(), "{}\n{}", scenario.unwrap_err(), case.to_toml(StrategyKind::SEED_CLAIM, &Default::default()));
            let scenario = scenario.unwrap();
            prop_assert_eq!(scenario.spec.plans.len(), case.plans.len());
            prop_assert_eq!(scenario.spec.faults.len(), case.faults.len());
            prop_assert_eq!(scenario.spec.config.replicas, usize::from(case.replicas));
        }
    }

    #[test]
    fn shrinking_keeps_every_case_valid_down_to_the_smallest() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..20 {
            let mut tree = case(&Bounds::default()).new_tree(&mut runner).unwrap();
            // Simplify as far as it goes, as if every simpler case still failed.
            let mut steps = 0;
            while tree.simplify() && steps < 2_000 {
                steps += 1;
                let current = tree.current();
                assert!(current.scenario(StrategyKind::OUTBOX).is_ok(), "step {steps}: {current:?}");
            }
            let smallest = tree.current();
            assert_eq!(smallest.plans.len(), 1, "{smallest:?}");
            assert!(smallest.faults.is_empty(), "{smallest:?}");
            assert_eq!(smallest.replicas, 1);
        }
    }
}
