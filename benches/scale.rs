//! A run's cost against its size: the shipped day in the life
//! (`scenarios/load/day-in-the-life.toml`) on the memory store at several plan counts.
//!
//! Every size is the file itself with its workload's `plans` changed and its `over`
//! scaled with the count (10 s per 1,000 plans in the shipped file), so the plans
//! arrive as densely as in the shipped day; `max_duration` grows with `over` only when
//! the longer arrival window would pass it (the file's slack after the last start is
//! kept). Everything else is the file's: replicas, tasks, failures, retries, the
//! rolling crash, the seed. One iteration is one whole run, judged; it must pass.
//!
//! `cargo bench --bench scale` runs 100 and 1,000 plans; `HASIM_SCALE_PLANS` picks the
//! counts, e.g. `HASIM_SCALE_PLANS=100,1000,10000 cargo bench --bench scale` (10,000
//! takes tens of seconds a run). `cargo bench --bench scale -- --test` runs each once.
//! `scripts/scale-curve` draws the same shape from the release binary, with peak RSS.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use hasim::runner::{RunOptions, run_scenario};
use hasim::scenario::{self, Scenario};
use hasim::sim::Database;

/// The shipped workload the sizes are drawn from.
const DAY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/load/day-in-the-life.toml");
/// The plan counts run when `HASIM_SCALE_PLANS` is not set.
const DEFAULT_PLANS: &str = "100,1000";

/// The plan counts to run: `HASIM_SCALE_PLANS` (comma-separated) or [`DEFAULT_PLANS`].
fn plan_counts() -> Vec<u64> {
    let text = std::env::var("HASIM_SCALE_PLANS").unwrap_or_else(|_| DEFAULT_PLANS.to_owned());
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.replace('_', "").parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => panic!("HASIM_SCALE_PLANS: {s:?} is not a plan count (e.g. 100,1000,10000)"),
        })
        .collect()
}

/// A duration key of `table`, in milliseconds.
fn millis(table: &toml::Table, key: &str, default: &str) -> u64 {
    let text = match table.get(key) {
        None => default,
        Some(value) => value.as_str().unwrap_or_else(|| panic!("{DAY}: `{key}` is not a duration string")),
    };
    let duration = scenario::parse_duration(text).unwrap_or_else(|e| panic!("{DAY}: `{key}`: {e}"));
    duration.as_millis() as u64
}

/// The shipped day's text with its one workload resized to `plans` plans: `over`
/// scaled with the count, `max_duration` raised only as far as keeps the file's slack
/// after the arrival window.
fn resized(day: &str, plans: u64) -> String {
    let mut file: toml::Table = toml::from_str(day).unwrap_or_else(|e| panic!("{DAY}: {e}"));
    let max_duration = millis(&file, "max_duration", "30s");
    let Some(toml::Value::Array(workloads)) = file.get_mut("workload") else {
        panic!("{DAY}: no [[workload]]");
    };
    let [toml::Value::Table(workload)] = workloads.as_mut_slice() else {
        panic!("{DAY}: the scale bench expects exactly one [[workload]]");
    };
    let shipped = workload.get("plans").and_then(toml::Value::as_integer);
    let shipped = shipped.unwrap_or_else(|| panic!("{DAY}: the workload's `plans` is not an integer")) as u64;
    let (start, over) = (millis(workload, "start", "0ms"), millis(workload, "over", "0ms"));
    assert!(over > 0, "{DAY}: the scale bench needs the workload's `over` (not `rate`)");
    let slack = max_duration.saturating_sub(start + over);
    let scaled = (over * plans / shipped).max(1);
    workload.insert("plans".into(), toml::Value::Integer(plans as i64));
    workload.insert("over".into(), toml::Value::String(format!("{scaled}ms")));
    if start + scaled + slack > max_duration {
        file.insert("max_duration".into(), toml::Value::String(format!("{}ms", start + scaled + slack)));
    }
    toml::to_string(&file).expect("a TOML table renders")
}

/// The shipped day at `plans` plans, validated.
fn day_of(day: &str, plans: u64) -> Scenario {
    let text = resized(day, plans);
    scenario::parse(&format!("{DAY} at {plans} plans"), &text)
        .unwrap_or_else(|e| panic!("the resized day does not validate: {e}\n{text}"))
}

/// Checks the resizing once: at the file's own count it gives the file's own spec.
fn check_resizing(day: &str) {
    let shipped = scenario::load(DAY.as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let plans = shipped.spec.plans.len() as u64;
    let same = day_of(day, plans);
    assert_eq!(format!("{:?}", same.spec), format!("{:?}", shipped.spec), "resizing changed the file");
}

fn scale(c: &mut Criterion) {
    let day = std::fs::read_to_string(DAY).unwrap_or_else(|e| panic!("cannot read {DAY}: {e}"));
    check_resizing(&day);
    let options = RunOptions { database: Database::Memory, strategy: None, seed: None };
    let mut group = c.benchmark_group("scale/memory");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    for plans in plan_counts() {
        let scenario = day_of(&day, plans);
        // Room for ten runs at 1 ms a plan; criterion says so when a size needs more.
        group.measurement_time(Duration::from_millis(plans * 10).max(Duration::from_secs(3)));
        group.throughput(Throughput::Elements(plans));
        group.bench_function(BenchmarkId::from_parameter(plans), |b| {
            b.iter(|| {
                let run = run_scenario(&scenario, &options).expect("the day runs");
                assert!(run.ok, "the day at {plans} plans failed its expectations: {:?}", run.checks);
                run
            })
        });
    }
    group.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);
