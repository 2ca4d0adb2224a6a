//! How far the host fell behind during a run on the real clock.
//!
//! A run on Postgres (or with an outside endpoint) happens in real time: its actions,
//! heartbeats and timeouts are timers on the run's runtime. On an overloaded host those
//! timers fire late, and a replica can look dead to the cleaner although the design is
//! sound. A [`LagProbe`] is a task on the same runtime that sleeps a short fixed period
//! in a loop and records how late each wake-up is; [`HostLag`] is what it found. A run
//! on a paused clock gets no probe: its timers cannot be late, and a timer of its own
//! would change its history.
//!
//! The database shares the host: a run on Postgres also asks its server for a trivial
//! answer (`SELECT 1`) every [`DB_PERIOD`] on the connection that holds the run's
//! schema ([`ping`]) and records the slowest answer, since a server starved of the
//! cores (or stalled on its disk) delays every replica's writes although no timer of
//! hasim's fires late.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long the probe sleeps between wake-ups.
pub const PERIOD: Duration = Duration::from_millis(10);

/// How long the database probe waits between its queries.
pub const DB_PERIOD: Duration = Duration::from_millis(100);

/// How late a run's timers fired on its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLag {
    /// The probe's sleep between wake-ups.
    #[serde(rename = "period_us", with = "crate::history::micros")]
    pub period: Duration,
    /// Lateness past which verdicts may reflect the host (a quarter of the heartbeat).
    #[serde(rename = "bound_us", with = "crate::history::micros")]
    pub bound: Duration,
    /// The latest wake-up: how long after its time it came.
    #[serde(rename = "max_us", with = "crate::history::micros")]
    pub max: Duration,
    /// Wake-ups later than `bound`.
    pub late: u64,
    /// Wake-ups in all.
    pub wakeups: u64,
    /// The database's slowest answer to the probe's `SELECT 1` (runs on Postgres).
    #[serde(
        rename = "db_max_us",
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::history::micros_opt"
    )]
    pub db_max: Option<Duration>,
    /// The probe queries the database answered.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub db_probes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl HostLag {
    /// The bound for a cluster whose heartbeat interval is `heartbeat`: a quarter of it.
    pub fn bound_for(heartbeat: Duration) -> Duration {
        heartbeat / 4
    }

    /// Whether the host fell behind by more than the bound at least once: a timer
    /// that fired late, or the database slow to answer.
    pub fn passed(&self) -> bool {
        self.max > self.bound || self.db_passed()
    }

    fn db_passed(&self) -> bool {
        self.db_max.is_some_and(|db| db > self.bound)
    }

    /// The warning for people when the lag passed the bound: `the host lagged up to
    /// 2.3 s (bound 250 ms); verdicts may reflect the host, not the design`, or `the
    /// database took up to 400 ms to answer (bound 250 ms); ...`.
    pub fn warning(&self) -> Option<String> {
        let timers = (self.max > self.bound).then(|| format!("the host lagged up to {}", human(self.max)));
        let db = self
            .db_max
            .filter(|_| self.db_passed())
            .map(|db| format!("the database took up to {} to answer", human(db)));
        let what = match (timers, db) {
            (Some(timers), Some(db)) => format!("{timers} and {db}"),
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => return None,
        };
        Some(format!("{what} (bound {}); verdicts may reflect the host, not the design", human(self.bound)))
    }

    /// This lag with what the database probe saw.
    pub fn with_database(self, db: DbLag) -> HostLag {
        HostLag { db_max: Some(db.max), db_probes: db.probes, ..self }
    }
}

/// What the database probe saw: its slowest answer, and how many came.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbLag {
    /// The slowest answer.
    pub max: Duration,
    /// Answers in all.
    pub probes: u64,
}

/// Asks the server on `conn` for `SELECT 1` every [`DB_PERIOD`], recording each
/// answer's time in `seen`, until dropped; a query that fails (the server went away)
/// ends the asking but not the future, which then waits forever.
pub async fn ping(conn: &mut sqlx::PgConnection, seen: &mut DbLag) {
    loop {
        tokio::time::sleep(DB_PERIOD).await;
        let asked = Instant::now();
        if sqlx::query("SELECT 1").execute(&mut *conn).await.is_err() {
            return std::future::pending().await;
        }
        seen.max = seen.max.max(asked.elapsed());
        seen.probes += 1;
    }
}

