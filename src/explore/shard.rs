//! Shards: one search split over several machines.
//!
//! A search numbers its cases 1, 2, ... `cases`, and case `k` is the same case
//! whichever process runs it (it is generated from the seed and `k` alone). Shard
//! `i/n` runs the cases `k` with `(k - 1) % n == i - 1`: shard 1/4 runs cases 1, 5, 9,
//! ..., shard 2/4 runs 2, 6, 10, ... The `n` shards of a search are disjoint and
//! together run exactly the unsharded search's cases.

use std::fmt;
use std::str::FromStr;

/// Which part of a search to run: shard `index` of `count`, counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// This shard, from 1 to `count`.
    pub index: u32,
    /// How many shards the search is split into (at least 1).
    pub count: u32,
}

impl Shard {
    /// The whole search: shard 1/1.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Shard `index` of `count`, or why there is no such shard.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err(format!("shard {index}/{count}: a search splits into at least 1 shard"));
        }
        if index == 0 {
            return Err(format!("shard 0/{count}: shards count from 1: write 1/{count} to {count}/{count}"));
        }
        if index > count {
            return Err(format!(
                "shard {index}/{count}: there are only {count} shard{}: write 1/{count} to {count}/{count}",
                if count == 1 { "" } else { "s" }
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether case `number` (1-based) of the search is this shard's.
    pub fn contains(self, number: u32) -> bool {
        number >= 1 && (number - 1) % self.count == self.index - 1
    }

    /// This shard's case numbers among the search's `cases`, in order.
    pub fn cases(self, cases: u32) -> impl Iterator<Item = u32> {
        (self.index..=cases).step_by(self.count as usize)
    }

    /// Whether this is the whole search.
    pub fn is_whole(self) -> bool {
        self.count == 1
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `i/n`, e.g. `2/4`.
    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not a shard: write i/n with whole numbers, e.g. 2/4");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let number = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
        Shard::new(number(index)?, number(count)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_read_as_index_over_count() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Shard::WHOLE));
    }

    #[test]
    fn bad_shards_say_what_is_wrong() {
        let error = |s: &str| s.parse::<Shard>().unwrap_err();
        assert!(error("0/4").contains("shards count from 1: write 1/4 to 4/4"), "{}", error("0/4"));
        assert!(error("5/4").contains("there are only 4 shards"), "{}", error("5/4"));
        assert!(error("1/0").contains("at least 1 shard"), "{}", error("1/0"));
        for text in ["x/y", "2", "2/4/8", "-1/4", "", "1.5/4"] {
            assert!(error(text).contains("write i/n with whole numbers"), "{text}: {}", error(text));
        }
    }

    #[test]
    fn the_shards_of_a_search_are_disjoint_and_cover_it() {
        for count in 1..=5u32 {
            for cases in [1u32, 7, 20] {
                let mut all: Vec<u32> = Vec::new();
                for index in 1..=count {
                    let shard = Shard::new(index, count).unwrap();
                    let mine: Vec<u32> = shard.cases(cases).collect();
                    assert!(mine.iter().all(|&k| shard.contains(k)), "{shard}: {mine:?}");
                    assert_eq!(mine.len(), (1..=cases).filter(|&k| shard.contains(k)).count());
                    all.extend(mine);
                }
                all.sort_unstable();
                assert_eq!(all, (1..=cases).collect::<Vec<_>>(), "{count} shards of {cases} cases");
            }
        }
    }

    #[test]
    fn a_shard_displays_as_it_is_written() {
        assert_eq!(Shard { index: 3, count: 8 }.to_string(), "3/8");
    }
}
