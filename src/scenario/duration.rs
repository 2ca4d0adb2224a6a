//! Humane durations as scenario files write them: a number and a unit, `"80ms"`,
//! `"1.5s"`, `"2s"`, `"1m"`, `"250us"`.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// The units a duration may use, with their length in nanoseconds.
const UNITS: [(&str, u128); 7] = [
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("ns", 1),
];

/// The units, as messages list them.
const KNOWN: &str = "ns, us, ms, s, m, h";

/// Parses a humane duration: a non-negative decimal number (`80`, `1.5`) directly
/// followed by a unit (`ns`, `us`, `ms`, `s`, `m`, `h`); spaces around are ignored.
/// The error says what is wrong and what is allowed.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration: write a number and a unit, e.g. \"80ms\"".into());
    }
    if let Some(rest) = trimmed.strip_prefix('-') {
        return Err(format!(
            "negative duration {text:?}: durations count forward from the start of the run, \
             write e.g. {:?}",
            rest.trim()
        ));
    }
    let number_end = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(number_end);
    let unit = unit.trim_start();
    if number.is_empty() {
        return Err(format!(
            "{text:?} is not a duration: write a number and a unit, e.g. \"80ms\" or \"1.5s\""
        ));
    }
    if unit.is_empty() {
        return Err(format!(
            "{text:?} has no unit: write e.g. \"{number}ms\" or \"{number}s\" (units: {KNOWN})"
        ));
    }
    let Some(&(_, unit_nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(format!("unknown unit {unit:?} in {text:?} (units: {KNOWN})"));
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_only(fraction) || (number.contains('.') && fraction.is_empty()) {
        return Err(format!(
            "{text:?} is not a duration: write a number and a unit, e.g. \"80ms\" or \"1.5s\""
        ));
    }
    let too_long = || format!("{text:?} is too long for a duration");
    let whole: u128 = whole.parse().map_err(|_| too_long())?;
    let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(too_long)?;
    // The fraction, digit by digit: exact to the nanosecond, truncated below it.
    let mut scale = unit_nanos;
    for digit in fraction.bytes() {
        scale /= 10;
        nanos += u128::from(digit - b'0') * scale;
    }
    let nanos = u64::try_from(nanos).map_err(|_| too_long())?;
    Ok(Duration::from_nanos(nanos))
}

/// A [`Duration`] that displays the way scenario files write it, exactly: `300ms`,
/// `2s`, `1m`, `250us`, `1500ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Humane(pub Duration);

impl fmt::Display for Humane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        // The largest unit that shows it as a whole number.
        for (name, unit) in [("h", 3_600_000_000_000u128), ("m", 60_000_000_000), ("s", 1_000_000_000)] {
            if nanos >= unit && nanos.is_multiple_of(unit) {
                return write!(f, "{}{name}", nanos / unit);
            }
        }
        if nanos.is_multiple_of(1_000_000) {
            write!(f, "{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            write!(f, "{}us", nanos / 1_000)
        } else {
            write!(f, "{nanos}ns")
        }
    }
}

/// A duration read from a scenario file (a humane string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawDuration(pub Duration);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor).map(RawDuration)
    }
}

struct DurationVisitor;

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration string with a unit, e.g. \"80ms\" or \"1.5s\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse(text).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
        Err(E::custom(format!("a duration is a string with a unit: write \"{n}ms\" or \"{n}s\", not {n}")))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
        Err(E::custom(format!("a duration is a string with a unit: write \"{n}ms\" or \"{n}s\", not {n}")))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Duration, E> {
        Err(E::custom(format!("a duration is a string with a unit: write \"{n}s\", not {n}")))
    }
}

/// A task's duration: one value, or a range `[low, high]` to draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawDurationRange {
    /// Always this long.
    One(Duration),
    /// Drawn from `low..=high`.
    Range(Duration, Duration),
}

impl<'de> Deserialize<'de> for RawDurationRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RangeVisitor)
    }
}

struct RangeVisitor;

const RANGE_SHAPE: &str = "a duration range is two durations, [low, high], e.g. [\"20ms\", \"80ms\"]";

