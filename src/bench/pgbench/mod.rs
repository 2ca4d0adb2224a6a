//! pgbench beside hasim: the scripts of [`scripts`] run with as many clients as
//! hasim has replicas (`-c R -j 2 -M prepared`), on the same schema, settled the same
//! way before each run.

mod scripts;
mod wins;

use std::path::PathBuf;
use std::process::Command;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

pub use scripts::{PgbenchScript, scripts};

use super::env::EnvBackend;
use super::{BenchEnv, BenchError, OutboxRows, PgbenchOptions, RunSpec, Stop, WaitSample, Workload};
use crate::Error;
use crate::store::redact_url;

/// What pgbench measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgbenchResult {
    /// Transactions (= claims) per second, without the initial connection time.
    pub tps: f64,
    /// Transactions processed.
    pub transactions: u64,
    /// Transactions that failed.
    pub failed: u64,
    /// Claims that won (rows the claim table's insert counter gained during the run;
    /// `None` for `outbox`, or when the server's statistics did not settle).
    #[serde(default)]
    pub wins: Option<u64>,
    /// Wins per second, over the time `tps` counts (with repeats, the median of the
    /// runs').
    #[serde(default)]
    pub winners_per_s: Option<f64>,
    /// pgbench's average latency, in milliseconds.
    pub latency_avg_ms: Option<f64>,
    /// The command line (the URL without any password).
    pub command: String,
    /// The scripts it ran.
    pub scripts: Vec<PgbenchScript>,
    /// Where its server backends spent their time (sampled).
    pub waits: Vec<WaitSample>,
    /// `outbox`: the table after the run.
    #[serde(default)]
    pub outbox: Option<OutboxRows>,
}

impl BenchEnv {
    /// Runs pgbench on the statements `spec` runs, with `replicas` clients, on this
    /// schema, settled as before a hasim run.
    pub async fn pgbench(
        &self,
        options: &PgbenchOptions,
        replicas: usize,
        spec: &RunSpec,
    ) -> Result<PgbenchResult, BenchError> {
        let EnvBackend::Postgres { url, schema, admin } = &self.backend else {
            return Err(BenchError::Invalid("pgbench needs Postgres".into()));
        };
        let plans = self.plans_for(spec)?;
        let lease = super::outbox::lease_for(spec.stop);
        let scripts = scripts(spec.workload, spec.shape, spec.mechanism, plans, replicas, lease);
        self.clean(spec.workload, plans).await?;
        let claims = spec.workload != Workload::Outbox;
        let before = if claims { wins::settled_inserts(admin, schema.name()).await? } else { None };
        let sampler = self.sampler("pgbench", spec.sample_waits);
        let job = Job {
            program: options.program.clone(),
            url: url.clone(),
            shown_url: redact_url(url),
            schema: schema.name().to_owned(),
            clients: replicas,
            threads: options.threads.clamp(1, replicas.max(1)),
            stop: spec.stop,
            seed: spec.seed,
            scripts,
        };
        let (tx, rx) = oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(run(&job));
        });
        let result = rx.await.map_err(|_| Error::ActorGone("pgbench runner"));
        let waits = match sampler {
            Some(s) => s.finish().await,
            None => Vec::new(),
        };
        let mut result = result??;
        result.waits = waits;
        if spec.workload == Workload::Outbox {
            result.outbox = Some(super::outbox::rows(admin).await?);
        }
        if let Some(before) = before {
            let after = wins::settled_inserts(admin, schema.name()).await?;
            result.wins = after.map(|after| after.saturating_sub(before));
            let seconds = result.transactions as f64 / result.tps;
            result.winners_per_s =
                result.wins.filter(|_| seconds.is_finite() && seconds > 0.0).map(|w| w as f64 / seconds);
        }
        Ok(result)
    }
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
struct Job {
    program: PathBuf,
    url: String,
    shown_url: String,
    schema: String,
    clients: usize,
    threads: usize,
    stop: Stop,
    seed: u64,
    scripts: Vec<PgbenchScript>,
}

/// Writes the scripts, runs pgbench (blocking) and parses what it printed.
fn run(job: &Job) -> Result<PgbenchResult, BenchError> {
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
        wins: None,
        winners_per_s: None,
        latency_avg_ms: number("latency average ="),
        command: String::new(),
        scripts: Vec::new(),
        waits: Vec::new(),
        outbox: None,
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
}