/// `2.3 s`, `250 ms`, `0.4 ms`.
pub fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1} s", d.as_secs_f64())
    } else if d >= Duration::from_millis(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

/// What the probe has seen so far.
#[derive(Debug)]
struct Tally {
    /// When the wake-up being waited for is due.
    due: Instant,
    max: Duration,
    late: u64,
    wakeups: u64,
}

impl Tally {
    fn record(&mut self, lateness: Duration, bound: Duration) {
        self.max = self.max.max(lateness);
        self.late += u64::from(lateness > bound);
        self.wakeups += 1;
    }
}

/// A task on the current runtime that measures how late its timers fire; stopped
/// (and its task aborted) by [`LagProbe::finish`] or when dropped.
#[derive(Debug)]
pub struct LagProbe {
    bound: Duration,
    tally: Arc<Mutex<Tally>>,
    task: JoinHandle<()>,
}

impl LagProbe {
    /// Starts a probe on the current tokio runtime, counting wake-ups later than
    /// `bound`. Panics outside a runtime.
    pub fn start(bound: Duration) -> LagProbe {
        let tally = Arc::new(Mutex::new(Tally {
            due: Instant::now() + PERIOD,
            max: Duration::ZERO,
            late: 0,
            wakeups: 0,
        }));
        let shared = tally.clone();
        let task = tokio::spawn(async move {
            loop {
                let due = lock(&shared).due;
                tokio::time::sleep_until(due).await;
                let now = Instant::now();
                let mut tally = lock(&shared);
                tally.record(now.saturating_duration_since(due), bound);
                tally.due = now + PERIOD;
            }
        });
        LagProbe { bound, tally, task }
    }

    /// Stops the probe and says what it saw, counting the wake-up still pending if it
    /// is already late (the host may be behind at the very end).
    pub fn finish(self) -> HostLag {
        self.task.abort();
        let mut tally = lock(&self.tally);
        let overdue = Instant::now().saturating_duration_since(tally.due);
        if overdue > Duration::ZERO {
            tally.record(overdue, self.bound);
        }
        HostLag {
            period: PERIOD,
            bound: self.bound,
            max: tally.max,
            late: tally.late,
            wakeups: tally.wakeups,
            db_max: None,
            db_probes: 0,
        }
    }
}

impl Drop for LagProbe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(tally: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_clock() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn a_blocked_thread_shows_as_lag() {
        let lag = real_clock().block_on(async {
            let probe = LagProbe::start(Duration::from_millis(250));
            tokio::time::sleep(Duration::from_millis(30)).await;
            // Hold the runtime's only thread, as an overloaded host would.
            std::thread::sleep(Duration::from_millis(300));
            tokio::time::sleep(Duration::from_millis(30)).await;
            probe.finish()
        });
        assert!(lag.max >= Duration::from_millis(250), "{lag:?}");
        assert!(lag.late >= 1, "{lag:?}");
        assert!(lag.passed());
    }

    #[test]
    fn a_quiet_runtime_shows_little_lag() {
        let lag = real_clock().block_on(async {
            let probe = LagProbe::start(Duration::from_millis(200));
            tokio::time::sleep(Duration::from_millis(200)).await;
            probe.finish()
        });
        assert!(lag.wakeups >= 5, "{lag:?}");
        assert!(lag.max < Duration::from_millis(200), "{lag:?}");
        assert!(!lag.passed());
    }

    #[test]
    fn the_warning_names_the_lag_and_the_bound_only_past_the_bound() {
        let mut lag = HostLag {
            period: PERIOD,
            bound: HostLag::bound_for(Duration::from_secs(1)),
            max: Duration::from_millis(2_300),
            late: 3,
            wakeups: 900,
            db_max: None,
            db_probes: 0,
        };
        assert_eq!(
            lag.warning().as_deref(),
            Some("the host lagged up to 2.3 s (bound 250 ms); verdicts may reflect the host, not the design")
        );
        lag.max = Duration::from_millis(250);
        assert_eq!(lag.warning(), None);
        // A database slow to answer past the bound passes it too, alone or beside late
        // timers; one just under it does not.
        let db = |ms| DbLag { max: Duration::from_millis(ms), probes: 40 };
        assert_eq!(lag.with_database(db(250)).warning(), None);
        assert_eq!(
            lag.with_database(db(400)).warning().as_deref(),
            Some(
                "the database took up to 400 ms to answer (bound 250 ms); verdicts may reflect the host, not the design"
            )
        );
        lag.max = Duration::from_millis(2_300);
        assert_eq!(
            lag.with_database(db(400)).warning().as_deref(),
            Some(
                "the host lagged up to 2.3 s and the database took up to 400 ms to answer (bound 250 ms); \
                 verdicts may reflect the host, not the design"
            )
        );
        assert!(
            lag.with_database(db(400)).passed()
                && !HostLag { max: Duration::ZERO, ..lag }.with_database(db(10)).passed()
        );
    }

    #[test]
    fn the_json_gives_microseconds() {
        let lag = HostLag {
            period: PERIOD,
            bound: Duration::from_millis(25),
            max: Duration::from_micros(1_500),
            late: 0,
            wakeups: 10,
            db_max: None,
            db_probes: 0,
        };
        let json = serde_json::to_value(lag).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"period_us": 10_000, "bound_us": 25_000, "max_us": 1_500, "late": 0, "wakeups": 10})
        );
        assert_eq!(serde_json::from_value::<HostLag>(json).unwrap(), lag);
    }
}
