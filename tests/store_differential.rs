//! The memory backend is a faithful model of the Postgres one: the same random
//! sequence of operations gives the same answers on both, step by step, status
//! writes under every mode (fenced, status-guarded, unfenced) included. Each reads
//! the feed of changed plans with its own cursor: Postgres may show a plan again
//! that did not change, never miss one that did.

mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use common::PgFixture;
use hasim::model::{EventType, PlanId, ReplicaId, RunId, TaskId};
use hasim::store::{Cursor, MemoryStore, NewPlan, PlanState, RaisedEvent, RunOutcome, StatusWrite, Store};
use proptest::prelude::*;

/// One store operation, with ids drawn from a small range so that operations hit
/// existing rows most of the time and missing ones sometimes.
#[derive(Debug, Clone)]
enum Op {
    CreatePlan {
        tasks: usize,
    },
    Claim {
        plan: i64,
        failed: bool,
    },
    Reset {
        plan: i64,
    },
    RunTasks {
        plan: i64,
        tasks: Vec<i64>,
    },
    Promote,
    TakeRuns {
        replica: usize,
        limit: u32,
    },
    Finish {
        run: i64,
        replica: usize,
        outcome: u8,
        write: StatusWrite,
    },
    Cancel {
        plan: i64,
        tasks: Vec<i64>,
    },
    Skip {
        plan: i64,
        tasks: Vec<i64>,
    },
    ReadPlan {
        plan: i64,
    },
    Heartbeat {
        replica: usize,
    },
    Clean {
        stale: bool,
    },
    Claims,
    FinishRaising {
        run: i64,
        replica: usize,
        outcome: u8,
        write: StatusWrite,
    },
    CleanRaising {
        stale: bool,
    },
    SkipRaising {
        plan: i64,
        tasks: Vec<i64>,
    },
    Lease {
        replica: usize,
        limit: u32,
        expire_at_once: bool,
    },
    Mark {
        plan: i64,
        failed: bool,
        episode: u32,
    },
    Outbox,
    WorkLeft {
        max_leases: u32,
    },
    /// Reads the plans changed since the last `Watch` (checked apart: see [`Watcher`]).
    Watch,
}

fn op() -> impl Strategy<Value = Op> {
    let plan = 1..=4i64;
    let tasks = prop::collection::vec(1..=10i64, 0..4);
    prop_oneof![
        2 => (0..4usize).prop_map(|tasks| Op::CreatePlan { tasks }),
        3 => (plan.clone(), any::<bool>()).prop_map(|(plan, failed)| Op::Claim { plan, failed }),
        1 => plan.clone().prop_map(|plan| Op::Reset { plan }),
        3 => (plan.clone(), tasks.clone()).prop_map(|(plan, tasks)| Op::RunTasks { plan, tasks }),
        2 => Just(Op::Promote),
        3 => (1..=3usize, 0..4u32).prop_map(|(replica, limit)| Op::TakeRuns { replica, limit }),
        3 => (1..=12i64, 1..=3usize, 0..3u8, write()).prop_map(|(run, replica, outcome, write)| Op::Finish { run, replica, outcome, write }),
        1 => (plan.clone(), tasks.clone()).prop_map(|(plan, tasks)| Op::Cancel { plan, tasks }),
        1 => (plan.clone(), tasks).prop_map(|(plan, tasks)| Op::Skip { plan, tasks }),
        1 => plan.prop_map(|plan| Op::ReadPlan { plan }),
        1 => (1..=3usize).prop_map(|replica| Op::Heartbeat { replica }),
        1 => any::<bool>().prop_map(|stale| Op::Clean { stale }),
        1 => Just(Op::Claims),
        3 => (1..=12i64, 1..=3usize, 0..3u8, write()).prop_map(|(run, replica, outcome, write)| Op::FinishRaising { run, replica, outcome, write }),
        1 => any::<bool>().prop_map(|stale| Op::CleanRaising { stale }),
        1 => (1..=4i64, prop::collection::vec(1..=10i64, 0..4)).prop_map(|(plan, tasks)| Op::SkipRaising { plan, tasks }),
        2 => (1..=3usize, 0..3u32, any::<bool>()).prop_map(|(replica, limit, expire_at_once)| Op::Lease { replica, limit, expire_at_once }),
        1 => (1..=4i64, any::<bool>(), 0..4u32).prop_map(|(plan, failed, episode)| Op::Mark { plan, failed, episode }),
        1 => Just(Op::Outbox),
        1 => (0..4u32).prop_map(|max_leases| Op::WorkLeft { max_leases }),
        2 => Just(Op::Watch),
    ]
}