impl<'de> Visitor<'de> for RangeVisitor {
    type Value = RawDurationRange;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration (\"40ms\") or a range of two ([\"20ms\", \"80ms\"])")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<RawDurationRange, E> {
        parse(text).map(RawDurationRange::One).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<RawDurationRange, E> {
        DurationVisitor.visit_i64(n).map(RawDurationRange::One)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<RawDurationRange, E> {
        DurationVisitor.visit_u64(n).map(RawDurationRange::One)
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<RawDurationRange, E> {
        DurationVisitor.visit_f64(n).map(RawDurationRange::One)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawDurationRange, A::Error> {
        let mut ends = Vec::new();
        while let Some(end) = seq.next_element::<RawDuration>()? {
            ends.push(end.0);
            if ends.len() > 2 {
                return Err(de::Error::custom(RANGE_SHAPE));
            }
        }
        match ends[..] {
            [low, high] => Ok(RawDurationRange::Range(low, high)),
            _ => Err(de::Error::custom(RANGE_SHAPE)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn humane_durations_parse() {
        assert_eq!(parse("80ms"), Ok(80 * MS));
        assert_eq!(parse("1.5s"), Ok(1500 * MS));
        assert_eq!(parse("2s"), Ok(2000 * MS));
        assert_eq!(parse("1m"), Ok(60_000 * MS));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse(" 80 ms "), Ok(80 * MS));
        assert_eq!(parse("0.25ms"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("12ns"), Ok(Duration::from_nanos(12)));
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let err = |s: &str| parse(s).unwrap_err();
        assert!(err("-5ms").contains("negative"), "{}", err("-5ms"));
        assert!(err("80").contains("has no unit"), "{}", err("80"));
        assert!(err("80").contains("\"80ms\""));
        assert!(err("5sec").contains("unknown unit \"sec\""), "{}", err("5sec"));
        assert!(err("abc").contains("not a duration"));
        assert!(err("").contains("empty"));
        assert!(err("1.2.3s").contains("not a duration"));
        assert!(err(".5s").contains("not a duration"));
        assert!(err("5.s").contains("not a duration"));
        assert!(err("99999999999999999999999999999999999999999h").contains("too long"));
        assert!(err("99999999999h").contains("too long"));
    }

    #[test]
    fn durations_display_as_files_write_them() {
        let display = |d| Humane(d).to_string();
        assert_eq!(display(300 * MS), "300ms");
        assert_eq!(display(2000 * MS), "2s");
        assert_eq!(display(60_000 * MS), "1m");
        assert_eq!(display(Duration::from_secs(7200)), "2h");
        assert_eq!(display(1500 * MS), "1500ms");
        assert_eq!(display(Duration::from_micros(250)), "250us");
        assert_eq!(display(Duration::ZERO), "0ms");
        assert_eq!(display(Duration::from_nanos(5)), "5ns");
        for d in [300 * MS, 1500 * MS, Duration::from_micros(1250), Duration::from_nanos(7)] {
            assert_eq!(parse(&display(d)), Ok(d));
        }
    }

    #[test]
    fn ranges_read_one_or_two_durations() {
        #[derive(Deserialize)]
        struct T {
            d: RawDurationRange,
        }
        let read = |s: &str| toml::from_str::<T>(s).map(|t| t.d).map_err(|e| e.message().to_owned());
        assert_eq!(read("d = \"40ms\""), Ok(RawDurationRange::One(40 * MS)));
        assert_eq!(read("d = [\"20ms\", \"80ms\"]"), Ok(RawDurationRange::Range(20 * MS, 80 * MS)));
        assert!(read("d = [\"20ms\"]").unwrap_err().contains("two durations"));
        assert!(read("d = [\"1ms\", \"2ms\", \"3ms\"]").unwrap_err().contains("two durations"));
        assert!(read("d = 40").unwrap_err().contains("\"40ms\""));
        assert!(read("d = [\"20ms\", \"-1ms\"]").unwrap_err().contains("negative"));
    }
}
