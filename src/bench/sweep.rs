//! The sweep: one environment, then each replica count in turn with fresh replicas,
//! hasim and pgbench alternating over the repeats, and one point from the repeats.

use std::collections::BTreeMap;

use super::sampling::{proc_field, sort_by_share};
use super::{
    BenchConfig, BenchEnv, BenchError, BenchReport, Histogram, PgbenchResult, PointResult, RunSpec, Target,
    WaitSample, Workload, pgbench,
};

/// Runs the sweep: one schema (or memory model), the plans, then each replica count in
/// turn, each with fresh replicas. Must run inside an actix `System`.
pub async fn sweep(cfg: &BenchConfig) -> Result<BenchReport, BenchError> {
    sweep_reporting(cfg, |_| {}).await
}

/// [`sweep`], calling `on_point` with each point as soon as it is measured, so a
/// sweep of minutes can show how far it is.
pub async fn sweep_reporting(
    cfg: &BenchConfig,
    on_point: impl FnMut(Measured<'_>),
) -> Result<BenchReport, BenchError> {
    cfg.validate()?;
    if let Some(pg) = &cfg.pgbench {
        pgbench::check_installed(&pg.program)?;
    }
    let max_replicas = cfg.replicas.iter().copied().max().unwrap_or(1);
    let max_plans = cfg.replicas.iter().map(|&r| cfg.plans_at(r)).max().unwrap_or(1);
    let mut env = BenchEnv::create(&cfg.target, max_plans, max_replicas, cfg.threads).await?;
    env.set_pool_settings(cfg.pool);
    let result = sweep_in(&env, cfg, on_point).await;
    let closed = env.close().await;
    let report = result?;
    closed?;
    Ok(report)
}

/// A point just measured, and where the sweep stands.
#[derive(Debug, Clone, Copy)]
pub struct Measured<'a> {
    /// The point.
    pub point: &'a PointResult,
    /// Points measured so far, this one included.
    pub done: usize,
    /// Points in the sweep.
    pub of: usize,
}

