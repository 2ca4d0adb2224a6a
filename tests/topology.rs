//! A real primary and standby, made from the installed Postgres binaries: they
//! replicate, a failover promotes the standby, an asynchronous failover loses the
//! commits the standby had not received and a synchronous one does not, and nothing
//! is left running or on disk after the pair is dropped.

mod common;

use std::time::{Duration, Instant};

use hasim::topology::{PgPair, Replication};
use sqlx::Connection;

/// Pairs are started one at a time: each runs two servers on a 2-core machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[track_caller]
fn pair(replication: Replication) -> (std::sync::MutexGuard<'static, ()>, PgPair) {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    (turn, PgPair::start(replication).unwrap_or_else(|e| panic!("{e}")))
}

/// Runs `sql` on the server at `url`, giving back the first column of each row.
fn query(url: &str, sql: &str) -> Vec<String> {
    common::run(async {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().map(|(v,)| v).collect()
    })
}

fn execute(url: &str, sql: &str) {
    common::run(async {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
}

/// Waits until `sql` on `url` gives `want` (one row, one column).
#[track_caller]
fn wait_until(url: &str, sql: &str, want: &str) {
    let started = Instant::now();
    while query(url, sql) != [want] {
        assert!(started.elapsed() < Duration::from_secs(20), "{sql} never gave {want} on {url}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_pair_replicates_and_leaves_nothing_running_or_on_disk_when_dropped() {
    let (_turn, pair) = pair(Replication::Async);
    let (primary, standby) = (pair.primary_url(), pair.standby_url().expect("a standby"));
    assert_ne!(primary, standby);
    // One transaction: once the standby has the table, it has the row.
    execute(&primary, "CREATE TABLE t (v text); INSERT INTO t VALUES ('replicated')");
    wait_until(&standby, "SELECT count(*)::text FROM pg_tables WHERE tablename = 't'", "1");
    assert_eq!(query(&standby, "SELECT v FROM t"), ["replicated"]);
    assert_eq!(query(&standby, "SELECT pg_is_in_recovery()::text"), ["true"]);
    let dir = pair.dir().to_owned();
    assert_eq!(common::postmasters_under(&dir), 2, "a primary and a standby");
    drop(pair);
    assert_eq!(common::postmasters_under(&dir), 0, "both stopped");
    assert!(!dir.exists(), "{} deleted", dir.display());
}

#[test]
fn an_async_failover_loses_the_commits_the_standby_had_not_received() {
    let (_turn, mut pair) = pair(Replication::Async);
    let primary = pair.primary_url();
    execute(&primary, "CREATE TABLE t (v text); INSERT INTO t VALUES ('before')");
    // Wait until the standby has the table, then cut it off: the next commit is
    // acknowledged by the primary alone.
    let standby = pair.standby_url().unwrap();
    wait_until(&standby, "SELECT count(*)::text FROM pg_tables WHERE tablename = 't'", "1");
    pair.cut_replication().unwrap();
    execute(&primary, "INSERT INTO t VALUES ('acknowledged, then lost')");
    assert_eq!(query(&primary, "SELECT v FROM t ORDER BY v").len(), 2, "the primary committed it");
    pair.failover().unwrap();
    let promoted = pair.primary_url();
    assert_eq!(promoted, standby, "the standby took over");
    assert_eq!(query(&promoted, "SELECT pg_is_in_recovery()::text"), ["false"]);
    assert_eq!(query(&promoted, "SELECT v FROM t ORDER BY v"), ["before"], "the acknowledged commit is gone");
}

#[test]
fn a_sync_failover_keeps_every_acknowledged_commit() {
    for replication in [Replication::Sync, Replication::RemoteApply] {
        let (_turn, mut pair) = pair(replication);
        let primary = pair.primary_url();
        assert_eq!(
            query(&primary, "SELECT sync_state FROM pg_stat_replication"),
            ["sync"],
            "{replication:?}"
        );
        execute(&primary, "CREATE TABLE t (v text)");
        for i in 0..20 {
            execute(&primary, &format!("INSERT INTO t VALUES ('{i}')"));
        }
        // The primary dies right after its last acknowledgement.
        pair.failover().unwrap();
        let count = query(&pair.primary_url(), "SELECT count(*)::text FROM t");
        assert_eq!(count, ["20"], "{replication:?}: every acknowledged commit survives");
    }
}

#[test]
fn a_proxy_repointed_after_the_failover_reaches_the_new_primary() {
    let (_turn, mut pair) = pair(Replication::Async);
    common::run(async move {
        let primary = std::net::SocketAddr::from(([127, 0, 0, 1], pair.primary_port()));
        let proxy = hasim::proxy::LinkProxy::start(primary).await.unwrap();
        let url = format!("postgres://postgres@{}/postgres", proxy.addr());
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&url)
            .await
            .unwrap();
        let port = |pool| async move {
            let (port,): (i32,) =
                sqlx::query_as("SELECT current_setting('port')::int").fetch_one(pool).await?;
            Ok::<_, sqlx::Error>(port as u16)
        };
        assert_eq!(port(&pool).await.unwrap(), pair.primary_port());
        let pair = tokio::task::spawn_blocking(move || {
            pair.failover().unwrap();
            pair
        })
        .await
        .unwrap();
        proxy.repoint(std::net::SocketAddr::from(([127, 0, 0, 1], pair.primary_port())));
        // The pool's connections to the old primary broke; new ones reach the new.
        let mut reached = None;
        for _ in 0..20 {
            match tokio::time::timeout(Duration::from_secs(5), port(&pool)).await {
                Ok(Ok(p)) => {
                    reached = Some(p);
                    break;
                }
                Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(_) => panic!("a query through the repointed proxy hung"),
            }
        }
        assert_eq!(reached, Some(pair.primary_port()));
        proxy.stop().await;
        tokio::task::spawn_blocking(move || drop(pair)).await.unwrap();
    });
}

#[test]
fn doctor_checks_that_this_host_can_make_a_pair_and_fail_it_over() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out =
        common::hasim(&["doctor", "--plans", "5", "--topology", "primary-standby", "--replication", "sync"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for line in [
        "primary-standby pair (sync replication): PostgreSQL",
        "a commit reached the standby in",
        "failover: the standby took writes",
        "pair stopped and deleted",
    ] {
        assert!(stdout.contains(line), "{line:?} not in:\n{stdout}");
    }
}

#[test]
fn missing_postgres_binaries_are_a_clear_error_saying_what_is_missing() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hasim"))
        .args(["doctor", "--plans", "1", "--topology", "primary-standby"])
        .env("HASIM_PG_BIN", "/nonexistent/bin")
        .output()
        .expect("hasim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("initdb is not in /nonexistent/bin (HASIM_PG_BIN)"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
