//! `hasim doctor`: whether the Postgres server (and the binaries a primary-standby
//! pair is made from) can run hasim's scenarios, printed.

use std::process::ExitCode;

use anyhow::Context;

/// `hasim doctor --topology primary-standby`: the pair's check, printed.
pub(super) fn doctor_pair(replication: crate::topology::Replication) -> anyhow::Result<()> {
    let report = crate::topology::check(replication).context("the primary-standby pair check failed")?;
    let user = if report.as_postgres_user { " (run as the postgres user)" } else { "" };
    println!("Postgres binaries: {}{user}", report.binaries.display());
    println!("primary-standby pair ({} replication): {}", replication.as_str(), report.server_version);
    println!("pair made and streaming in {}", crate::lag::human(report.started));
    println!("a commit reached the standby in {}", crate::lag::human(report.replicated));
    println!(
        "failover: the standby took writes {} after the primary died",
        crate::lag::human(report.failover)
    );
    println!("pair stopped and deleted");
    Ok(())
}

pub(super) fn doctor(url: &str, keep_schema: bool, replicas: u16, plans: u32) -> anyhow::Result<ExitCode> {
    let report = actix::System::new()
        .block_on(crate::doctor::doctor(url, replicas.into(), plans as usize, keep_schema))
        .context("the Postgres check failed")?;
    println!("Postgres at {}: {}", report.url, report.server_version);
    println!("schema {} created and migrated", report.schema);
    println!(
        "{} replicas raced for {} plans: {} winners, {} duplicates",
        report.replicas,
        report.plans,
        report.winners,
        report.winners.saturating_sub(report.plans)
    );
    if report.kept {
        println!("schema {} kept (drop it with: DROP SCHEMA {} CASCADE)", report.schema, report.schema);
    } else {
        println!("schema dropped");
    }
    Ok(if report.winners == report.plans { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
