//! pgbench beside hasim: scripts with the same statements as the racers send, run with
//! the same number of clients (`-c R -j 2 -M prepared`) on the same schema.
//!
//! pgbench has no barrier, so `hot` cannot be played in rounds there. Its mirror runs
//! the rounds' statement mix instead: per R transactions, R-1 claims of the hot plan
//! and one reset followed by a claim (two scripts weighted R-1 and 1). Every
//! transaction holds exactly one claim, so pgbench's transactions/s compare with
//! hasim's claims/s in every workload.

use std::path::PathBuf;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::mechanism::{ADVISORY_LOCK, INSERT_IF_ABSENT, Mechanism, ON_CONFLICT_CLAIM, PLAN_LOCK, RESET};
use super::runner::{PlanRange, WaitSample};
use super::{BenchError, Stop, Workload};

/// The event every bench claim is for, as pgbench spells it (it cannot bind text).
const EVENT_LITERAL: &str = "'PIPELINE_FAILED'";

/// One pgbench script and its weight (`-f file@weight`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgbenchScript {
    /// A short name (`claim`, `reset-claim`...).
    pub name: String,
    /// Its weight.
    pub weight: u32,
    /// The script.
    pub text: String,
}

/// What pgbench measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgbenchResult {
    /// Transactions (= claims) per second, without the initial connection time.
    pub tps: f64,
    /// Transactions processed.
    pub transactions: u64,
    /// Transactions that failed.
    pub failed: u64,
    /// pgbench's average latency, in milliseconds.
    pub latency_avg_ms: Option<f64>,
    /// The command line (the URL without any password).
    pub command: String,
    /// The scripts it ran.
    pub scripts: Vec<PgbenchScript>,
    /// Where its server backends spent their time (sampled).
    pub waits: Vec<WaitSample>,
}

/// A statement of [`super::mechanism`] in pgbench's spelling: `$1` is the plan `:p`,
/// `$2` the event.
fn pgbench_sql(sql: &str) -> String {
    sql.replace("$1", ":p").replace("$2", EVENT_LITERAL)
}

/// The claim of `mechanism`, leaving `won_plan_id` set when it won.
fn claim_block(mechanism: Mechanism) -> String {
    match mechanism {
        Mechanism::OnConflict => format!("{} \\aset won_\n", pgbench_sql(ON_CONFLICT_CLAIM)),
        Mechanism::Advisory => format!(
            "BEGIN;\n{} \\gset\n\\if :got = 1\n{} \\aset won_\n\\endif\nCOMMIT;\n",
            pgbench_sql(ADVISORY_LOCK),
            pgbench_sql(INSERT_IF_ABSENT)
        ),
        Mechanism::ForUpdate => format!(
            "BEGIN;\n{};\n{} \\aset won_\nCOMMIT;\n",
            pgbench_sql(PLAN_LOCK),
            pgbench_sql(INSERT_IF_ABSENT)
        ),
    }
}

/// The scripts that mirror `workload` with `replicas` clients on `plans`.
pub fn scripts(
    workload: Workload,
    mechanism: Mechanism,
    plans: PlanRange,
    replicas: usize,
) -> Result<Vec<PgbenchScript>, BenchError> {
    let reset = format!("{};\n", pgbench_sql(RESET));
    let claim = claim_block(mechanism);
    let random_plan = if plans.count == 1 {
        format!("\\set p {}\n", plans.first)
    } else {
        format!("\\set p random({}, {})\n", plans.first, plans.last())
    };
    let script = |name: &str, weight: u32, text: String| PgbenchScript { name: name.into(), weight, text };
    Ok(match workload {
        Workload::Hot => {
            let mut list = vec![script("reset-claim", 1, format!("{random_plan}{reset}{claim}"))];
            if replicas > 1 {
                list.insert(0, script("claim", replicas as u32 - 1, format!("{random_plan}{claim}")));
            }
            list
        }
        Workload::Spread => vec![script("claim", 1, format!("{random_plan}{claim}"))],
        Workload::Cycle => {
            let plan = format!("\\set p {} + :client_id % {}\n", plans.first, plans.count);
            let text = format!("\\set won_plan_id 0\n{plan}{claim}\\if :won_plan_id > 0\n{reset}\\endif\n");
            vec![script("claim-reset-if-won", 1, text)]
        }
        Workload::Outbox => {
            return Err(BenchError::Invalid("the outbox workload is not available yet".into()));
        }
    })
}