/// Every status write mode, so that runs are ended by their replica, by another
/// replica, and again after they ended.
fn write() -> impl Strategy<Value = StatusWrite> {
    prop::sample::select(StatusWrite::ALL.to_vec())
}

fn outcome_of(n: u8) -> RunOutcome {
    match n {
        0 => RunOutcome::Done,
        1 => RunOutcome::Failed { error: "boom".into() },
        _ => RunOutcome::Canceled,
    }
}

/// The cleaner's bound: zero makes every heartbeat stale; an hour, none (a missing
/// heartbeat is stale either way).
fn bound(stale: bool) -> Duration {
    if stale { Duration::ZERO } else { Duration::from_secs(3600) }
}

/// Applies `op` and renders the answer (or the error) for comparison.
async fn apply(db: &impl Store, op: &Op) -> String {
    let ids = |v: &[i64]| v.iter().map(|&t| TaskId(t)).collect::<Vec<_>>();
    let answer = match op {
        Op::CreatePlan { tasks } => {
            let tasks = (0..*tasks).map(|i| format!("t{i}")).collect();
            db.create_plan(&NewPlan { project: "p".into(), title: "t".into(), tasks })
                .await
                .map(|x| format!("{x:?}"))
        }
        Op::Claim { plan, failed } => {
            let event = if *failed { EventType::PipelineFailed } else { EventType::PipelineCompleted };
            db.claim_event(PlanId(*plan), event).await.map(|x| format!("{x:?}"))
        }
        Op::Reset { plan } => db.reset_claim(PlanId(*plan)).await.map(|x| format!("{x:?}")),
        Op::RunTasks { plan, tasks } => {
            db.create_pending_runs(PlanId(*plan), &ids(tasks)).await.map(|x| format!("{x:?}"))
        }
        Op::Promote => db.promote_pending().await.map(|x| format!("{x:?}")),
        Op::TakeRuns { replica, limit } => {
            db.claim_available_runs(&ReplicaId::nth(*replica), *limit).await.map(|x| format!("{x:?}"))
        }
        Op::Finish { run, replica, outcome, write } => db
            .finish_run(RunId(*run), &ReplicaId::nth(*replica), &outcome_of(*outcome), *write)
            .await
            .map(|x| format!("{x:?}")),
        Op::Cancel { plan, tasks } => {
            db.cancel_runs(PlanId(*plan), &ids(tasks)).await.map(|x| format!("{x:?}"))
        }
        Op::Skip { plan, tasks } => {
            db.skip_tasks(PlanId(*plan), &ids(tasks), "skip").await.map(|x| format!("{x:?}"))
        }
        Op::ReadPlan { plan } => db.plan_state(PlanId(*plan)).await.map(|x| format!("{x:?}")),
        Op::Heartbeat { replica } => db.heartbeat(&ReplicaId::nth(*replica)).await.map(|x| format!("{x:?}")),
        Op::Clean { stale } => db.fail_abandoned_runs(bound(*stale)).await.map(|x| format!("{x:?}")),
        Op::Claims => db.claims().await.map(|x| format!("{x:?}")),
        Op::FinishRaising { run, replica, outcome, write } => db
            .finish_run_raising(RunId(*run), &ReplicaId::nth(*replica), &outcome_of(*outcome), *write)
            .await
            .map(|x| format!("{x:?}")),
        Op::CleanRaising { stale } => {
            db.fail_abandoned_runs_raising(bound(*stale)).await.map(|x| format!("{x:?}"))
        }
        Op::SkipRaising { plan, tasks } => {
            db.skip_tasks_raising(PlanId(*plan), &ids(tasks), "skip").await.map(|x| format!("{x:?}"))
        }
        Op::Lease { replica, limit, expire_at_once } => {
            let lease = if *expire_at_once { Duration::ZERO } else { Duration::from_secs(3600) };
            db.lease_events(&ReplicaId::nth(*replica), *limit, lease, 3).await.map(|x| format!("{x:?}"))
        }
        Op::Mark { plan, failed, episode } => {
            let event = if *failed { EventType::PipelineFailed } else { EventType::PipelineCompleted };
            db.mark_delivered(RaisedEvent { plan: PlanId(*plan), event, episode: *episode })
                .await
                .map(|x| format!("{x:?}"))
        }
        Op::Outbox => db.outbox().await.map(|x| format!("{x:?}")),
        Op::WorkLeft { max_leases } => db.work_left(*max_leases).await.map(|x| format!("{x:?}")),
        Op::Watch => unreachable!("a watch is compared by `Watcher`"),
    };
    answer.unwrap_or_else(|e| format!("error: {e}"))
}

