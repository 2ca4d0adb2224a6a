//! The words of a `[[reactions]]` rule: what a user watching the plans waits for,
//! and what they do when it happens. [`crate::reactions::Watch`] plays the rules.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ActionKind;
use crate::model::ReplicaId;

/// What a reaction waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum When {
    /// A run of one of the plan's tasks ended FAILED: a look finds a task whose latest
    /// run is FAILED, a run no earlier look saw.
    TaskFailed,
    /// The plan became complete: a look finds every task done or skipped.
    PlanComplete,
}

impl When {
    /// Every trigger, in the order the format document lists them.
    pub const ALL: [When; 2] = [When::TaskFailed, When::PlanComplete];

    /// The name scenario files use.
    pub fn as_str(self) -> &'static str {
        match self {
            When::TaskFailed => "task-failed",
            When::PlanComplete => "plan-complete",
        }
    }
}

/// Which tasks a reaction's action names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Which {
    /// The tasks whose latest run is FAILED when the user acts.
    Failed,
    /// Every task of the plan.
    All,
}

impl Which {
    /// The name scenario files use.
    pub fn as_str(self) -> &'static str {
        match self {
            Which::Failed => "failed",
            Which::All => "all",
        }
    }
}

/// One `[[reactions]]` rule, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// What it waits for.
    pub when: When,
    /// The plan it watches (index into the spec's plans); `None` for every plan.
    pub plan: Option<usize>,
    /// What the user does: `Run` (a retry), `Skip` or `Cancel`.
    pub action: ActionKind,
    /// Which tasks the action names.
    pub tasks: Which,
    /// How long the user takes to act once a look has shown the trigger.
    pub after: Duration,
    /// The replica that serves the request; `None` for round-robin.
    pub via: Option<ReplicaId>,
    /// At most this many actions per plan.
    pub max: u32,
}

impl Reaction {
    /// Whether the rule watches the `plan`-th plan.
    pub fn watches(&self, plan: usize) -> bool {
        self.plan.is_none_or(|p| p == plan)
    }

    /// The action as the user names it: a reaction's `Run` is a retry (the plan
    /// exists by the time anything happens to it).
    pub fn word(&self) -> &'static str {
        match self.action {
            ActionKind::Run => "retry",
            other => other.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ActionKind;

    fn rule(plan: Option<usize>, action: ActionKind) -> Reaction {
        Reaction {
            when: When::TaskFailed,
            plan,
            action,
            tasks: Which::Failed,
            after: Duration::ZERO,
            via: None,
            max: 1,
        }
    }

    #[test]
    fn a_rule_without_a_plan_watches_every_plan_and_one_with_a_plan_only_it() {
        assert!(rule(None, ActionKind::Run).watches(0) && rule(None, ActionKind::Run).watches(3));
        assert!(rule(Some(1), ActionKind::Run).watches(1));
        assert!(!rule(Some(1), ActionKind::Run).watches(0));
    }

    #[test]
    fn a_reactions_run_is_named_a_retry() {
        assert_eq!(rule(None, ActionKind::Run).word(), "retry");
        assert_eq!(rule(None, ActionKind::Skip).word(), "skip");
        assert_eq!(rule(None, ActionKind::Cancel).word(), "cancel");
    }

    #[test]
    fn names_round_trip_through_serde_as_the_file_spells_them() {
        for when in When::ALL {
            assert_eq!(serde_json::to_string(&when).unwrap(), format!("\"{}\"", when.as_str()));
        }
        for which in [Which::Failed, Which::All] {
            assert_eq!(serde_json::to_string(&which).unwrap(), format!("\"{}\"", which.as_str()));
        }
    }
}