/// Fails with [`BenchError::PgbenchMissing`] unless `program --version` runs.
pub fn check_installed(program: &std::path::Path) -> Result<(), BenchError> {
    match Command::new(program).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(BenchError::Pgbench(format!(
            "`{} --version` failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
        Err(_) => Err(BenchError::PgbenchMissing { program: program.display().to_string() }),
    }
}

/// One pgbench invocation.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub program: PathBuf,
    pub url: String,
    pub shown_url: String,
    pub schema: String,
    pub clients: usize,
    pub threads: usize,
    pub stop: Stop,
    pub seed: u64,
    pub scripts: Vec<PgbenchScript>,
}

/// Writes the scripts, runs pgbench (blocking) and parses what it printed.
pub(crate) fn run(job: &Job) -> Result<PgbenchResult, BenchError> {
    let dir = std::env::temp_dir().join(format!("{}-pgbench-{}", job.schema, std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|source| BenchError::Io { what: format!("creating {}", dir.display()), source })?;
    let result = run_in(job, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(job: &Job, dir: &std::path::Path) -> Result<PgbenchResult, BenchError> {
    let mut args: Vec<String> = vec![
        "-n".into(),
        "-c".into(),
        job.clients.to_string(),
        "-j".into(),
        job.threads.to_string(),
        "-M".into(),
        "prepared".into(),
    ];
    match job.stop {
        Stop::Duration(d) => {
            args.push("-T".into());
            args.push((d.as_secs_f64().ceil() as u64).max(1).to_string());
        }
        Stop::ClaimsPerReplica(n) => {
            args.push("-t".into());
            args.push(n.to_string());
        }
    }
    args.push(format!("--random-seed={}", job.seed));
    for script in &job.scripts {
        let path = dir.join(format!("{}.sql", script.name));
        std::fs::write(&path, &script.text)
            .map_err(|source| BenchError::Io { what: format!("writing {}", path.display()), source })?;
        args.push("-f".into());
        args.push(format!("{}@{}", path.display(), script.weight));
    }
    let command = format!(
        "PGOPTIONS='-c search_path={}' {} {} {}",
        job.schema,
        job.program.display(),
        args.join(" "),
        job.shown_url
    );
    let out = Command::new(&job.program)
        .args(&args)
        .arg(&job.url)
        .env("PGOPTIONS", format!("-c search_path={}", job.schema))
        .env("PGAPPNAME", format!("{}/pgbench", job.schema))
        .output()
        .map_err(|_| BenchError::PgbenchMissing { program: job.program.display().to_string() })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(BenchError::Pgbench(format!(
            "{command}\n  exited with {}:\n  {}",
            out.status,
            tail.join("\n  ")
        )));
    }
    let mut parsed = parse(&stdout)
        .ok_or_else(|| BenchError::Pgbench(format!("{command}\n  printed no tps line:\n{stdout}")))?;
    parsed.command = command;
    parsed.scripts = job.scripts.clone();
    Ok(parsed)
}

/// Reads pgbench's summary: `tps = ... (without initial connection time)`, the
/// transactions processed, failed, and the average latency.
pub fn parse(stdout: &str) -> Option<PgbenchResult> {
    let number = |prefix: &str| -> Option<f64> {
        let line = stdout.lines().find(|l| l.trim_start().starts_with(prefix))?;
        line.trim_start()[prefix.len()..].split_whitespace().next()?.parse().ok()
    };
    let tps = stdout
        .lines()
        .filter(|l| l.starts_with("tps = "))
        .find(|l| l.contains("without initial connection time") || l.contains("excluding connections"))
        .or_else(|| stdout.lines().find(|l| l.starts_with("tps = ")))?;
    let tps: f64 = tps["tps = ".len()..].split_whitespace().next()?.parse().ok()?;
    Some(PgbenchResult {
        tps,
        transactions: number("number of transactions actually processed:").unwrap_or(0.0) as u64,
        failed: number("number of failed transactions:").unwrap_or(0.0) as u64,
        latency_avg_ms: number("latency average ="),
        command: String::new(),
        scripts: Vec::new(),
        waits: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT_15: &str = "pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: multiple scripts
scaling factor: 1
query mode: prepared
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 221170
number of failed transactions: 0 (0.000%)
latency average = 0.090 ms
initial connection time = 7.706 ms
tps = 44241.378459 (without initial connection time)
";

    #[test]
    fn reads_the_summary_of_pgbench_15() {
        let r = parse(OUTPUT_15).unwrap();
        assert_eq!(r.tps, 44241.378459);
        assert_eq!(r.transactions, 221170);
        assert_eq!(r.failed, 0);
        assert_eq!(r.latency_avg_ms, Some(0.090));
    }

    #[test]
    fn no_tps_line_is_no_result() {
        assert!(parse("pgbench: error: connection failed\n").is_none());
    }

    #[test]
    fn scripts_use_the_racers_statements() {
        let plans = PlanRange { first: 7, count: 1 };
        let hot = scripts(Workload::Hot, Mechanism::OnConflict, plans, 4).unwrap();
        assert_eq!(
            hot.iter().map(|s| (s.name.as_str(), s.weight)).collect::<Vec<_>>(),
            [("claim", 3), ("reset-claim", 1)]
        );
        assert!(hot[0].text.starts_with("\\set p 7\nINSERT INTO plan_webhook_delivery"));
        assert!(hot[0].text.contains("VALUES (:p, 'PIPELINE_FAILED') ON CONFLICT (plan_id) DO NOTHING"));
        assert!(hot[1].text.contains("DELETE FROM plan_webhook_delivery WHERE plan_id = :p"));
        assert_eq!(scripts(Workload::Hot, Mechanism::OnConflict, plans, 1).unwrap().len(), 1);

        let spread =
            scripts(Workload::Spread, Mechanism::Advisory, PlanRange { first: 10, count: 100 }, 2).unwrap();
        assert!(spread[0].text.contains("\\set p random(10, 109)"));
        assert!(spread[0].text.contains(
            "SELECT pg_try_advisory_xact_lock(hashtext(current_schema()), :p::int)::int AS got \\gset"
        ));
        assert!(spread[0].text.contains("WHERE plan_id = :p::bigint) RETURNING plan_id \\aset won_"));

        let cycle =
            scripts(Workload::Cycle, Mechanism::ForUpdate, PlanRange { first: 3, count: 8 }, 8).unwrap();
        assert!(cycle[0].text.contains("\\set p 3 + :client_id % 8"));
        assert!(cycle[0].text.contains("SELECT id FROM plan WHERE id = :p FOR UPDATE;"));
        assert!(cycle[0].text.contains("\\if :won_plan_id > 0\nDELETE FROM plan_webhook_delivery"));
        assert!(!spread[0].text.contains("DELETE"), "spread keeps what it wins");
        assert!(scripts(Workload::Outbox, Mechanism::OnConflict, plans, 1).is_err());
    }
}
