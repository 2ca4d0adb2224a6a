//! The claim-contention benchmarks (`hasim::bench`, `hasim bench`): short sweeps on
//! Postgres that must find exactly one winner per plan-round (`hot` free: every win
//! reset, every reset finding its row) and deliver every outbox row once, on every
//! claim path; the CLI's outputs; and its argument errors.

mod common;

use std::time::Duration;

use clap::Parser;
use common::{database_url, run};
use hasim::bench::cli::{self, BenchArgs};
use hasim::bench::{
    BenchConfig, BenchEnv, BenchReport, ClaimPath, HotShape, Mechanism, OutboxRows, PointResult, RunSpec,
    Stop, Target, Workload, sweep,
};

const PATHS: [ClaimPath; 4] =
    [ClaimPath::Actor, ClaimPath::ActorPool, ClaimPath::Pool, ClaimPath::Connection];

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

fn args(line: &[&str]) -> Result<BenchArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("hasim-bench").chain(line.iter().copied())).map(|c| c.args)
}

fn postgres() -> Target {
    Target::Postgres { url: database_url() }
}

#[track_caller]
fn assert_clean(p: &PointResult) {
    assert_eq!(p.duplicates, 0, "duplicate winners at {} replicas: {p:?}", p.replicas);
    assert_eq!(p.errors, 0, "errors at {} replicas: {:?}", p.replicas, p.first_error);
    assert!(p.claims > 0 && p.claims_per_s > 0.0, "no claims at {} replicas", p.replicas);
    assert_eq!(p.latency.samples, p.claims, "every claim timed");
    assert!(p.latency.p50_us <= p.latency.p95_us && p.latency.p95_us <= p.latency.p99_us);
    assert!(p.latency.p99_us <= p.latency.max_us * 1.0001);
}

#[track_caller]
fn assert_hot_rounds(p: &PointResult) {
    assert_clean(p);
    let rounds = p.rounds.expect("hot counts rounds");
    assert_eq!(p.wins, rounds, "hot: exactly one winner per round at {} replicas", p.replicas);
    assert_eq!(p.empty_rounds, 0);
    assert_eq!(p.claims, rounds * p.replicas as u64, "every replica claims in every round");
    assert_eq!(p.resets_found, rounds, "every winner's reset found its row");
    assert_eq!(p.rows_left, 0);
}

/// `hot` free: wins counted, each reset right after its win and finding its row, no
/// rounds, nothing left behind.
#[track_caller]
fn assert_hot_free(p: &PointResult) {
    assert_clean(p);
    assert_eq!(p.rounds, None, "free hot plays no rounds");
    assert!(p.wins > 0, "no claim won at {} replicas", p.replicas);
    assert_eq!(p.resets_found, p.wins, "every winner's reset found its row at {} replicas", p.replicas);
    assert_eq!(p.resets_missed, 0);
    assert_eq!(p.rows_left, 0);
    if p.replicas == 1 {
        assert_eq!(p.wins, p.claims, "alone, every claim wins");
    }
}

#[test]
fn free_hot_counts_wins_and_resets_without_duplicates_for_every_mechanism_on_postgres() {
    run(async {
        for mechanism in Mechanism::ALL {
            let mut cfg = BenchConfig::new(Workload::Hot, mechanism, postgres(), vec![1, 4, 8]);
            cfg.stop = Stop::Duration(Duration::from_millis(700));
            let report = sweep(&cfg).await.unwrap_or_else(|e| panic!("{mechanism}: {e}"));
            assert_eq!(report.shape, Some(HotShape::Free), "hot is free by default");
            assert_eq!(report.points.len(), 3);
            for p in &report.points {
                assert_hot_free(p);
            }
            assert_eq!(report.duplicates(), 0);
        }
    });
}

#[test]
fn hot_rounds_have_exactly_one_winner_each_for_every_mechanism_on_postgres() {
    run(async {
        for mechanism in Mechanism::ALL {
            let mut cfg = BenchConfig::new(Workload::Hot, mechanism, postgres(), vec![1, 4, 8]);
            cfg.shape = HotShape::Rounds;
            cfg.stop = Stop::Duration(Duration::from_millis(700));
            let report = sweep(&cfg).await.unwrap_or_else(|e| panic!("{mechanism}: {e}"));
            assert_eq!(report.points.len(), 3);
            for p in &report.points {
                assert_hot_rounds(p);
            }
            assert_eq!(report.duplicates(), 0);
        }
    });
}

