//! A small log-linear latency histogram: fixed size (about 30 KB), constant time to
//! record, mergeable, and within 1/64 (1.6 %) of the true value at every quantile.
//! Long runs keep flat memory, which a sorted vector of every sample would not.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Values below this many nanoseconds get a bucket each (exact).
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above [`LINEAR`]: 2^6 = 64, so a bucket spans at most
/// 1/64 of its lower bound.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Powers of two from 2^7 (= LINEAR) to 2^63.
const BUCKETS: usize = LINEAR as usize + (64 - 7) * SUB;

/// Latencies in nanoseconds, counted in log-linear buckets.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram").field("total", &self.total).field("max_ns", &self.max_ns).finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: Box::new([0; BUCKETS]), total: 0, sum_ns: 0, min_ns: u64::MAX, max_ns: 0 }
    }
}

fn bucket(ns: u64) -> usize {
    if ns < LINEAR {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros(); // >= 7
    let sub = ((ns >> (exp - SUB_BITS)) as usize) & (SUB - 1);
    LINEAR as usize + (exp as usize - 7) * SUB + sub
}

/// The smallest and largest value of bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    if i < LINEAR as usize {
        return (i as u64, i as u64);
    }
    let exp = ((i - LINEAR as usize) / SUB) as u32 + 7;
    let sub = ((i - LINEAR as usize) % SUB) as u64;
    let width = 1u64 << (exp - SUB_BITS);
    let low = (1u64 << exp) + sub * width;
    (low, low + (width - 1))
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one latency.
    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket(ns)] += 1;
        self.total += 1;
        self.sum_ns += u128::from(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.total += other.total;
        self.sum_ns += other.sum_ns;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// How many latencies were recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The latency at quantile `q` (0..=1): the upper bound of the bucket holding the
    /// `ceil(q * n)`-th smallest value, clamped to the exact maximum.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = bounds(i);
                return Duration::from_nanos(high.min(self.max_ns).max(low.min(self.max_ns)));
            }
        }
        Duration::from_nanos(self.max_ns)
    }

    /// The largest latency recorded (exact).
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_ns)
    }

    /// The mean latency (exact).
    pub fn mean(&self) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos((self.sum_ns / u128::from(self.total)) as u64)
    }

    /// The percentiles a report shows.
    pub fn summary(&self) -> LatencySummary {
        let us = |d: Duration| d.as_nanos() as f64 / 1e3;
        LatencySummary {
            samples: self.total,
            mean_us: us(self.mean()),
            p50_us: us(self.quantile(0.50)),
            p95_us: us(self.quantile(0.95)),
            p99_us: us(self.quantile(0.99)),
            max_us: us(self.max()),
        }
    }
}

/// Latency percentiles of one run, in microseconds (within 1.6 %; max and mean exact).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// How many latencies were recorded.
    pub samples: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 95th percentile.
    pub p95_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest.
    pub max_us: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_ordered() {
        let mut expected_low = 0;
        for i in 0..BUCKETS {
            let (low, high) = bounds(i);
            assert_eq!(low, expected_low, "bucket {i}");
            assert!(high >= low);
            assert_eq!(bucket(low), i);
            assert_eq!(bucket(high), i);
            if high == u64::MAX {
                assert_eq!(i, BUCKETS - 1);
                return;
            }
            expected_low = high + 1;
        }
        panic!("the last bucket must end at u64::MAX");
    }

    #[test]
    fn quantiles_are_within_the_bucket_error_of_a_sorted_vector() {
        // Deterministic, spread over five orders of magnitude.
        let mut values: Vec<u64> = (1..=20_000u64).map(|i| (i * i * 7919) % 50_000_000 + 1).collect();
        let mut h = Histogram::new();
        for &v in &values {
            h.record(Duration::from_nanos(v));
        }
        values.sort_unstable();
        for q in [0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let rank = ((q * values.len() as f64).ceil() as usize).max(1);
            let exact = values[rank - 1] as f64;
            let got = h.quantile(q).as_nanos() as f64;
            assert!(got >= exact && got <= exact * (1.0 + 1.0 / 64.0) + 1.0, "q={q}: {got} vs {exact}");
        }
        assert_eq!(h.max().as_nanos() as u64, *values.last().unwrap());
        assert_eq!(h.len(), 20_000);
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for i in 0..1000u64 {
            let d = Duration::from_micros(i * 37 % 5000);
            if i % 3 == 0 {
                a.record(d)
            } else {
                b.record(d)
            }
            all.record(d);
        }
        a.merge(&b);
        assert_eq!(a.summary(), all.summary());
    }

    #[test]
    fn an_empty_histogram_reports_zeroes() {
        let s = Histogram::new().summary();
        assert_eq!((s.samples, s.p99_us, s.max_us), (0, 0.0, 0.0));
    }
}
