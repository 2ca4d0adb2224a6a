//! `hot`: every replica claims the same plan (or one of P) over and over. Two shapes:
//!
//! - [`HotShape::Free`] (the default): each replica on its own claims the hot plan and,
//!   when it wins, resets the claim, then claims again, never waiting for another
//!   replica: what each pgbench client does with the same two statements.
//! - [`HotShape::Rounds`] (`rounds`): everyone claims at once and waits for everyone
//!   (a barrier) before the next round.
//!
//! Duplicates in the free shape are counted by the resets: only a winner resets, once,
//! right after its win, so each won row is deleted by its own winner. A reset that finds
//! no row means another replica's reset deleted this winner's row, which that replica
//! could do only while holding a claim won while the row was there: two winners of one
//! claim. Every extra winner leaves one reset without a row (the primary key admits one
//! row per plan, so an extra winner inserted nothing its reset can find, or its reset
//! took someone else's row), so a duplicate cannot go uncounted unless a reset failed
//! (the run's errors say so); and a legitimate win never makes a reset miss, so none is
//! counted falsely. No shared state is needed: the database's answers decide, where
//! the replicas' own clocks could not tell a claim won just after a reset committed
//! from one won just before.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::racer::{ClaimOps, Go, Racer, Tally};
use super::{PlanRange, Stop};

/// How `hot` is played.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum HotShape {
    /// Each replica claims, resets when it won and claims again, never waiting for the others (as pgbench's clients).
    #[default]
    Free,
    /// All claim at once, the one winner resets, and the next round waits for every replica's answer (a barrier).
    Rounds,
}

impl HotShape {
    /// The name the CLI and reports use.
    pub fn name(self) -> &'static str {
        match self {
            HotShape::Free => "free",
            HotShape::Rounds => "rounds",
        }
    }
}

impl std::fmt::Display for HotShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One replica's part in the free `hot`: claim a plan of `plans` (the hot plan when
/// there is one), reset it when won, until the stop.
#[derive(Debug, Clone, Copy)]
pub(super) struct FreeHot {
    pub(super) plans: PlanRange,
    pub(super) stop: Stop,
    pub(super) go: Go,
}

impl FreeHot {
    /// Plays until the stop: the statements of pgbench's `claim-reset-if-won` script, in
    /// its order, on the plan it draws (`random(first, last)`, or the one hot plan).
    pub(super) async fn play(&self, ops: &mut impl ClaimOps, rng: &mut ChaCha8Rng, tally: &mut Tally) {
        loop {
            let plan = match self.plans.count {
                0 | 1 => self.plans.nth(0),
                n => self.plans.nth(rng.random_range(0..u64::from(n))),
            };
            if tally.timed_claim(ops, plan).await == Some(true) {
                tally.reset_won(ops, plan).await;
            }
            if self.go.over(self.stop, tally.claims) {
                break;
            }
        }
    }

    /// Duplicate winners in what the replicas counted: their resets that found no row.
    pub(super) fn duplicates(tally: &Tally) -> u64 {
        tally.resets_missed
    }
}

impl Racer {
    /// The free `hot` on this replica's path to the store.
    pub(super) async fn free_hot(&mut self, go: Go, tally: &mut Tally) {
        let game = FreeHot { plans: self.plans, stop: self.stop, go };
        let mut rng = self.rng.clone();
        game.play(self, &mut rng, tally).await;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::Result;
    use crate::model::{EventType, PlanId};
    use crate::store::{Claim, MemoryStore, NewPlan, Store};

    /// A replica on the memory model whose answers take a turn of the scheduler to come
    /// back (so two replicas on one thread interleave like clients of one server), and
    /// whose claim, when `admitted`, is answered won even when the row is held: the
    /// claim admits it as a second winner.
    struct Replica {
        db: MemoryStore,
        admitted: bool,
        second_wins: u64,
    }

    impl ClaimOps for Replica {
        async fn claim(&mut self, plan: PlanId) -> Result<Claim> {
            let claim = self.db.claim_event(plan, EventType::PipelineFailed).await?;
            tokio::task::yield_now().await;
            if self.admitted && claim == Claim::Lost {
                self.second_wins += 1;
                return Ok(Claim::Won);
            }
            Ok(claim)
        }

        async fn reset(&mut self, plan: PlanId) -> Result<Option<EventType>> {
            let found = self.db.reset_claim(plan).await;
            tokio::task::yield_now().await;
            found
        }
    }

    /// Two replicas play 300 claims each on one hot plan, the second admitted as a second
    /// winner when `admitted`; returns their tallies, what the fault admitted and the
    /// rows left.
    async fn play_two(admitted: bool) -> (Tally, u64, u64) {
        let db = MemoryStore::new();
        let new = NewPlan { project: "bench".into(), title: "hot".into(), tasks: vec![] };
        let plan = db.create_plan(&new).await.unwrap().plan;
        let game = FreeHot {
            plans: PlanRange { first: plan.0, count: 1 },
            stop: Stop::ClaimsPerReplica(300),
            go: Go { deadline: None },
        };
        let mut a = Replica { db: db.clone(), admitted: false, second_wins: 0 };
        let mut b = Replica { db: db.clone(), admitted, second_wins: 0 };
        let (mut ta, mut tb) = (Tally::default(), Tally::default());
        let (mut ra, mut rb) = (ChaCha8Rng::seed_from_u64(1), ChaCha8Rng::seed_from_u64(2));
        tokio::join!(game.play(&mut a, &mut ra, &mut ta), game.play(&mut b, &mut rb, &mut tb));
        ta.merge(tb);
        let left = db.claims().await.unwrap().len() as u64;
        (ta, a.second_wins + b.second_wins, left)
    }

    #[tokio::test]
    async fn a_claim_that_admits_a_second_winner_is_counted_as_a_duplicate() {
        let (tally, admitted, left) = play_two(true).await;
        assert!(admitted > 0, "the fault never struck: the replicas did not race");
        assert_eq!((tally.claims, tally.errors), (600, 0));
        let duplicates = FreeHot::duplicates(&tally);
        assert!(duplicates > 0, "a second winner went uncounted");
        // Each second winner leaves exactly one reset without a row: its own, or the one
        // of the winner whose row its reset took.
        assert_eq!(duplicates, admitted, "{tally:?}");
        assert_eq!(left, 0, "every winner reset");
        assert_eq!(tally.wins, tally.resets_found + tally.resets_missed);
    }

    #[tokio::test]
    async fn replicas_racing_on_an_honest_claim_count_no_duplicate() {
        let (tally, admitted, left) = play_two(false).await;
        assert_eq!((admitted, left, tally.errors), (0, 0, 0));
        assert!(tally.wins > 0 && tally.wins < tally.claims, "they raced: {tally:?}");
        assert_eq!(FreeHot::duplicates(&tally), 0, "{tally:?}");
        assert_eq!(tally.resets_found, tally.wins);
    }

    #[test]
    fn every_shape_has_its_name() {
        for shape in [HotShape::Free, HotShape::Rounds] {
            assert_eq!(serde_json::to_value(shape).unwrap(), shape.name());
            assert_eq!(shape.to_string(), shape.name());
        }
        assert_eq!(HotShape::default(), HotShape::Free);
    }
}