/// Both stores' feeds of changed plans, read side by side. The memory feed is exact:
/// each plan it shows changed since the last read, whole. Postgres shows only the
/// changed tasks; folded into what it showed before, it must show each of those
/// plans in the same state, and may show others only as they were last shown.
#[derive(Default)]
struct Watcher {
    cursors: (Cursor, Cursor),
    /// Each plan's state as the memory feed last showed it.
    shown: HashMap<PlanId, PlanState>,
    /// Each plan's state as the Postgres feed has shown it, reads folded in.
    folded: HashMap<PlanId, PlanState>,
}

impl Watcher {
    async fn watch(&mut self, postgres: &impl Store, memory: &MemoryStore) -> Result<(), String> {
        let pg = postgres.changed_plans(self.cursors.0).await.map_err(|e| format!("postgres: {e}"))?;
        let mem = memory.changed_plans(self.cursors.1).await.map_err(|e| format!("memory: {e}"))?;
        self.cursors = (pg.cursor, mem.cursor);
        let mut whole = HashMap::new();
        for (plan, state) in pg.plans {
            let folded =
                self.folded.entry(plan).or_insert_with(|| PlanState { tasks: Vec::new(), ..state.clone() });
            folded.absorb(state);
            whole.insert(plan, folded.clone());
        }
        let pg = whole;
        for (plan, state) in &mem.plans {
            match pg.get(plan) {
                Some(seen) if seen == state => {}
                Some(seen) => {
                    return Err(format!("plan {plan:?}: postgres shows {seen:?}, memory {state:?}"));
                }
                None => return Err(format!("plan {plan:?} changed and postgres missed it")),
            }
        }
        let changed: HashMap<PlanId, PlanState> = mem.plans.into_iter().collect();
        for (plan, state) in &pg {
            if !changed.contains_key(plan) && self.shown.get(plan) != Some(state) {
                return Err(format!("postgres shows plan {plan:?} as {state:?}, which is not how it was"));
            }
        }
        self.shown.extend(changed);
        Ok(())
    }
}

thread_local! {
    static RUNTIME: RefCell<actix::SystemRunner> = RefCell::new(actix::System::new());
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/store_differential.txt"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn prop_memory_and_postgres_answer_every_operation_alike(ops in prop::collection::vec(op(), 1..40)) {
        RUNTIME.with_borrow(|rt| rt.block_on(async {
            let pg = PgFixture::new().await;
            let postgres = pg.store(1).await;
            let memory = MemoryStore::new();
            let mut watcher = Watcher::default();
            for (step, op) in ops.iter().enumerate() {
                if let Op::Watch = op {
                    let watched = watcher.watch(&postgres, &memory).await;
                    prop_assert!(watched.is_ok(), "step {} (watch): {}", step, watched.unwrap_err());
                    continue;
                }
                let (want, got) = (apply(&postgres, op).await, apply(&memory, op).await);
                prop_assert_eq!(&want, &got, "step {} ({:?}): postgres vs memory", step, op);
            }
            Ok(())
        }))?;
    }
}