#[test]
fn spread_keeps_one_row_per_won_plan_and_cycle_wins_every_claim_on_its_own_plan() {
    run(async {
        let env = BenchEnv::create(&postgres(), 200, 4, 2).await.expect("bench environment");
        for mechanism in Mechanism::ALL {
            let replicas = env.start_replicas(4, mechanism, ClaimPath::Actor).await.unwrap();
            let stop = Stop::ClaimsPerReplica(150);

            // 600 claims on 200 plans: many collide, each plan is won at most once.
            let spread =
                env.run(&replicas, &RunSpec::new(Workload::Spread, mechanism, 200, stop)).await.unwrap();
            assert_clean(&spread);
            assert_eq!(spread.claims, 600);
            assert_eq!(spread.rows_left, spread.wins, "{mechanism}: each win is one row");
            assert!(spread.wins <= 200 && spread.wins > 50, "{mechanism}: {} wins", spread.wins);
            assert!(spread.wins < spread.claims, "{mechanism}: claims collided");

            // A plan each: every claim wins and its reset finds the row.
            let cycle = env.run(&replicas, &RunSpec::new(Workload::Cycle, mechanism, 4, stop)).await.unwrap();
            assert_clean(&cycle);
            assert_eq!((cycle.claims, cycle.wins, cycle.resets_found, cycle.rows_left), (600, 600, 600, 0));

            // Two replicas per plan: they race, and still never both win a plan-round.
            let shared =
                env.run(&replicas, &RunSpec::new(Workload::Cycle, mechanism, 2, stop)).await.unwrap();
            assert_clean(&shared);
            assert_eq!(shared.resets_found, shared.wins);
            replicas.close().await;
        }
        env.close().await.expect("drop the schema");
    });
}

#[test]
fn advisory_claims_of_runs_sharing_a_server_do_not_take_each_others_locks() {
    run(async {
        let a = BenchEnv::create(&postgres(), 4, 4, 1).await.unwrap();
        let b = BenchEnv::create(&postgres(), 4, 4, 1).await.unwrap();
        // Both schemas number their plans from 1: both runs claim the same ids at once.
        assert_eq!(a.plans(), b.plans());
        let (ra, rb) = (
            a.start_replicas(4, Mechanism::Advisory, ClaimPath::Actor).await.unwrap(),
            b.start_replicas(4, Mechanism::Advisory, ClaimPath::Actor).await.unwrap(),
        );
        let spec = RunSpec::new(Workload::Cycle, Mechanism::Advisory, 4, Stop::ClaimsPerReplica(300));
        let (pa, pb) = tokio::join!(a.run(&ra, &spec), b.run(&rb, &spec));
        for p in [pa.unwrap(), pb.unwrap()] {
            assert_clean(&p);
            assert_eq!(p.wins, p.claims, "every claim on a replica's own plan wins");
        }
        ra.close().await;
        rb.close().await;
        a.close().await.unwrap();
        b.close().await.unwrap();
    });
}

#[test]
fn a_bench_environment_dropped_without_close_still_drops_its_schema() {
    run(async {
        let env = BenchEnv::create(&postgres(), 2, 1, 1).await.unwrap();
        let name = env.schema_name().expect("a Postgres environment has a schema").to_owned();
        drop(env); // as a panic in the middle of a bench would
        assert!(!common::schema_exists(&name).await, "{name} is still there");
    });
}

#[test]
fn every_claim_path_gives_the_same_answers() {
    run(async {
        let env = BenchEnv::create(&postgres(), 4, 4, 2).await.unwrap();
        for path in PATHS {
            for mechanism in [Mechanism::OnConflict, Mechanism::ForUpdate] {
                let replicas = env.start_replicas(4, mechanism, path).await.unwrap();
                let spec = RunSpec::new(Workload::Hot, mechanism, 1, Stop::ClaimsPerReplica(40));
                let free = env.run(&replicas, &spec).await.unwrap();
                assert_hot_free(&free);
                assert_eq!((free.claims, free.path), (160, path));
                let hot = env.run(&replicas, &spec.with_shape(HotShape::Rounds)).await.unwrap();
                assert_hot_rounds(&hot);
                assert_eq!((hot.rounds, hot.path), (Some(40), path));
                replicas.close().await;
            }
        }
        env.close().await.unwrap();
    });
}

