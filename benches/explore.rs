//! Exploration speed: generated scenario cases per second on the memory store, on
//! one core (every run is a current-thread actix system in virtual time).
//!
//! The shape the target is stated for: 3 replicas, 2 plans of 4 tasks, 3 faults (and
//! 0-3 user actions per plan). One iteration is one case; the benches split the cost
//! into generating a case, turning it into a validated scenario (render the TOML and
//! read it back), and running and judging it.
//!
//! The `search` group runs whole searches of the same cases on one job and on two
//! (worker threads, each run its own actix system): the cases per second a machine
//! gives with every core, which only a quiet machine shows.
//!
//! `cargo bench --bench explore`; `cargo bench --bench explore -- --test` runs each once.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hasim::explore::{Bounds, Case, Search, case, explore, run_case};
use hasim::runner::{RunOptions, run_scenario};
use hasim::strategy::StrategyKind;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// Cases cycled through, so one odd case does not decide the figure.
const CASES: usize = 64;

fn cases() -> Vec<Case> {
    let mut runner = TestRunner::deterministic();
    let generator = case(&Bounds::exactly(3, 2, 4, 3));
    (0..CASES).map(|_| generator.new_tree(&mut runner).expect("a case").current()).collect()
}

fn steps(c: &mut Criterion) {
    let cases = cases();
    let mut group = c.benchmark_group("explore");
    group.throughput(Throughput::Elements(1));

    let generator = case(&Bounds::exactly(3, 2, 4, 3));
    let mut runner = TestRunner::deterministic();
    group.bench_function("generate", |b| {
        b.iter(|| generator.new_tree(&mut runner).expect("a case").current())
    });

    let mut i = 0;
    group.bench_function("render+validate", |b| {
        b.iter(|| {
            i = (i + 1) % CASES;
            cases[i].scenario(StrategyKind::OUTBOX).expect("a valid scenario")
        })
    });

    for strategy in [StrategyKind::OUTBOX, StrategyKind::SEED_CLAIM] {
        let scenarios: Vec<_> =
            cases.iter().map(|c| c.scenario(strategy).expect("a valid scenario")).collect();
        let options = RunOptions { database: hasim::sim::Database::Memory, strategy: None, seed: None };
        let mut i = 0;
        group.bench_function(format!("run/{strategy}"), |b| {
            b.iter(|| {
                i = (i + 1) % CASES;
                run_scenario(&scenarios[i], &options).expect("the case runs")
            })
        });
    }

    let search = Search::new(StrategyKind::OUTBOX, 1);
    let mut i = 0;
    group.bench_function("case/outbox", |b| {
        b.iter(|| {
            i = (i + 1) % CASES;
            run_case(&search, &cases[i]).expect("the case runs")
        })
    });
    group.finish();
}

/// Whole searches of `CASES` outbox cases (it finds nothing: no shrinking), by jobs.
fn search(c: &mut Criterion) {
    let mut group = c.benchmark_group("search");
    group.throughput(Throughput::Elements(CASES as u64));
    group.sample_size(10);
    for jobs in [1, 2] {
        let search = Search {
            jobs,
            bounds: Bounds::exactly(3, 2, 4, 3),
            ..Search::new(StrategyKind::OUTBOX, CASES as u32)
        };
        group.bench_function(format!("outbox/jobs{jobs}"), |b| {
            b.iter(|| {
                let outcome = explore(&search, |_| {}).expect("the search runs");
                assert_eq!(outcome.cases, CASES as u32);
                outcome
            })
        });
    }
    group.finish();
}

criterion_group!(benches, steps, search);
criterion_main!(benches);
