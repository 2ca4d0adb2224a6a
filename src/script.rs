//! What each task run does when it executes: its outcome and how long it takes.
//!
//! A task either lists its attempts (attempt 1 fails with "syntax error" after 80 ms,
//! attempt 2 is done after 40 ms) or draws them at random with a failure probability.
//! Random draws come from the run's seed and the run's identity (plan, task, attempt),
//! never from the order in which replicas happen to take runs, so a seed replays.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::store::RunOutcome;

/// One scripted attempt of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// How the run ends (DONE or FAILED with an error).
    pub outcome: RunOutcome,
    /// How long it runs before ending.
    pub duration: Duration,
}

/// How a task's runs behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScript {
    /// The task's name.
    pub name: String,
    /// Scripted attempts, in order; attempts past the list are drawn at random.
    pub attempts: Vec<Attempt>,
    /// Chance that a drawn attempt fails.
    pub failure_probability: f64,
    /// Range of a drawn attempt's duration.
    pub duration: (Duration, Duration),
}

impl TaskScript {
    /// A task whose every run is done after `duration`.
    pub fn done_after(name: impl Into<String>, duration: Duration) -> Self {
        TaskScript {
            name: name.into(),
            attempts: vec![],
            failure_probability: 0.0,
            duration: (duration, duration),
        }
    }

    /// Adds a scripted attempt.
    pub fn then(mut self, outcome: RunOutcome, duration: Duration) -> Self {
        self.attempts.push(Attempt { outcome, duration });
        self
    }

    /// What attempt `attempt` (1-based) of this task, the `task`-th of the `plan`-th
    /// plan, does under `seed`.
    pub fn attempt(&self, seed: u64, plan: usize, task: usize, attempt: i32) -> Attempt {
        if let Some(scripted) = usize::try_from(attempt - 1).ok().and_then(|i| self.attempts.get(i)) {
            return scripted.clone();
        }
        let identity = (plan as u64) << 40 ^ (task as u64) << 20 ^ attempt as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ identity.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (low, high) = self.duration;
        let duration = if high > low { rng.random_range(low..=high) } else { low };
        let outcome = if rng.random_bool(self.failure_probability.clamp(0.0, 1.0)) {
            RunOutcome::Failed { error: format!("{} failed on attempt {attempt}", self.name) }
        } else {
            RunOutcome::Done
        };
        Attempt { outcome, duration }
    }
}

/// A plan as the user will create it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanScript {
    /// The plan's name in the scenario (its title in the database and in webhooks).
    pub name: String,
    /// Its project.
    pub project: String,
    /// Its tasks, in order.
    pub tasks: Vec<TaskScript>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn scripted_attempts_come_first_then_draws_that_depend_only_on_identity_and_seed() {
        let task = TaskScript {
            name: "t".into(),
            attempts: vec![Attempt {
                outcome: RunOutcome::Failed { error: "syntax error".into() },
                duration: 80 * MS,
            }],
            failure_probability: 0.5,
            duration: (10 * MS, 90 * MS),
        };
        assert_eq!(task.attempt(7, 0, 0, 1).outcome, RunOutcome::Failed { error: "syntax error".into() });
        assert_eq!(task.attempt(7, 0, 0, 2), task.attempt(7, 0, 0, 2), "same identity, same draw");
        let draws: Vec<Attempt> = (2..40).map(|a| task.attempt(7, 0, 0, a)).collect();
        assert!(draws.iter().any(|a| a.outcome == RunOutcome::Done));
        assert!(draws.iter().any(|a| a.outcome != RunOutcome::Done));
        assert!(draws.iter().all(|a| (10 * MS..=90 * MS).contains(&a.duration)));
        let other_seed: Vec<Attempt> = (2..40).map(|a| task.attempt(8, 0, 0, a)).collect();
        assert_ne!(draws, other_seed);
    }

    #[test]
    fn a_done_task_is_always_done() {
        let task = TaskScript::done_after("t", 5 * MS);
        assert!(
            (1..20)
                .all(|a| task.attempt(1, 2, 3, a) == Attempt { outcome: RunOutcome::Done, duration: 5 * MS })
        );
    }
}