/// The outbox as the relays and the table count it, for a run of `steps` relay steps
/// that did not drain the table: every leased row delivered exactly once.
#[track_caller]
fn assert_outbox_delivered_once(p: &PointResult, steps: u64) {
    assert_clean(p);
    let o = p.outbox.expect("outbox counts");
    assert_eq!(p.claims, steps, "every relay step counted");
    assert_eq!(
        (o.leased, p.wins, o.after.delivered),
        (steps, steps, steps),
        "each lease delivered once: {o:?}"
    );
    assert_eq!((o.redelivered, o.after.leased_twice, o.empty_leases), (0, 0, 0), "{o:?}");
    assert_eq!(o.after.pending, o.filled - steps);
    assert_eq!(p.rows_left, o.after.pending);
}

#[test]
fn outbox_relays_deliver_every_leased_row_exactly_once_on_every_path() {
    run(async {
        let env = BenchEnv::create(&postgres(), 3_000, 8, 2).await.unwrap();
        for path in PATHS {
            let relays = env.start_replicas(8, Mechanism::OnConflict, path).await.unwrap();
            let spec =
                RunSpec::new(Workload::Outbox, Mechanism::OnConflict, 3_000, Stop::ClaimsPerReplica(200));
            let p = env.run(&relays, &spec).await.unwrap_or_else(|e| panic!("{path:?}: {e}"));
            assert_eq!(p.outbox.map(|o| o.filled), Some(3_000), "the table is filled before the run");
            assert_outbox_delivered_once(&p, 1_600);
            assert_eq!(p.path, path);
            relays.close().await;
        }
        env.close().await.unwrap();
    });
}

#[test]
fn outbox_relays_stop_when_the_table_runs_dry_and_say_so() {
    run(async {
        let env = BenchEnv::create(&postgres(), 50, 4, 2).await.unwrap();
        let relays = env.start_replicas(4, Mechanism::OnConflict, ClaimPath::Actor).await.unwrap();
        let spec = RunSpec::new(Workload::Outbox, Mechanism::OnConflict, 50, Stop::ClaimsPerReplica(1_000));
        let p = env.run(&relays, &spec).await.unwrap();
        let o = p.outbox.expect("outbox counts");
        let after = OutboxRows { pending: 0, delivered: 50, leased_twice: 0 };
        assert_eq!((o.leased, p.wins, o.after), (50, 50, after));
        assert_eq!(o.empty_leases, 4, "each relay stops at its first empty lease");
        assert_eq!(p.claims, 54);
        assert_eq!((p.duplicates, p.errors), (0, 0));
        relays.close().await;
        env.close().await.unwrap();
    });
}

#[test]
fn the_outbox_sweep_puts_pgbench_on_the_same_sql_beside_the_relays() {
    let json = temp_path("outbox.json");
    let line = ["outbox", "--replicas", "1,4", "--duration", "1s", "--plans", "50000", "--pgbench"];
    let mut parsed = args(&line).expect("valid arguments");
    parsed.store.database.database_url = Some(database_url());
    parsed.json = Some(json.clone());
    let table = cli::run(parsed).unwrap_or_else(|e| panic!("hasim bench outbox failed: {e:#}"));
    for expected in ["steps/s", "delivered/s", "0 duplicate deliveries", "outbox rows", "pgbench tps"] {
        assert!(table.contains(expected), "no {expected:?} in\n{table}");
    }
    let report: BenchReport = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report.workload, Workload::Outbox);
    // A fast machine may drain the table within the second: the table says so exactly
    // when a run did (a relay's lease found no row, or pgbench left none pending).
    let mut dry = false;
    for p in &report.points {
        let o = p.outbox.expect("outbox counts");
        assert_eq!((p.duplicates, p.errors), (0, 0), "{p:?}");
        assert_eq!((o.leased, o.after.delivered), (p.wins, p.wins));
        let pg = p.pgbench.as_ref().expect("pgbench ran");
        let after = pg.outbox.expect("the table after pgbench");
        assert!(pg.failed == 0 && after.delivered > 0, "{pg:?}");
        dry |= o.empty_leases > 0 || after.pending == 0;
        assert_eq!(pg.wins, None, "the outbox claims nothing");
        assert_eq!(after.leased_twice, 0, "pgbench leased a row twice");
        let script = &pg.scripts[0].text;
        assert!(script.contains("FOR UPDATE SKIP LOCKED") && script.contains("SET delivered_at = now()"));
        assert!(p.ratio.is_some_and(|r| r > 0.0));
    }
    assert_eq!(table.contains("RAN DRY"), dry, "{table}");
    let _ = std::fs::remove_file(json);
}

