//! `hasim gc`: the run schemas left on a server, listed with their age, and dropped
//! with `--drop` (only those older than `--older-than`, and never one a run still
//! has connections on); and the primary-standby pairs left on this host by a
//! process killed outright, stopped and deleted with `--drop` (never one whose
//! process still runs).
//!
//! ```text
//! hasim gc [--database-url URL] [--drop] [--older-than 1h] [NAME...]
//! ```

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use crate::Result;
use crate::store::{LeftSchema, drop_left, left_schemas};
use crate::topology::{LeftPair, drop_pair, left_pairs};

/// List (and drop) the run schemas left on a Postgres server.
#[derive(Debug, Clone, clap::Args)]
pub struct GcArgs {
    /// Only these schemas and pairs (names as listed); default: every one.
    #[arg(value_name = "NAME")]
    pub schemas: Vec<String>,
    /// Drop the schemas listed (those no run is connected to), and stop and delete
    /// the pairs listed (those whose process is gone).
    #[arg(long)]
    pub drop: bool,
    /// Only schemas at least this old: 90s, 30m, 1h (a schema of unknown age is never
    /// old enough).
    #[arg(long, value_name = "AGE", value_parser = crate::bench::cli::parse_duration)]
    pub older_than: Option<Duration>,
    /// The server.
    #[command(flatten)]
    pub database: crate::args::DatabaseArgs,
}

/// What `hasim gc` found and did.
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    /// Every schema listed, with what became of it.
    pub schemas: Vec<(LeftSchema, Fate)>,
    /// Every primary-standby pair listed, with what became of it.
    pub pairs: Vec<(LeftPair, Fate)>,
}

/// What became of a listed schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Listed only (no --drop).
    Listed,
    /// Dropped (a pair: its servers stopped, its directory deleted).
    Dropped,
    /// Kept: a run is still connected to it (a pair: its process still runs).
    InUse,
    /// Kept: younger than --older-than (or of unknown age).
    TooYoung,
    /// Dropping it failed.
    Failed(String),
}

impl GcArgs {
    /// The server: `--database-url` / `DATABASE_URL` (not empty), else the local one.
    pub fn url(&self) -> String {
        self.database.postgres_url()
    }
}

/// Runs `hasim gc` in an actix system of its own (call it from a plain thread, not
/// from inside a runtime).
pub fn gc(args: &GcArgs) -> Result<GcReport> {
    actix::System::new().block_on(gc_async(args, SystemTime::now()))
}

async fn gc_async(args: &GcArgs, now: SystemTime) -> Result<GcReport> {
    let url = args.url();
    let mut report = GcReport::default();
    for schema in left_schemas(&url).await? {
        if !args.schemas.is_empty() && !args.schemas.contains(&schema.name) {
            continue;
        }
        let old_enough = args.older_than.is_none_or(|min| schema.age(now).is_some_and(|age| age >= min));
        let fate = match (args.drop, schema.in_use(), old_enough) {
            (false, _, _) => Fate::Listed,
            (true, true, _) => Fate::InUse,
            (true, false, false) => Fate::TooYoung,
            (true, false, true) => match drop_left(&url, &schema.name).await {
                Ok(()) => Fate::Dropped,
                Err(e) => Fate::Failed(e.to_string()),
            },
        };
        report.schemas.push((schema, fate));
    }
    for pair in left_pairs() {
        if !args.schemas.is_empty() && !args.schemas.contains(&pair.name()) {
            continue;
        }
        let old_enough = args.older_than.is_none_or(|min| pair.age(now).is_some_and(|age| age >= min));
        let fate = match (args.drop, pair.in_use(), old_enough) {
            (false, _, _) => Fate::Listed,
            (true, true, _) => Fate::InUse,
            (true, false, false) => Fate::TooYoung,
            (true, false, true) => {
                let dropping = pair.clone();
                match tokio::task::spawn_blocking(move || drop_pair(&dropping)).await {
                    Ok(Ok(())) => Fate::Dropped,
                    Ok(Err(e)) => Fate::Failed(e.to_string()),
                    Err(e) => Fate::Failed(e.to_string()),
                }
            }
        };
        report.pairs.push((pair, fate));
    }
    Ok(report)
}

