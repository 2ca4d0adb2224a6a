//! Ordering: what the history says about when writes committed.
//!
//! A store write is logged when it returns, with the sequence number the history had
//! when it was invoked. So write A is known to have committed before write B only when
//! A returned before B was invoked (`a.seq < b.invoked`); otherwise they overlapped and
//! their commit order is unknown. Episodes are counted from the episode-starting
//! writes in that order.
//!
//! A write whose answer never came and that the commit log shows committed is
//! logged after the run, with its invocation: it committed somewhere in between.
//! Replays take it at its invocation, the earliest it can have committed
//! ([`replay_order`]); its span still reaches to where it was logged.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::history::{Entry, Event, Seq};

/// The entries that writes resolved after the run changed, each with the
/// `StoreResolved` entry before them.
pub(super) fn resolved_writes(history: &[Entry]) -> BTreeMap<Seq, Seq> {
    let mut resolved = BTreeMap::new();
    let mut current: Option<(Seq, Seq)> = None;
    for e in history {
        match &e.event {
            Event::StoreResolved { invoked, committed, .. } => {
                current = committed.then_some((e.seq, *invoked));
            }
            event => match current {
                Some((found, invoked)) if event.invoked() == Some(invoked) => {
                    resolved.insert(e.seq, found);
                }
                _ => current = None,
            },
        }
    }
    resolved
}

/// The history in the order to replay it: a write resolved after the run at its
/// invocation (just before the entry that followed it), every other entry where it
/// was logged.
pub(super) fn replay_order(history: &[Entry]) -> Vec<&Entry> {
    let resolved = resolved_writes(history);
    let mut entries: Vec<&Entry> = history.iter().collect();
    entries.sort_by_key(|e| match resolved.contains_key(&e.seq) {
        true => (e.event.invoked().unwrap_or(e.seq), 0, e.seq),
        false => (e.seq, 1, e.seq),
    });
    entries
}

/// When each entry was appended.
#[derive(Debug, Default)]
pub(super) struct Timeline {
    at: BTreeMap<Seq, Duration>,
}

impl Timeline {
    /// The timeline of `history`.
    pub(super) fn new(history: &[Entry]) -> Self {
        Timeline { at: history.iter().map(|e| (e.seq, e.at)).collect() }
    }

    /// When entry `seq` was appended (or the last entry before it, if it is missing).
    pub(super) fn at(&self, seq: Seq) -> Duration {
        self.at.range(..=seq).next_back().map_or(Duration::ZERO, |(_, at)| *at)
    }

    /// The earliest time a write invoked at `invoked` can have committed: not before
    /// the last entry appended before it was invoked.
    pub(super) fn earliest(&self, invoked: Seq) -> Duration {
        match invoked.checked_sub(1) {
            Some(before) => self.at(before),
            None => Duration::ZERO,
        }
    }
}

/// A write's span in the history: invoked at `invoked`, returned (logged) at `seq`.
/// An entry that is not a write spans only its own position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// Where it was logged.
    pub(super) seq: Seq,
    /// The history's length when it was invoked.
    pub(super) invoked: Seq,
}

impl Span {
    /// The span of `entry`.
    pub(super) fn of(entry: &Entry) -> Self {
        Span { seq: entry.seq, invoked: entry.event.invoked().unwrap_or(entry.seq) }
    }

    /// Whether this write is known to have committed before `other`.
    pub(super) fn precedes(self, other: Span) -> bool {
        self.seq < other.invoked
    }

    /// Whether the two overlapped, so that their commit order is unknown.
    pub(super) fn overlaps(self, other: Span) -> bool {
        self != other && !self.precedes(other) && !other.precedes(self)
    }
}

/// An episode-starting write (a BatchRunTasks or BatchSkipTasks that changed a task).
#[derive(Debug, Clone)]
pub(super) struct Start {
    /// The write.
    pub(super) span: Span,
    /// The episode the store said the plan had after it.
    pub(super) field: u32,
}

/// A plan's episode-starting writes, in log order.
#[derive(Debug, Clone, Default)]
pub(super) struct Episodes {
    /// The starts, in log order.
    pub(super) starts: Vec<Start>,
}

impl Episodes {
    /// Records an episode-starting write whose entry says the plan is now at `field`.
    pub(super) fn push(&mut self, span: Span, field: u32) {
        self.starts.push(Start { span, field });
    }

    /// How many episodes the history shows.
    pub(super) fn count(&self) -> u32 {
        self.starts.len() as u32
    }