#[test]
fn the_memory_model_runs_every_workload_without_duplicates() {
    run(async {
        let runs = [
            (Workload::Hot, HotShape::Free),
            (Workload::Hot, HotShape::Rounds),
            (Workload::Spread, HotShape::Free),
            (Workload::Cycle, HotShape::Free),
        ];
        for (workload, shape) in runs {
            let mut cfg = BenchConfig::new(workload, Mechanism::OnConflict, Target::Memory, vec![1, 8]);
            cfg.shape = shape;
            cfg.plans = Some(50);
            cfg.stop = Stop::ClaimsPerReplica(2_000);
            let report = sweep(&cfg).await.unwrap();
            for p in &report.points {
                assert_clean(p);
                assert_eq!(p.claims, 2_000 * p.replicas as u64);
                match (workload, shape) {
                    (Workload::Hot, HotShape::Rounds) => assert_hot_rounds(p),
                    (Workload::Hot, HotShape::Free) => assert_hot_free(p),
                    _ => {}
                }
            }
            assert!(report.server_version.is_none() && report.schema.is_none());
        }
    });
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hasim-bench-test-{}-{name}", std::process::id()))
}

#[test]
fn the_cli_prints_the_table_with_pgbench_ratios_and_writes_complete_json_csv_and_svg() {
    let (json, csv, svg) = (temp_path("out.json"), temp_path("out.csv"), temp_path("out.svg"));
    let line = [
        "hot",
        "--replicas",
        "1,4",
        "--duration",
        "1s",
        "--pgbench",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ];
    let mut parsed = args(&line).expect("valid arguments");
    parsed.store.database.database_url = Some(database_url());
    let table = cli::run(parsed).unwrap_or_else(|e| panic!("hasim bench failed: {e:#}"));
    assert!(table.contains("pgbench tps") && table.contains("ratio"), "{table}");
    assert!(table.contains("0 duplicate winners"), "{table}");
    assert!(table.contains("hasim bench hot, free (mechanism on-conflict)"), "the default shape: {table}");
    assert!(table.contains("store actor, holding one connection"), "the default path: {table}");

    let text = std::fs::read_to_string(&json).expect("json written");
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    for key in ["workload", "mechanism", "backend", "server_version", "schema", "stop", "nproc", "points"] {
        assert!(!value[key].is_null(), "JSON lacks {key}: {text}");
    }
    let report: BenchReport = serde_json::from_value(value).expect("JSON reads back as a report");
    assert_eq!((report.workload, report.mechanism), (Workload::Hot, Mechanism::OnConflict));
    assert_eq!(report.shape, Some(HotShape::Free));
    assert_eq!(report.path, ClaimPath::Actor, "the bench goes through the store actors by default");
    assert_eq!(report.points.iter().map(|p| p.replicas).collect::<Vec<_>>(), [1, 4]);
    for p in &report.points {
        assert_hot_free(p);
        let pg = p.pgbench.as_ref().expect("pgbench ran at every replica count");
        let names: Vec<&str> = pg.scripts.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["claim-reset-if-won"], "pgbench plays the free hot's statements");
        let wins = pg.wins.expect("the server counted pgbench's wins");
        assert!(wins > 0 && wins <= pg.transactions, "{wins} wins in {} transactions", pg.transactions);
        assert!(pg.winners_per_s.is_some_and(|w| w > 0.0 && w <= pg.tps * 1.0001));
        if p.replicas == 1 {
            assert_eq!(wins, pg.transactions, "alone, every pgbench claim wins");
        }
        assert!(pg.tps > 0.0 && pg.transactions > 0, "{pg:?}");
        assert!(pg.command.contains(&format!("-c {} ", p.replicas)) && pg.command.contains("-M prepared"));
        let ratio = p.ratio.expect("a ratio");
        assert!((ratio - p.claims_per_s / pg.tps).abs() < 1e-9);
    }

    let csv_text = std::fs::read_to_string(&csv).expect("csv written");
    let rows: Vec<&str> = csv_text.lines().collect();
    assert_eq!(rows.len(), 3, "{csv_text}");
    assert!(rows[0].starts_with("workload,mechanism,backend,replicas"));
    assert_eq!(rows[1].split(',').count(), rows[0].split(',').count());

    let svg_text = std::fs::read_to_string(&svg).expect("svg written");
    assert!(svg_text.starts_with("<svg") && svg_text.trim_end().ends_with("</svg>"));
    assert_eq!(svg_text.matches("<polyline").count(), 5, "claims, winners, pgbench, p99, p50");
    for f in [json, csv, svg] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn malformed_command_lines_are_usage_errors_that_exit_2() {
    for line in [
        &["hot", "--replicas", "0"][..],
        &["hot", "--replicas", "1,0,4"],
        &["lukewarm"],
        &["hot", "--duration", "5"],
        &["hot", "--duration", "0s"],
        &["hot", "--mechanism", "mutex"],
        &["hot", "--plans", "0"],
        &["hot", "--memory", "--pgbench"],
        &["hot", "--shape", "barrier"],
    ] {
        let err = args(line).err().unwrap_or_else(|| panic!("{line:?} should not parse"));
        assert_eq!(err.exit_code(), 2, "{line:?}: {err}");
    }
    let err = args(&["--replicas", "0"]).err().unwrap().to_string();
    assert!(err.contains("at least 1 replica"), "{err}");
    let parsed = args(&["spread", "--replicas", "2,8", "--duration", "1.5s", "--plans", "10"]).unwrap();
    assert_eq!(parsed.replicas, [2, 8]);
    assert_eq!(parsed.duration, Duration::from_millis(1500));
    assert_eq!(parsed.shape, HotShape::Free, "hot is free unless asked for rounds");
    assert_eq!(args(&["hot", "--shape", "rounds"]).unwrap().shape, HotShape::Rounds);
}

