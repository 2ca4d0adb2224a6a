//! `hot --shape rounds`: all replicas claim the same plan at the same moment, exactly
//! one wins, the winner resets the claim, and the next round starts only when everyone
//! has answered (a barrier): losers wait on the winner's insert, then everyone waits for
//! the slowest racer and for the winner's reset. pgbench cannot play it (no barrier).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Barrier;

use super::racer::{Go, Racer, Tally};

/// The rounds of `hot`, shared by its racers.
#[derive(Debug)]
pub(super) struct HotShared {
    barrier: Barrier,
    stopping: AtomicBool,
    winners: AtomicU64,
    rounds: AtomicU64,
    empty_rounds: AtomicU64,
    duplicates: AtomicU64,
}

/// What the rounds of a run counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RoundCounts {
    /// Rounds played.
    pub(super) rounds: u64,
    /// Rounds nobody won.
    pub(super) empty: u64,
    /// Winners beyond the first of their round.
    pub(super) duplicates: u64,
}

impl HotShared {
    /// Rounds for `racers` racers.
    pub(super) fn new(racers: usize) -> Self {
        HotShared {
            barrier: Barrier::new(racers),
            stopping: AtomicBool::new(false),
            winners: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            empty_rounds: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
        }
    }

    /// What was counted so far (read it once every racer has finished).
    pub(super) fn counts(&self) -> RoundCounts {
        RoundCounts {
            rounds: self.rounds.load(Ordering::Acquire),
            empty: self.empty_rounds.load(Ordering::Acquire),
            duplicates: self.duplicates.load(Ordering::Acquire),
        }
    }

    /// Scores the round just played; returns the rounds played so far.
    fn score(&self) -> u64 {
        let winners = self.winners.swap(0, Ordering::AcqRel);
        if winners == 0 {
            self.empty_rounds.fetch_add(1, Ordering::AcqRel);
        }
        self.duplicates.fetch_add(winners.saturating_sub(1), Ordering::AcqRel);
        self.rounds.fetch_add(1, Ordering::AcqRel) + 1
    }
}

impl Racer {
    /// Plays rounds until the stop. Everyone claims round k's plan at once; after all
    /// have answered, the winner resets and one racer (the barrier's leader) scores the
    /// round and decides whether another starts. Each decision is read only after the
    /// next barrier, so all racers see the same one.
    pub(super) async fn rounds(&mut self, go: Go, tally: &mut Tally) {
        let shared = self.rounds.clone();
        let mut round = 0u64;
        loop {
            shared.barrier.wait().await;
            if shared.stopping.load(Ordering::Acquire) {
                break;
            }
            let plan = self.plans.nth(round);
            round += 1;
            let won = tally.timed_claim(self, plan).await == Some(true);
            if won {
                shared.winners.fetch_add(1, Ordering::AcqRel);
            }
            let leader = shared.barrier.wait().await.is_leader();
            if won {
                tally.reset_won(self, plan).await;
            }
            if leader {
                let rounds = shared.score();
                if self.done(go, rounds) {
                    shared.stopping.store(true, Ordering::Release);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_with_no_winner_or_two_is_counted() {
        let shared = HotShared::new(3);
        for winners in [1, 0, 2, 1] {
            shared.winners.store(winners, Ordering::Release);
            shared.score();
        }
        assert_eq!(shared.counts(), RoundCounts { rounds: 4, empty: 1, duplicates: 1 });
    }
}