    /// The episode current right after entry `seq`, replaying the log in order.
    pub(super) fn after(&self, seq: Seq) -> u32 {
        self.starts.iter().filter(|s| s.span.seq <= seq).count() as u32
    }

    /// The episodes that may have been current when write `w` committed, as an
    /// inclusive range: starts known before it, up to those that may have been.
    pub(super) fn candidates(&self, w: Span) -> (u32, u32) {
        let others = self.starts.iter().filter(|s| s.span != w);
        let lo = others.clone().filter(|s| s.span.precedes(w)).count() as u32;
        let hi = others.filter(|s| !w.precedes(s.span)).count() as u32;
        (lo, hi)
    }

    /// The starts that overlapped write `w`.
    pub(super) fn overlapping(&self, w: Span) -> impl Iterator<Item = &Start> {
        self.starts.iter().filter(move |s| s.span.overlaps(w))
    }

    /// Starts whose `episode` field no commit order consistent with the history
    /// allows, as (entry, explanation).
    pub(super) fn mismatches(&self) -> Vec<(Seq, String)> {
        self.starts
            .iter()
            .filter_map(|s| {
                let (lo, hi) = self.candidates(s.span);
                let (lo, hi) = (lo + 1, hi + 1);
                if (lo..=hi).contains(&s.field) {
                    return None;
                }
                let order = if lo == hi { format!("{lo}") } else { format!("{lo}..{hi}") };
                Some((
                    s.span.seq,
                    format!(
                        "#{} says episode {} but the history orders it as episode {order}",
                        s.span.seq, s.field
                    ),
                ))
            })
            .collect()
    }

    /// The smallest episode in `1..=final_episode` that no logged start carries: the
    /// store reached it by a write the history did not log (`final_episode + 1` when
    /// none is missing).
    pub(super) fn first_missing(&self, final_episode: u32) -> u32 {
        (1..=final_episode).find(|n| !self.starts.iter().any(|s| s.field == *n)).unwrap_or(final_episode + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(seq: Seq, invoked: Seq) -> Span {
        Span { seq, invoked }
    }

    #[test]
    fn a_write_precedes_only_writes_invoked_after_it_returned() {
        assert!(span(3, 3).precedes(span(5, 4)));
        assert!(!span(4, 2).precedes(span(5, 4)));
        assert!(span(4, 2).overlaps(span(5, 4)));
        assert!(!span(4, 2).overlaps(span(4, 2)));
    }

    #[test]
    fn an_overlapping_start_makes_two_candidate_episodes() {
        let mut eps = Episodes::default();
        eps.push(span(1, 1), 1);
        eps.push(span(6, 4), 2);
        assert_eq!(eps.candidates(span(3, 3)), (1, 1));
        assert_eq!(eps.candidates(span(5, 5)), (1, 2));
        assert_eq!(eps.candidates(span(8, 7)), (2, 2));
        // The episode after an entry counts the starts logged at or before it.
        let after: Vec<u32> = [0, 1, 5, 6, 9].map(|seq| eps.after(seq)).to_vec();
        assert_eq!(after, vec![0, 1, 1, 2, 2]);
        // Only the start whose span crosses the write's is overlapping it.
        let overlapping = |w| eps.overlapping(w).map(|s| s.span.seq).collect::<Vec<_>>();
        assert_eq!(overlapping(span(5, 5)), vec![6]);
        assert_eq!(overlapping(span(3, 3)), Vec::<Seq>::new());
        assert!(eps.mismatches().is_empty());
    }

    #[test]
    fn overlapping_starts_may_carry_either_number_but_ordered_ones_may_not() {
        let mut eps = Episodes::default();
        eps.push(span(2, 0), 2);
        eps.push(span(3, 1), 1);
        assert!(eps.mismatches().is_empty());
        eps.push(span(5, 4), 2);
        // #5 follows both, so it can only be the third.
        assert_eq!(
            eps.mismatches(),
            vec![(5, "#5 says episode 2 but the history orders it as episode 3".into())]
        );
        assert_eq!(eps.first_missing(3), 3);
        assert_eq!(eps.first_missing(2), 3);

        // Two overlapping starts: either may be the first, neither can be the fifth.
        let mut eps = Episodes::default();
        eps.push(span(2, 0), 5);
        eps.push(span(3, 1), 1);
        let told = "#2 says episode 5 but the history orders it as episode 1..2";
        assert_eq!(eps.mismatches(), vec![(2, told.into())]);
    }
}
