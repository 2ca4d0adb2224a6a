//! A scenario written in Rust instead of TOML: one plan whose migration fails, two
//! replicas, and the replica that wins the claim crashing right after it. Run under
//! the design plan's claim and under the outbox, each judged by the checker.
//!
//! ```text
//! cargo run --example scenario_in_rust
//! ```

use std::time::Duration;

use hasim::Sim;
use hasim::faults::CrashPoint;
use hasim::script::TaskScript;
use hasim::store::RunOutcome;
use hasim::strategy::StrategyKind;

fn main() -> hasim::Result<()> {
    let ms = Duration::from_millis;
    for strategy in [StrategyKind::SEED_CLAIM, StrategyKind::OUTBOX] {
        let migrate = TaskScript::done_after("migrate", ms(20))
            .then(RunOutcome::Failed { error: "boom".into() }, ms(20));
        let trace = Sim::builder()
            .replicas(2)
            .seed(7)
            .strategy(strategy)
            .plan("add-column", [migrate, TaskScript::done_after("backfill", ms(30))])
            .run_at(ms(1), "add-column")
            .crash_at(1, CrashPoint::AfterClaim, ms(100))
            .crash_at(2, CrashPoint::AfterClaim, ms(100))
            .run()?;
        let report = hasim::check(&trace);
        println!("{strategy}: {} history entries", trace.history.len());
        for event in &report.events {
            println!("  plan {} {}#{}: {}", event.plan, event.event, event.episode, event.verdict);
        }
    }
    Ok(())
}
