//! Renders a [`BenchReport`]: the terminal table and CSV here, the SVG chart in
//! [`svg`].

mod svg;

use std::fmt::Write as _;

pub use svg::svg;

use super::{BenchReport, ClaimPath, Stop, WaitSample, Workload};

/// What a workload's measurements are called.
struct Labels {
    /// The operations a replica sends, per second.
    ops: &'static str,
    /// The ones that won (delivered), per second.
    wins: &'static str,
    /// P.
    plans: &'static str,
    /// The latency panel's title.
    latency: &'static str,
}

impl Labels {
    fn of(workload: Workload) -> Labels {
        match workload {
            Workload::Outbox => {
                Labels { ops: "steps/s", wins: "delivered/s", plans: "rows", latency: "Relay step latency" }
            }
            _ => Labels { ops: "claims/s", wins: "winners/s", plans: "plans", latency: "Claim latency" },
        }
    }
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1e3)
}

/// The lines above the table: what ran, where, and how replicas reached the server.
fn heading(report: &BenchReport, out: &mut String) {
    let per_point = match report.stop {
        Stop::Duration(d) => format!("{:?} per point", d),
        Stop::ClaimsPerReplica(n) => format!("{n} operations per replica per point"),
    };
    let per_point = if report.repeat > 1 {
        format!("{per_point}, {} runs each (rates and ratio are medians)", report.repeat)
    } else {
        per_point
    };
    let mut server =
        report.server_version.as_deref().map(short_version).unwrap_or_else(|| "in-process model".into());
    if let Some(replication) = report.replication {
        server = format!("{server}, a primary-standby pair with {} replication", replication.as_str());
    }
    let what = match (report.workload, report.shape) {
        (Workload::Outbox, _) => "outbox (relays lease one row at a time, SKIP LOCKED)".to_owned(),
        (w, Some(shape)) => format!("{w}, {shape} (mechanism {})", report.mechanism),
        (w, None) => format!("{w} (mechanism {})", report.mechanism),
    };
    let _ = writeln!(
        out,
        "hasim bench {what} on {} [{server}], {per_point}, {} client threads, seed {}",
        report.backend, report.threads, report.seed
    );
    out.push_str(match (report.backend.as_str(), report.path) {
        ("memory", path) if path.through_actors() => "path: each replica's store actor, on the memory model\n",
        ("memory", _) => "path: store calls on the memory model, bypassing the actors\n",
        (_, ClaimPath::Actor) => "path: each replica's store actor, holding one connection of its pool\n",
        (_, ClaimPath::ActorPool) => {
            "path: each replica's store actor, a connection from its pool per operation, as in scenario runs (--path actor-pool)\n"
        }
        (_, ClaimPath::Pool) => "path: store calls on each replica's pool, bypassing the actors (--path pool)\n",
        (_, ClaimPath::Connection) => {
            "path: store calls on one connection each replica holds, bypassing the actors (--path connection)\n"
        }
    });
    if report.backend == "postgres" {
        let use_ = if report.path.holds_connection() {
            "one held for the whole run (replaced if it breaks)"
        } else if report.pool.ping_on_acquire {
            "ping before each use (as RunSchema::pool)"
        } else {
            "no ping before use (--no-acquire-ping)"
        };
        let _ = writeln!(out, "replica pools: {} connection(s), {use_}", report.pool.connections);
    }
}

/// The table `hasim bench` prints: one row per replica count, then totals, outbox
/// accounting and where the server's backends spent their time.
pub fn table(report: &BenchReport) -> String {
    let mut out = String::new();
    heading(report, &mut out);
    let names = Labels::of(report.workload);
    let with_pgbench = report.points.iter().any(|p| p.pgbench.is_some());
    let _ = write!(
        out,
        "{:>8} {:>7} {:>10} {:>11} {:>8} {:>8} {:>8} {:>8} {:>5} {:>6} {:>7}",
        "replicas",
        names.plans,
        names.ops,
        names.wins,
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "dups",
        "errors",
        "cpu us"
    );
    if with_pgbench {
        let _ = write!(out, " {:>11} {:>14} {:>6}", "pgbench tps", format!("pg {}", names.wins), "ratio");
    }
    out.push('\n');
    for p in &report.points {
        let _ = write!(
            out,
            "{:>8} {:>7} {:>10.1} {:>11.1} {:>8} {:>8} {:>8} {:>8} {:>5} {:>6} {:>7.1}",
            p.replicas,
            p.plans,
            p.claims_per_s,
            p.winners_per_s,
            ms(p.latency.p50_us),
            ms(p.latency.p95_us),
            ms(p.latency.p99_us),
            ms(p.latency.max_us),
            p.duplicates,
            p.errors,
            p.client_cpu_us_per_claim
        );
        if with_pgbench {
            match (&p.pgbench, p.ratio) {
                (Some(pg), Some(ratio)) => {
                    let wins = pg.winners_per_s.map(|w| format!("{w:.1}")).unwrap_or_else(|| "-".into());
                    let _ = write!(out, " {:>11.1} {:>14} {:>5.2}x", pg.tps, wins, ratio);
                }
                _ => {
                    let _ = write!(out, " {:>11} {:>14} {:>6}", "-", "-", "-");
                }
            }
        }
        out.push('\n');
    }
    let ops: u64 = report.points.iter().map(|p| p.claims).sum();
    let wins: u64 = report.points.iter().map(|p| p.wins).sum();
    let resets: u64 = report.points.iter().map(|p| p.resets_found + p.resets_missed).sum();
    let errors: u64 = report.points.iter().map(|p| p.errors).sum();
    let dups = report.duplicates();
    let _ = match report.workload {
        Workload::Outbox => writeln!(
            out,
            "total: {ops} relay steps, {wins} rows delivered, {dups} duplicate deliveries, {errors} errors"
        ),
        Workload::Spread => {
            writeln!(out, "total: {ops} claims, {wins} winners, {dups} duplicate winners, {errors} errors")
        }
        _ => writeln!(
            out,
            "total: {ops} claims, {wins} winners, {resets} resets, {dups} duplicate winners, {errors} errors"
        ),
    };
    for p in report.points.iter().filter(|p| p.first_error.is_some()) {
        let _ = writeln!(
            out,
            "first error at {} replicas: {}",
            p.replicas,
            p.first_error.as_deref().unwrap_or("")
        );
    }
    if report.workload == Workload::Outbox {
        outbox_lines(report, &mut out);
    }
    if report.points.iter().any(|p| !p.waits.is_empty()) {
        out.push_str("server backends, sampled (share of samples):\n");
        for p in &report.points {
            let _ = writeln!(out, "  r={:<3} hasim:   {}", p.replicas, waits_line(&p.waits));
            if let Some(pg) = &p.pgbench {
                let _ = writeln!(out, "  r={:<3} pgbench: {}", p.replicas, waits_line(&pg.waits));
            }
        }
    }
    out
}

