//! What is measured beside the claims: where the server's backends spend their time
//! (`pg_stat_activity`, sampled), and this process's CPU, memory and the machine's load.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::oneshot;

/// The share of sampled server backends of a run in one state (`CPU`,
/// `Lock:transactionid`, `IO:WALSync`, `idle (ClientRead)`...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitSample {
    /// The state: a wait event (`type:event`), `CPU` (active, not waiting), or the
    /// backend's state when it is not running a statement.
    pub what: String,
    /// The share of all samples, 0..=1.
    pub share: f64,
}

/// Samples `pg_stat_activity` for the run's backends every 50 ms.
pub(super) struct WaitSampler {
    stop: oneshot::Sender<()>,
    done: oneshot::Receiver<BTreeMap<String, u64>>,
}

impl WaitSampler {
    /// Starts sampling the backends whose application name is LIKE `pattern`.
    pub(super) fn start(admin: PgPool, pattern: String) -> WaitSampler {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (report, done) = oneshot::channel();
        actix::spawn(async move {
            let mut counts = BTreeMap::new();
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let rows: Result<Vec<(String, i64)>, _> = sqlx::query_as(
                    "SELECT CASE WHEN state = 'active' \
                                 THEN coalesce(wait_event_type || ':' || wait_event, 'CPU') \
                                 ELSE coalesce(state, '?') || coalesce(' (' || wait_event || ')', '') END, \
                            count(*) \
                     FROM pg_stat_activity WHERE application_name LIKE $1 GROUP BY 1",
                )
                .bind(&pattern)
                .fetch_all(&admin)
                .await;
                for (what, n) in rows.unwrap_or_default() {
                    *counts.entry(what).or_insert(0) += n as u64;
                }
            }
            let _ = report.send(counts);
        });
        WaitSampler { stop, done }
    }

    /// Stops sampling; the states by share, largest first.
    pub(super) async fn finish(self) -> Vec<WaitSample> {
        let _ = self.stop.send(());
        let counts = self.done.await.unwrap_or_default();
        let total: u64 = counts.values().sum();
        let mut samples: Vec<WaitSample> = counts
            .into_iter()
            .map(|(what, n)| WaitSample { what, share: n as f64 / total.max(1) as f64 })
            .collect();
        sort_by_share(&mut samples);
        samples
    }
}

/// Largest share first, ties by name.
pub(super) fn sort_by_share(samples: &mut [WaitSample]) {
    samples.sort_by(|a, b| b.share.total_cmp(&a.share).then_with(|| a.what.cmp(&b.what)));
}

/// CPU time (user + system) this process has used, in seconds (0 without /proc).
pub(super) fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after ')'.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    (ticks(11) + ticks(12)) / 100.0
}

/// A `kB` field of a /proc file (`VmRSS:` of /proc/self/status, say).
pub(super) fn proc_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// This process's resident memory, in KiB (0 where /proc is missing).
pub fn rss_kib() -> u64 {
    proc_field("/proc/self/status", "VmRSS:").unwrap_or(0)
}

/// The 1-minute load average (0 where /proc is missing).
pub fn load_1m() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(0u64);
        }
        assert!(cpu_seconds() > 0.0);
        assert!(rss_kib() > 0);
        assert!(proc_field("/proc/meminfo", "MemTotal:").unwrap_or(0) > 0);
    }

    #[test]
    fn the_load_average_is_the_first_figure_of_proc_loadavg() {
        // It moves slowly (an average over a minute, updated every few seconds): read
        // before and after, the figure returned lies between them, whatever the load.
        let read = || -> f64 {
            let text = std::fs::read_to_string("/proc/loadavg").expect("Linux has /proc/loadavg");
            text.split_whitespace().next().and_then(|v| v.parse().ok()).expect("a number first")
        };
        let before = read();
        let load = load_1m();
        let after = read();
        assert!(before.min(after) <= load && load <= before.max(after), "{before} {load} {after}");
    }

    #[test]
    fn shares_sort_largest_first_then_by_name() {
        let sample = |what: &str, share| WaitSample { what: what.into(), share };
        let mut samples = vec![sample("idle", 0.2), sample("CPU", 0.5), sample("IO:WALSync", 0.2)];
        sort_by_share(&mut samples);
        let order: Vec<&str> = samples.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(order, ["CPU", "IO:WALSync", "idle"]);
    }
}