#[track_caller]
fn usage_error(line: &[&str], database: Option<&str>) -> String {
    let mut parsed = args(line).expect("parses");
    parsed.store.database.database_url = database.map(str::to_owned).or(parsed.store.database.database_url);
    let err = cli::run(parsed).expect_err("must fail");
    assert_eq!(cli::exit_code(&err), 2, "{line:?}: {err:#}");
    format!("{err:#}")
}

#[test]
fn impossible_runs_fail_before_measuring_with_clear_errors_that_exit_2() {
    let db = database_url();
    let unreachable =
        usage_error(&["hot", "--replicas", "1"], Some("postgres://postgres@127.0.0.1:1/postgres"));
    assert!(unreachable.contains("cannot connect to Postgres at postgres://postgres@127.0.0.1:1/postgres"));

    let missing = usage_error(
        &["hot", "--replicas", "1", "--pgbench", "--pgbench-bin", "/nonexistent/pgbench"],
        Some(&db),
    );
    assert!(missing.contains("pgbench") && missing.contains("/nonexistent/pgbench"), "{missing}");

    let outbox_mechanism = usage_error(&["outbox", "--mechanism", "advisory"], Some(&db));
    assert!(outbox_mechanism.contains("SKIP LOCKED"), "{outbox_mechanism}");
    assert!(usage_error(&["outbox", "--memory"], None).contains("needs Postgres"));
    assert!(usage_error(&["hot", "--memory", "--mechanism", "advisory"], None).contains("needs Postgres"));
    let rounds = usage_error(&["spread", "--shape", "rounds"], Some(&db));
    assert!(rounds.contains("--shape rounds applies to hot"), "{rounds}");
    let nowhere = usage_error(&["hot", "--json", "/nonexistent/dir/out.json"], Some(&db));
    assert!(nowhere.contains("does not exist"), "{nowhere}");
}

/// `--topology primary-standby`: the sweep and pgbench run on a pair made for the
/// bench, whose replication the table and the JSON name; the pair is gone after.
#[test]
fn a_bench_on_a_primary_standby_pair_says_so_and_leaves_no_pair() {
    let json = temp_path("pair.json");
    let line =
        ["spread", "--replicas", "1,2", "--duration", "300ms", "--pgbench", "--json", json.to_str().unwrap()];
    let mut parsed = args(&[&line[..], &["--topology", "primary-standby", "--replication", "sync"]].concat())
        .expect("valid arguments");
    parsed.store.database.database_url = Some(database_url());
    let table = cli::run(parsed).unwrap_or_else(|e| panic!("hasim bench failed: {e:#}"));
    assert!(table.contains("a primary-standby pair with sync replication"), "{table}");
    assert!(table.contains("0 duplicate winners") && table.contains("pgbench tps"), "{table}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).ok();
    assert_eq!(report["replication"], "sync");
    let prefix = format!("hasim-pair-{}-", std::process::id());
    let left: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "pairs left: {left:?}");

    let memory = args(&["hot", "--store", "memory", "--topology", "primary-standby"]).expect("parses");
    let refused = cli::run(memory).expect_err("no pair on the memory store").to_string();
    assert!(refused.contains("needs the postgres store"), "{refused}");
}
