//! Claim contention through the store actors (each holding one connection): `hot`
//! (free, and in rounds as `hot-rounds`), `spread` and `cycle` at a few replica counts,
//! on Postgres (`DATABASE_URL`, required) and on the memory model (the model's own
//! cost), and the `outbox` relays on Postgres.
//! One iteration is one claim (one relay step) per replica; throughput is in those.
//!
//! Full run: `cargo bench --bench claim_contention`. Smoke run, as CI can afford:
//! `cargo bench --bench claim_contention -- --test` (each benchmark once).
//! `hasim bench` measures the same workloads over time, with pgbench beside them.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hasim::bench::{BenchEnv, ClaimPath, HotShape, Mechanism, RunSpec, Stop, Target, Workload};

const REPLICAS: [usize; 3] = [1, 4, 16];
/// P for `spread`: far more plans than a run claims, so most claims insert a row.
const SPREAD_PLANS: u32 = 100_000;
/// Pending rows for `outbox`, filled before every measurement: more than its longest
/// sample takes (about 3,000 relay steps here).
const OUTBOX_ROWS: u32 = 20_000;

fn database_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "the claim_contention benches need Postgres: set DATABASE_URL, e.g. \
             DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
        ),
    }
}

fn plans_for(workload: Workload, replicas: usize) -> u32 {
    match workload {
        Workload::Spread => SPREAD_PLANS,
        Workload::Outbox => OUTBOX_ROWS,
        other => other.default_plans(replicas),
    }
}

/// `hot` played in rounds, named `hot-rounds` in the groups.
const HOT_ROUNDS: (Workload, HotShape) = (Workload::Hot, HotShape::Rounds);
/// The claim workloads: `hot` free, `hot` in rounds, `spread`, `cycle`.
const CLAIMS: [(Workload, HotShape); 4] = [
    (Workload::Hot, HotShape::Free),
    HOT_ROUNDS,
    (Workload::Spread, HotShape::Free),
    (Workload::Cycle, HotShape::Free),
];

fn contention(c: &mut Criterion, backend: &str, target: Target, workloads: &[(Workload, HotShape)]) {
    let system = actix::System::new();
    let max = *REPLICAS.iter().max().unwrap();
    let env = system
        .block_on(BenchEnv::create(&target, SPREAD_PLANS, max, 2))
        .unwrap_or_else(|e| panic!("cannot set up the {backend} bench: {e}"));
    for &(workload, shape) in workloads {
        let name =
            if (workload, shape) == HOT_ROUNDS { "hot-rounds".to_owned() } else { workload.to_string() };
        let mut group = c.benchmark_group(format!("{backend}/{name}"));
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        for replicas in REPLICAS {
            let running = system
                .block_on(env.start_replicas(replicas, Mechanism::OnConflict, ClaimPath::Actor))
                .expect("replicas");
            group.throughput(Throughput::Elements(replicas as u64));
            group.bench_function(BenchmarkId::from_parameter(replicas), |b| {
                b.iter_custom(|iters| {
                    let spec = RunSpec::new(
                        workload,
                        Mechanism::OnConflict,
                        plans_for(workload, replicas),
                        Stop::ClaimsPerReplica(iters.max(1)),
                    )
                    .with_shape(shape);
                    let point = system.block_on(env.run(&running, &spec)).expect("bench run");
                    assert_eq!(point.duplicates, 0, "duplicate winners: {point:?}");
                    assert_eq!(point.errors, 0, "claims failed: {:?}", point.first_error);
                    let dry = point.outbox.is_some_and(|o| o.empty_leases > 0);
                    assert!(!dry, "the outbox ran dry after {} steps: raise OUTBOX_ROWS", point.claims);
                    Duration::from_secs_f64(point.elapsed_s)
                })
            });
            system.block_on(running.close());
        }
        group.finish();
    }
    system.block_on(env.close()).expect("drop the bench schema");
}

fn postgres(c: &mut Criterion) {
    let mut workloads = CLAIMS.to_vec();
    workloads.push((Workload::Outbox, HotShape::Free));
    contention(c, "postgres", Target::Postgres { url: database_url() }, &workloads);
}

fn memory(c: &mut Criterion) {
    contention(c, "memory", Target::Memory, &CLAIMS);
}

criterion_group!(benches, postgres, memory);
criterion_main!(benches);