async fn sweep_in(
    env: &BenchEnv,
    cfg: &BenchConfig,
    mut on_point: impl FnMut(Measured<'_>),
) -> Result<BenchReport, BenchError> {
    let started_unix =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut points = Vec::with_capacity(cfg.replicas.len());
    for &r in &cfg.replicas {
        // A stop request ([`crate::interrupt`]) leaves the point being measured: the
        // report holds the points finished before it.
        let point = tokio::select! {
            point = measure_point(env, cfg, r) => point?,
            _ = crate::interrupt::wait() => break,
        };
        points.push(point);
        on_point(Measured { point: &points[points.len() - 1], done: points.len(), of: cfg.replicas.len() });
    }
    Ok(BenchReport {
        workload: cfg.workload,
        shape: (cfg.workload == Workload::Hot).then_some(cfg.shape),
        mechanism: cfg.mechanism,
        backend: match cfg.target {
            Target::Postgres { .. } => "postgres".into(),
            Target::Memory => "memory".into(),
        },
        database_url: env.url().map(str::to_owned),
        server_version: env.server_version().await?,
        replication: None,
        schema: env.schema_name().map(str::to_owned),
        stop: cfg.stop,
        threads: cfg.threads,
        repeat: cfg.repeat,
        seed: cfg.seed,
        path: cfg.path,
        pool: cfg.pool,
        started_unix,
        nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        mem_total_kib: proc_field("/proc/meminfo", "MemTotal:").unwrap_or(0),
        interrupted: crate::interrupt::requested().map(|signal| signal.name().to_owned()),
        points,
    })
}

/// One point of the sweep: `r` replicas, every repeat, hasim and pgbench alternating.
async fn measure_point(env: &BenchEnv, cfg: &BenchConfig, r: usize) -> Result<PointResult, BenchError> {
    let spec = RunSpec {
        workload: cfg.workload,
        shape: cfg.shape,
        mechanism: cfg.mechanism,
        plans: cfg.plans_at(r),
        stop: cfg.stop,
        seed: cfg.seed,
        sample_waits: cfg.sample_waits,
    };
    let mut runs = Vec::with_capacity(cfg.repeat);
    let mut pg_runs = Vec::with_capacity(cfg.repeat);
    for rep in 0..cfg.repeat {
        // Alternate which side goes first, so a drifting machine favours neither.
        let pgbench_first = rep % 2 == 1;
        if let (Some(pg), true) = (&cfg.pgbench, pgbench_first) {
            pg_runs.push(env.pgbench(pg, r, &spec).await?);
        }
        let replicas = env.start_replicas(r, cfg.mechanism, cfg.path).await?;
        let run = env.run_measured(&replicas, &spec).await;
        replicas.close().await;
        runs.push(run?);
        if let (Some(pg), false) = (&cfg.pgbench, pgbench_first) {
            pg_runs.push(env.pgbench(pg, r, &spec).await?);
        }
    }
    let point =
        combine(runs, pg_runs).ok_or_else(|| BenchError::Invalid("repeat must be at least 1".into()))?;
    tracing::info!(replicas = r, claims_per_s = point.claims_per_s, ratio = ?point.ratio, "bench point done");
    Ok(point)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One point from its repeats: counts summed, rates the median, latencies merged,
/// wait shares averaged (`None` without a run).
fn combine(runs: Vec<(PointResult, Histogram)>, pg_runs: Vec<PgbenchResult>) -> Option<PointResult> {
    let rates: Vec<f64> = runs.iter().map(|(p, _)| p.claims_per_s).collect();
    let win_rates: Vec<f64> = runs.iter().map(|(p, _)| p.winners_per_s).collect();
    let tps: Vec<f64> = pg_runs.iter().map(|p| p.tps).collect();
    let run_ratios: Vec<f64> =
        rates.iter().zip(&tps).filter(|(_, t)| **t > 0.0).map(|(h, t)| h / t).collect();
    let n = runs.len().max(1) as f64;
    let mut hist = Histogram::new();
    let mut waits: BTreeMap<String, f64> = BTreeMap::new();
    let mut point: Option<PointResult> = None;
    for (p, h) in runs {
        hist.merge(&h);
        for w in &p.waits {
            *waits.entry(w.what.clone()).or_default() += w.share / n;
        }
        let Some(sum) = &mut point else {
            point = Some(p);
            continue;
        };
        sum.claims += p.claims;
        sum.wins += p.wins;
        sum.errors += p.errors;
        sum.first_error = sum.first_error.take().or(p.first_error);
        sum.rounds = match (sum.rounds, p.rounds) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        sum.empty_rounds += p.empty_rounds;
        sum.duplicates += p.duplicates;
        sum.resets_found += p.resets_found;
        sum.resets_missed += p.resets_missed;
        sum.rows_left += p.rows_left;
        sum.elapsed_s += p.elapsed_s;
        sum.client_cpu_us_per_claim += p.client_cpu_us_per_claim;
        sum.rss_kib_after = p.rss_kib_after;
        if let (Some(mine), Some(theirs)) = (&mut sum.outbox, &p.outbox) {
            mine.add(theirs);
        }
    }
    let mut point = point?;
    point.client_cpu_us_per_claim /= n;
    point.claims_per_s = median(&rates);
    point.winners_per_s = median(&win_rates);
    point.latency = hist.summary();
    let mut waits: Vec<WaitSample> =
        waits.into_iter().map(|(what, share)| WaitSample { what, share }).collect();
    sort_by_share(&mut waits);
    point.waits = waits;
    if rates.len() > 1 {
        point.runs_claims_per_s = rates;
    }
    let pg_wins: Vec<f64> = pg_runs.iter().filter_map(|p| p.winners_per_s).collect();
    let mid = median(&tps);
    if let Some(best) = pg_runs.iter().min_by(|a, b| (a.tps - mid).abs().total_cmp(&(b.tps - mid).abs())) {
        let mut best = best.clone();
        best.tps = mid;
        best.winners_per_s = (pg_wins.len() == pg_runs.len()).then(|| median(&pg_wins));
        point.ratio = (!run_ratios.is_empty()).then(|| median(&run_ratios));
        if tps.len() > 1 {
            point.pgbench_runs_tps = tps;
            point.run_ratios = run_ratios;
        }
        point.pgbench = Some(best);
    }
    Some(point)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
