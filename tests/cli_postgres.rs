//! The `hasim` binary against Postgres, as a user first meets it there: `doctor`
//! checks the server and drops its schema unless told to keep it, and `run` with
//! `DATABASE_URL` runs a scenario on Postgres and judges it.

mod common;

use common::{database_url, hasim_on_postgres, run};
use sqlx::Connection;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether a schema of that name exists on the tests' server.
fn schema_exists(name: &str) -> bool {
    run(common::schema_exists(name))
}

/// The schema a doctor's output names (`schema NAME created and migrated`).
#[track_caller]
fn schema_named(stdout: &str) -> String {
    let line = stdout.lines().find(|l| l.ends_with("created and migrated")).expect("the schema line");
    line.split_whitespace().nth(1).expect("a schema name").to_owned()
}

#[test]
fn doctor_races_replicas_on_a_schema_of_its_own_and_drops_it() {
    let out = hasim_on_postgres(&["doctor"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains(", 0 duplicates"), "{stdout}");
    assert!(stdout.trim_end().ends_with("schema dropped"), "{stdout}");
    let schema = schema_named(&stdout);
    assert!(!schema_exists(&schema), "{schema} is still there");
}

#[test]
fn doctor_with_keep_schema_leaves_the_schema_and_says_how_to_drop_it() {
    let out = hasim_on_postgres(&["doctor", "--keep-schema"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let schema = schema_named(&stdout);
    let kept = schema_exists(&schema);
    let drop = format!("DROP SCHEMA {schema} CASCADE");
    // Drop it before asserting, so a failure leaves nothing behind.
    run(async {
        let mut conn = sqlx::PgConnection::connect(&database_url()).await.expect("Postgres");
        // The name is one the doctor made: `hasim_` and a run id.
        assert!(
            schema.starts_with("hasim_") && schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        );
        sqlx::query(sqlx::AssertSqlSafe(drop.as_str()))
            .execute(&mut conn)
            .await
            .expect("the kept schema drops");
    });
    assert!(kept, "{schema} was not kept");
    assert!(stdout.contains(&format!("schema {schema} kept (drop it with: {drop})")), "{stdout}");
}

#[test]
fn run_with_a_database_url_runs_on_postgres_and_judges_the_scenario() {
    let json = std::env::temp_dir().join(format!("hasim-cli-postgres-{}.json", std::process::id()));
    let out = hasim_on_postgres(&["run", "scenarios/happy-path.toml", "--json", json.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let value = common::trace_runs(&std::fs::read(&json).unwrap());
    std::fs::remove_file(&json).ok();
    let run = &value[0];
    assert_eq!(run["store"], "postgres", "{stdout}");
    assert_eq!(run["ok"], true);
    // Real time on Postgres: the run measured its host's lag, as memory runs do not.
    assert!(run["result"].get("host_lag").is_some_and(|l| !l.is_null()), "no host_lag: {}", run["result"]);
}