/// Per point, the outbox as the relays and the table count it, and whether a run
/// drained the table (its rate is then a floor, not a measure).
fn outbox_lines(report: &BenchReport, out: &mut String) {
    out.push_str("outbox rows (all runs of a point):\n");
    for p in &report.points {
        let Some(o) = &p.outbox else { continue };
        let _ = write!(
            out,
            "  r={:<3} hasim:   {} leased, {} delivered (table: {}), {} leased twice, {} pending left",
            p.replicas, o.leased, p.wins, o.after.delivered, o.after.leased_twice, o.after.pending
        );
        if o.empty_leases > 0 {
            out.push_str(", RAN DRY: raise --plans");
        }
        out.push('\n');
        if let Some(after) = p.pgbench.as_ref().and_then(|pg| pg.outbox) {
            let _ = write!(
                out,
                "  r={:<3} pgbench: {} delivered, {} leased twice, {} pending left",
                p.replicas, after.delivered, after.leased_twice, after.pending
            );
            if after.pending == 0 {
                out.push_str(", RAN DRY (its tps counts empty leases): raise --plans");
            }
            out.push('\n');
        }
    }
}

fn waits_line(waits: &[WaitSample]) -> String {
    let shown: Vec<String> =
        waits.iter().take(5).map(|w| format!("{} {:.0}%", w.what, w.share * 100.0)).collect();
    if shown.is_empty() { "-".into() } else { shown.join(", ") }
}

/// "PostgreSQL 15.20 (Debian ...) on x86_64..." -> "PostgreSQL 15.20".
fn short_version(v: &str) -> String {
    v.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// One CSV row per point, with a header.
pub fn csv(report: &BenchReport) -> String {
    let mut out = String::from(
        "workload,mechanism,backend,replicas,plans,claims,wins,errors,duplicates,rounds,elapsed_s,\
         claims_per_s,winners_per_s,p50_us,p95_us,p99_us,max_us,mean_us,client_cpu_us_per_claim,\
         rss_kib_before,rss_kib_after,load_before,pgbench_tps,ratio,path,outbox_leased,outbox_pending_after,shape,\
         pgbench_winners_per_s\n",
    );
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
    let count = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for p in &report.points {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{:.3},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{},{},{:.2},{},{},{},{},{},{},{}",
            report.workload,
            report.mechanism,
            report.backend,
            p.replicas,
            p.plans,
            p.claims,
            p.wins,
            p.errors,
            p.duplicates,
            count(p.rounds),
            p.elapsed_s,
            p.claims_per_s,
            p.winners_per_s,
            p.latency.p50_us,
            p.latency.p95_us,
            p.latency.p99_us,
            p.latency.max_us,
            p.latency.mean_us,
            p.client_cpu_us_per_claim,
            p.rss_kib_before,
            p.rss_kib_after,
            p.load_before,
            opt(p.pgbench.as_ref().map(|pg| pg.tps)),
            opt(p.ratio),
            p.path.name(),
            count(p.outbox.map(|o| o.leased)),
            count(p.outbox.map(|o| o.after.pending)),
            report.shape.map(|s| s.name()).unwrap_or_default(),
            opt(p.pgbench.as_ref().and_then(|pg| pg.winners_per_s)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_shorten_to_name_and_number() {
        assert_eq!(short_version("PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64"), "PostgreSQL 15.20");
    }

    #[test]
    fn the_outbox_names_its_columns_for_what_relays_do() {
        let outbox = Labels::of(Workload::Outbox);
        assert_eq!((outbox.ops, outbox.wins, outbox.plans), ("steps/s", "delivered/s", "rows"));
        assert_eq!(Labels::of(Workload::Hot).wins, "winners/s");
    }
}
