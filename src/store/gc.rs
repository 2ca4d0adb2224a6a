//! Housekeeping: the run schemas (`hasim_*`) left on a server, by a run kept with
//! `--keep-schema` or a process killed outright, and dropping them.
//!
//! A schema's age comes from the creation time its comment records
//! ([`RunSchema::create`]); a schema made before comments were written gives it by its
//! name (`hasim_<unix millis in hex>_<random>`). One whose run still has connections
//! open is in use and never dropped.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection};

use super::schema::{CREATED_AT, RunSchema, is_run_schema, redact_url};
use crate::{Error, Result};

/// A run schema found on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftSchema {
    /// Its name (`hasim_...`).
    pub name: String,
    /// When it was created, if that is known.
    pub created: Option<SystemTime>,
    /// Connections of its run still open (application name `<schema>/...`): while
    /// there are any, its run may be going on.
    pub backends: i64,
}

impl LeftSchema {
    /// How old it is at `now` (`None` when its creation time is unknown).
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        self.created.map(|created| now.duration_since(created).unwrap_or(Duration::ZERO))
    }

    /// Whether its run still has connections open.
    pub fn in_use(&self) -> bool {
        self.backends > 0
    }
}

/// The run schemas on the server at `url`, by name.
pub async fn left_schemas(url: &str) -> Result<Vec<LeftSchema>> {
    let shown = redact_url(url);
    let options = super::schema::connect_options(url)?;
    let mut conn = PgConnection::connect_with(&options)
        .await
        .map_err(|cause| Error::Connect { url: shown.clone(), cause })?;
    let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT n.nspname::text, obj_description(n.oid, 'pg_namespace'), \
           (SELECT count(*) FROM pg_stat_activity a \
             WHERE a.application_name LIKE n.nspname || '/%' AND a.pid <> pg_backend_pid()) \
         FROM pg_namespace n WHERE n.nspname LIKE 'hasim\\_%' ORDER BY n.nspname",
    )
    .fetch_all(&mut conn)
    .await?;
    conn.close().await?;
    Ok(rows
        .into_iter()
        .filter(|(name, _, _)| is_run_schema(name))
        .map(|(name, comment, backends)| {
            let created =
                comment.as_deref().and_then(created_from_comment).or_else(|| created_from_name(&name));
            LeftSchema { name, created, backends }
        })
        .collect())
}

/// Drops the run schema `name` on the server at `url` (and ends any connection of its
/// run first).
pub async fn drop_left(url: &str, name: &str) -> Result<()> {
    RunSchema::named(url, name.to_owned())?.drop_schema().await
}

/// The creation time a schema comment records.
fn created_from_comment(comment: &str) -> Option<SystemTime> {
    let secs: u64 = comment.strip_prefix(CREATED_AT)?.trim().parse().ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// The creation time a run schema's name carries: `hasim_<unix millis, hex>_...`.
fn created_from_name(name: &str) -> Option<SystemTime> {
    let millis = name.strip_prefix("hasim_")?.split('_').next()?;
    let millis = u64::from_str_radix(millis, 16).ok()?;
    // Names of other shapes parse too; only a plausible moment (2020 to 2100) counts.
    (1_577_836_800_000..4_102_444_800_000)
        .contains(&millis)
        .then(|| UNIX_EPOCH + Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_creation_time_is_read_from_the_comment_or_else_the_name() {
        let at = UNIX_EPOCH + Duration::from_secs(1_764_570_000);
        assert_eq!(created_from_comment(&format!("{CREATED_AT}1764570000")), Some(at));
        assert_eq!(created_from_comment("something else"), None);
        let name = format!("hasim_{:x}_0badcafe", 1_764_570_000_000u64);
        assert_eq!(created_from_name(&name), Some(at));
        assert_eq!(created_from_name("hasim_ff_1"), None, "not a plausible moment");
        assert_eq!(created_from_name("hasim_zz"), None);
    }

    #[test]
    fn age_counts_from_creation_and_in_use_means_connections() {
        let created = UNIX_EPOCH + Duration::from_secs(100);
        let left = LeftSchema { name: "hasim_1".into(), created: Some(created), backends: 0 };
        assert_eq!(left.age(created + Duration::from_secs(90)), Some(Duration::from_secs(90)));
        assert!(!left.in_use());
        assert!(LeftSchema { backends: 2, ..left }.in_use());
    }
}
