//! The pgbench scripts that mirror each workload, generated from the very statements
//! the replicas send (`$n` parameters become pgbench variables, which `-M prepared`
//! sends as parameters again). Every script transaction holds exactly one claim (or
//! one relay step), so pgbench's transactions/s compare with hasim's claims/s.
//!
//! `hot` (free) is one script, claim then reset if won, as each replica plays it.
//! pgbench has no barrier, so `hot --shape rounds` cannot be played in rounds there.
//! Its mirror runs the rounds' statement mix instead: per R transactions, R-1 claims of
//! the hot plan and one reset followed by a claim (two scripts weighted R-1 and 1).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::mechanism::{
    ADVISORY_LOCK, INSERT_IF_ABSENT, Mechanism, ON_CONFLICT_CLAIM, PLAN_LOCK, RESET,
};
use super::super::outbox::{LEASE_LIMIT, MAX_LEASES};
use super::super::{HotShape, PlanRange, Workload};
use crate::store::{LEASE_EVENTS, MARK_DELIVERED};

/// The event every bench claim is for, as pgbench spells it (it cannot bind text).
const EVENT_LITERAL: &str = "'PIPELINE_FAILED'";

/// One pgbench script and its weight (`-f file@weight`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgbenchScript {
    /// A short name (`claim`, `reset-claim`...).
    pub name: String,
    /// Its weight.
    pub weight: u32,
    /// The script.
    pub text: String,
}

/// `sql` with its `$n` parameters replaced by `values[n - 1]`, highest first (so `$1`
/// never eats the start of `$10`).
fn bind(sql: &str, values: &[&str]) -> String {
    let mut text = sql.to_owned();
    for (i, value) in values.iter().enumerate().rev() {
        text = text.replace(&format!("${}", i + 1), value);
    }
    text
}

/// A claim statement in pgbench's spelling: `$1` is the plan `:p`, `$2` the event.
fn claim_sql(sql: &str) -> String {
    bind(sql, &[":p", EVENT_LITERAL])
}

/// The claim of `mechanism`, leaving `won_plan_id` set when it won.
fn claim_block(mechanism: Mechanism) -> String {
    match mechanism {
        Mechanism::OnConflict => format!("{} \\aset won_\n", claim_sql(ON_CONFLICT_CLAIM)),
        Mechanism::Advisory => format!(
            "BEGIN;\n{} \\gset\n\\if :got = 1\n{} \\aset won_\n\\endif\nCOMMIT;\n",
            claim_sql(ADVISORY_LOCK),
            claim_sql(INSERT_IF_ABSENT)
        ),
        Mechanism::ForUpdate => format!(
            "BEGIN;\n{};\n{} \\aset won_\nCOMMIT;\n",
            claim_sql(PLAN_LOCK),
            claim_sql(INSERT_IF_ABSENT)
        ),
    }
}

/// The relay step of `outbox`: the store's lease of one row for this client (`r` and
/// its number, as replicas are `r1`, `r2`...), and when it got one, the store's mark.
fn relay_step(lease: Duration) -> String {
    let lease_us = i64::try_from(lease.as_micros()).unwrap_or(i64::MAX);
    format!(
        "\\set limit {LEASE_LIMIT}\n\\set lease_us {lease_us}\n\\set max_leases {MAX_LEASES}\n\\set plan_id 0\n\
         {} \\aset\n\\if :plan_id > 0\n{};\n\\endif\n",
        bind(LEASE_EVENTS, &["('r' || :client_id)", ":limit", ":lease_us", ":max_leases"]),
        bind(MARK_DELIVERED, &[":plan_id", ":event_type", ":episode"]),
    )
}