impl GcReport {
    /// The report for people: a line per schema, then a count.
    pub fn text(&self, now: SystemTime) -> String {
        let mut out = String::new();
        for (schema, fate) in &self.schemas {
            let age =
                schema.age(now).map_or_else(|| "age unknown".to_owned(), |a| format!("{} old", human(a)));
            let state = match fate {
                Fate::Listed if schema.in_use() => format!("in use ({} connections)", schema.backends),
                Fate::Listed => "left".to_owned(),
                Fate::Dropped => "dropped".to_owned(),
                Fate::InUse => format!("kept: in use ({} connections)", schema.backends),
                Fate::TooYoung => "kept: younger than --older-than".to_owned(),
                Fate::Failed(e) => format!("NOT dropped: {e}"),
            };
            let _ = writeln!(out, "{}  {age}  {state}", schema.name);
        }
        let dropped = self.schemas.iter().filter(|(_, f)| *f == Fate::Dropped).count();
        let _ = write!(
            out,
            "{} run schema{}",
            self.schemas.len(),
            if self.schemas.len() == 1 { "" } else { "s" }
        );
        if self.schemas.iter().any(|(_, f)| *f != Fate::Listed) {
            let _ = write!(out, ", {dropped} dropped");
        } else if !self.schemas.is_empty() {
            let _ = write!(out, " (hasim gc --drop drops those no run uses)");
        }
        out.push('\n');
        if !self.pairs.is_empty() {
            out.push_str(&self.pairs_text(now));
        }
        out
    }

    /// The pairs' part of the report: a line per pair, then a count.
    fn pairs_text(&self, now: SystemTime) -> String {
        let mut out = String::new();
        for (pair, fate) in &self.pairs {
            let age = pair.age(now).map_or_else(|| "age unknown".to_owned(), |a| format!("{} old", human(a)));
            let owner = pair.owner;
            let state = match fate {
                Fate::Listed if pair.in_use() => format!("in use (process {owner} runs)"),
                Fate::Listed => format!("left (process {owner} is gone)"),
                Fate::Dropped => "stopped and deleted".to_owned(),
                Fate::InUse => format!("kept: in use (process {owner} runs)"),
                Fate::TooYoung => "kept: younger than --older-than".to_owned(),
                Fate::Failed(e) => format!("NOT deleted: {e}"),
            };
            let _ = writeln!(out, "{}  {age}  {state}", pair.dir.display());
        }
        let dropped = self.pairs.iter().filter(|(_, f)| *f == Fate::Dropped).count();
        let n = self.pairs.len();
        let _ = write!(out, "{n} primary-standby pair{}", if n == 1 { "" } else { "s" });
        if self.pairs.iter().any(|(_, f)| *f != Fate::Listed) {
            let _ = write!(out, ", {dropped} stopped and deleted");
        }
        out.push('\n');
        out
    }

    /// Whether any drop failed.
    pub fn failed(&self) -> bool {
        let fates = self.schemas.iter().map(|(_, f)| f).chain(self.pairs.iter().map(|(_, f)| f));
        fates.into_iter().any(|f| matches!(f, Fate::Failed(_)))
    }
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_units() {
        assert_eq!(human(Duration::from_secs(12)), "12s");
        assert_eq!(human(Duration::from_secs(250)), "4m 10s");
        assert_eq!(human(Duration::from_secs(7500)), "2h 5m");
        assert_eq!(human(Duration::from_secs(3 * 86_400 + 4 * 3600)), "3d 4h");
    }

    #[test]
    fn the_report_says_what_became_of_each_schema() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        let created = Some(now - Duration::from_secs(7500));
        let left = |name: &str, backends| LeftSchema { name: name.into(), created, backends };
        let report = GcReport {
            schemas: vec![
                (left("hasim_a", 0), Fate::Dropped),
                (left("hasim_b", 3), Fate::InUse),
                (LeftSchema { created: None, ..left("hasim_c", 0) }, Fate::TooYoung),
            ],
            pairs: Vec::new(),
        };
        let text = report.text(now);
        assert_eq!(
            text,
            "hasim_a  2h 5m old  dropped\n\
             hasim_b  2h 5m old  kept: in use (3 connections)\n\
             hasim_c  age unknown  kept: younger than --older-than\n\
             3 run schemas, 1 dropped\n"
        );
        assert!(!report.failed());
    }

    #[test]
    fn the_report_says_what_became_of_each_pair_after_the_schemas() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        let pair = |n: u32| LeftPair {
            dir: format!("/tmp/hasim-pair-{n}-0").into(),
            owner: n,
            created: Some(now - Duration::from_secs(250)),
        };
        let report = GcReport {
            schemas: Vec::new(),
            pairs: vec![(pair(7), Fate::Dropped), (pair(8), Fate::Failed("cannot delete it".into()))],
        };
        assert_eq!(
            report.text(now),
            "0 run schemas\n\
             /tmp/hasim-pair-7-0  4m 10s old  stopped and deleted\n\
             /tmp/hasim-pair-8-0  4m 10s old  NOT deleted: cannot delete it\n\
             2 primary-standby pairs, 1 stopped and deleted\n"
        );
        assert!(report.failed());
    }
}