/// The scripts that mirror `workload` (`hot` in `shape`) with `replicas` clients on
/// `plans` (`outbox`: relays taking leases of `lease`).
pub fn scripts(
    workload: Workload,
    shape: HotShape,
    mechanism: Mechanism,
    plans: PlanRange,
    replicas: usize,
    lease: Duration,
) -> Vec<PgbenchScript> {
    let reset = format!("{};\n", claim_sql(RESET));
    let claim = claim_block(mechanism);
    let random_plan = if plans.count == 1 {
        format!("\\set p {}\n", plans.first)
    } else {
        format!("\\set p random({}, {})\n", plans.first, plans.last())
    };
    let script = |name: &str, weight: u32, text: String| PgbenchScript { name: name.into(), weight, text };
    let reset_if_won =
        |plan: String| format!("\\set won_plan_id 0\n{plan}{claim}\\if :won_plan_id > 0\n{reset}\\endif\n");
    match workload {
        Workload::Hot if shape == HotShape::Free => {
            vec![script("claim-reset-if-won", 1, reset_if_won(random_plan))]
        }
        Workload::Hot => {
            let mut list = vec![script("reset-claim", 1, format!("{random_plan}{reset}{claim}"))];
            if replicas > 1 {
                list.insert(0, script("claim", replicas as u32 - 1, format!("{random_plan}{claim}")));
            }
            list
        }
        Workload::Spread => vec![script("claim", 1, format!("{random_plan}{claim}"))],
        Workload::Cycle => {
            let plan = format!("\\set p {} + :client_id % {}\n", plans.first, plans.count);
            vec![script("claim-reset-if-won", 1, reset_if_won(plan))]
        }
        Workload::Outbox => vec![script("lease-mark", 1, relay_step(lease))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(605);

    #[test]
    fn claim_scripts_use_the_racers_statements() {
        let plans = PlanRange { first: 7, count: 1 };
        let free = scripts(Workload::Hot, HotShape::Free, Mechanism::OnConflict, plans, 4, LEASE);
        assert_eq!(free.len(), 1);
        assert_eq!((free[0].name.as_str(), free[0].weight), ("claim-reset-if-won", 1));
        assert_eq!(
            free[0].text,
            "\\set won_plan_id 0\n\\set p 7\n\
             INSERT INTO plan_webhook_delivery (plan_id, event_type) VALUES (:p, 'PIPELINE_FAILED') \
             ON CONFLICT (plan_id) DO NOTHING RETURNING plan_id \\aset won_\n\
             \\if :won_plan_id > 0\n\
             DELETE FROM plan_webhook_delivery WHERE plan_id = :p RETURNING event_type;\n\
             \\endif\n",
            "the free hot's two statements, the reset only after a win"
        );
        let many = scripts(
            Workload::Hot,
            HotShape::Free,
            Mechanism::OnConflict,
            PlanRange { first: 7, count: 3 },
            2,
            LEASE,
        );
        assert!(many[0].text.contains("\\set p random(7, 9)\n"));

        let hot = scripts(Workload::Hot, HotShape::Rounds, Mechanism::OnConflict, plans, 4, LEASE);
        assert_eq!(
            hot.iter().map(|s| (s.name.as_str(), s.weight)).collect::<Vec<_>>(),
            [("claim", 3), ("reset-claim", 1)]
        );
        assert!(hot[0].text.starts_with("\\set p 7\nINSERT INTO plan_webhook_delivery"));
        assert!(hot[0].text.contains("VALUES (:p, 'PIPELINE_FAILED') ON CONFLICT (plan_id) DO NOTHING"));
        assert!(hot[1].text.contains("DELETE FROM plan_webhook_delivery WHERE plan_id = :p"));
        assert_eq!(scripts(Workload::Hot, HotShape::Rounds, Mechanism::OnConflict, plans, 1, LEASE).len(), 1);

        let spread = scripts(
            Workload::Spread,
            HotShape::Free,
            Mechanism::Advisory,
            PlanRange { first: 10, count: 100 },
            2,
            LEASE,
        );
        assert!(spread[0].text.contains("\\set p random(10, 109)"));
        assert!(spread[0].text.contains(
            "SELECT pg_try_advisory_xact_lock(hashtext(current_schema()), :p::int)::int AS got \\gset"
        ));
        assert!(spread[0].text.contains("WHERE plan_id = :p::bigint) RETURNING plan_id \\aset won_"));

        let cycle = scripts(
            Workload::Cycle,
            HotShape::Free,
            Mechanism::ForUpdate,
            PlanRange { first: 3, count: 8 },
            8,
            LEASE,
        );
        assert!(cycle[0].text.contains("\\set p 3 + :client_id % 8"));
        assert!(cycle[0].text.contains("SELECT id FROM plan WHERE id = :p FOR UPDATE;"));
        assert!(cycle[0].text.contains("\\if :won_plan_id > 0\nDELETE FROM plan_webhook_delivery"));
        assert!(!spread[0].text.contains("DELETE"), "spread keeps what it wins");
    }

    #[test]
    fn the_outbox_script_runs_the_stores_lease_and_mark() {
        let rows = PlanRange { first: 1, count: 9 };
        let outbox = scripts(Workload::Outbox, HotShape::Free, Mechanism::OnConflict, rows, 4, LEASE);
        assert_eq!(outbox.len(), 1);
        let text = &outbox[0].text;
        // pgbench leases as the bench's relays do: their batch, their lease in
        // microseconds, their lease cap.
        let head = format!(
            "\\set limit {LEASE_LIMIT}\n\\set lease_us {}\n\\set max_leases {MAX_LEASES}\n\\set plan_id 0\n",
            LEASE.as_micros()
        );
        assert!(text.starts_with(&head), "{text}");
        assert!(text.contains("SET leases = leases + 1, lease_owner = ('r' || :client_id), lease_until = now() + make_interval(secs => :lease_us::float8 / 1e6)"));
        assert!(text.contains("AND leases < :max_leases ORDER BY plan_id, episode, event_type LIMIT :limit FOR UPDATE SKIP LOCKED"));
        assert!(text.contains("RETURNING plan_id, event_type, episode, leases \\aset\n\\if :plan_id > 0\n"));
        assert!(text.contains(
            "WHERE plan_id = :plan_id AND event_type = :event_type AND episode = :episode AND delivered_at IS NULL"
        ));
        assert!(!text.contains('$'), "every parameter bound: {text}");
    }

    #[test]
    fn binding_replaces_the_highest_parameter_first() {
        assert_eq!(bind("$1 $10 $2", &["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]), "a j b");
    }
}
