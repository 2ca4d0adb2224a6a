//! The strategies a process knows, by name: the four that ship and any a team
//! registers ([`register`]). Scenario files, `--strategy`, `compare`, `explore` and
//! the reports name a strategy by the name it was registered under, and a
//! [`StrategyKind`] is that name: a copyable handle on a registered [`Design`].
//!
//! The shipped designs are registered through [`register`]'s own path, before any
//! other, so they come first in [`StrategyKind::all`] (the order of `compare`'s
//! columns).

use std::any::TypeId;
use std::fmt;
use std::rc::Rc;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, RwLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{InMemory, Outbox, SeedClaim, ShippedClaim, Strategy};
use crate::store::StatusWrite;
use crate::webhook::IdPolicy;
use crate::{Error, Result};

/// A delivery design as a process knows it: its name, what it does unless a scenario
/// says otherwise, and how to make a fresh [`Strategy`] for a replica that starts.
///
/// ```
/// use hasim::strategy::{Design, Hook, ReplicaCtx, Strategy};
/// # use hasim::model::{PlanId, RunId, TaskId};
/// # use hasim::store::{Batch, EndedRun, NewRun};
/// struct Silent;
/// impl Strategy for Silent {
///     // ... the lifecycle hooks (see `Strategy`)
/// #   fn run_ended(&self, _r: ReplicaCtx, _run: EndedRun) -> Hook { Box::pin(async { Ok(()) }) }
/// #   fn check_completion(&self, _r: ReplicaCtx, _plan: PlanId) -> Hook { Box::pin(async { Ok(()) }) }
/// #   fn batch_run(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<NewRun>> {
/// #       Box::pin(async move { r.create_runs(plan, tasks).await })
/// #   }
/// #   fn batch_skip(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<TaskId>> {
/// #       Box::pin(async move { r.skip_tasks(plan, tasks).await })
/// #   }
/// }
/// let silent = hasim::strategy::register(Design::new("silent", || Silent).about("announces nothing"))?;
/// assert_eq!(silent.as_str(), "silent");
/// assert_eq!("silent".parse(), Ok(silent));
/// # Ok::<(), hasim::Error>(())
/// ```
pub struct Design {
    name: &'static str,
    about: &'static str,
    status_write: StatusWrite,
    webhook_id: IdPolicy,
    kind: TypeId,
    make: Box<dyn Fn() -> Rc<dyn Strategy> + Send + Sync>,
}

impl Design {
    /// The design `name` (lowercase letters, digits and dashes: the name files and
    /// the command line use), whose replicas each run a strategy `make` returns.
    /// By default its status writes are unfenced (the real system's `WHERE id = $1`)
    /// and its webhooks carry a stable `webhook-id`.
    pub fn new<S: Strategy + 'static>(
        name: &'static str,
        make: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self {
        Design {
            name,
            about: "",
            status_write: StatusWrite::Unfenced,
            webhook_id: IdPolicy::Stable,
            kind: TypeId::of::<S>(),
            make: Box::new(move || Rc::new(make())),
        }
    }

    /// One line on what the design does, for `--help` and `hasim strategies`.
    pub fn about(mut self, about: &'static str) -> Self {
        self.about = about;
        self
    }

    /// How a replica guards its status write of its own run when the scenario's
    /// `[cluster] status_write` does not say.
    pub fn status_write(mut self, write: StatusWrite) -> Self {
        self.status_write = write;
        self
    }

    /// Whether the design's requests carry a `webhook-id` when the scenario's
    /// `[webhook]` does not say.
    pub fn webhook_id(mut self, id: IdPolicy) -> Self {
        self.webhook_id = id;
        self
    }
}

/// The four designs hasim ships, in the order reports show them.
pub fn shipped() -> Vec<Design> {
    vec![
        Design::new("in-memory", InMemory::default)
            .about("before HA: each replica announces what it sees and remembers what it sent"),
        Design::new("seed-claim", || SeedClaim).about(
            "the design plan: claim with INSERT ... ON CONFLICT DO NOTHING, then send; \
             reset on BatchRunTasks; completion checks on an in-memory channel",
        ),
        Design::new("shipped-claim", || ShippedClaim)
            .about("the claim design as shipped: reset on run and skip, skip checks completion")
            .webhook_id(IdPolicy::Omitted),
        Design::new("outbox", || Outbox)
            .about("events written with the change that owes them, delivered by leased relays")
            .status_write(StatusWrite::Fenced),
    ]
}

/// Every registered design, the shipped ones first.
static REGISTRY: LazyLock<RwLock<Vec<Arc<Design>>>> = LazyLock::new(|| {
    let mut designs = Vec::new();
    for design in shipped() {
        add(&mut designs, design).expect("the shipped designs have distinct, valid names");
    }
    RwLock::new(designs)
});

/// Makes `design` known to this process under its name, so scenario files, the
/// command line and the reports can name it. Registering a name again with the same
/// strategy type replaces its settings; a name another type holds is refused.
pub fn register(design: Design) -> Result<StrategyKind> {
    add(&mut REGISTRY.write().unwrap_or_else(|p| p.into_inner()), design)
}

fn add(designs: &mut Vec<Arc<Design>>, design: Design) -> Result<StrategyKind> {
    let name = design.name;
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if name.is_empty() || !name.chars().all(valid) || name.starts_with('-') {
        return Err(Error::Strategy(format!(
            "cannot register {name:?}: a strategy's name is lowercase letters, digits and dashes"
        )));
    }
    match designs.iter_mut().find(|d| d.name == name) {
        Some(held) if held.kind != design.kind => {
            return Err(Error::Strategy(format!("the name {name:?} is taken by another strategy")));
        }
        Some(held) => *held = Arc::new(design),
        None => designs.push(Arc::new(design)),
    }
    Ok(StrategyKind(name))
}

/// The registered design named `name`.
fn design(name: &str) -> Option<Arc<Design>> {
    REGISTRY.read().unwrap_or_else(|p| p.into_inner()).iter().find(|d| d.name == name).cloned()
}

/// A registered strategy, by name: what a scenario's `strategy` key, `--strategy`
/// and the reports say. Made by [`register`] or read from a name (`"outbox".parse()`),
/// so it always names a registered design.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StrategyKind(&'static str);

impl StrategyKind {
    /// Before HA: each replica announces what it sees and remembers what it sent.
    pub const IN_MEMORY: StrategyKind = StrategyKind("in-memory");
    /// The design plan as written: claim with INSERT ... ON CONFLICT DO NOTHING, then
    /// send; reset on BatchRunTasks; completion checks on an in-memory channel.
    pub const SEED_CLAIM: StrategyKind = StrategyKind("seed-claim");
    /// The claim design as shipped after the skip fix: reset on run and skip, skip
    /// checks completion, empty batches do nothing.
    pub const SHIPPED_CLAIM: StrategyKind = StrategyKind("shipped-claim");
    /// hasim's design: events written with the change that owes them, delivered by
    /// leased relays on every replica.
    pub const OUTBOX: StrategyKind = StrategyKind("outbox");

    /// Every registered strategy, the shipped ones first, then in the order they were
    /// registered.
    pub fn all() -> Vec<StrategyKind> {
        REGISTRY.read().unwrap_or_else(|p| p.into_inner()).iter().map(|d| StrategyKind(d.name)).collect()
    }

    /// The name the CLI and scenario files use.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    fn design(self) -> Arc<Design> {
        design(self.0).expect("a StrategyKind names a registered design")
    }

    /// What the design does, in a line.
    pub fn about(self) -> &'static str {
        self.design().about
    }

    /// The status write this design makes when `[cluster] status_write` does not
    /// say (`docs/strategies.md`).
    pub fn status_write(self) -> StatusWrite {
        self.design().status_write
    }

    /// Whether this design's requests carry a `webhook-id` when the scenario does not
    /// say: the shipped system posts to Slack-like endpoints without one.
    pub fn webhook_id(self) -> IdPolicy {
        self.design().webhook_id
    }

    /// A fresh instance, for a replica that just started.
    pub fn build(self) -> Rc<dyn Strategy> {
        (self.design().make)()
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl FromStr for StrategyKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        design(s).map(|d| StrategyKind(d.name)).ok_or_else(|| {
            let known: Vec<&str> = StrategyKind::all().iter().map(|k| k.as_str()).collect();
            format!("unknown strategy {s:?} (known: {})", known.join(", "))
        })
    }
}

impl Serialize for StrategyKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for StrategyKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PlanId, TaskId};
    use crate::store::{Batch, EndedRun, NewRun};
    use crate::strategy::{Hook, ReplicaCtx};

    #[test]
    fn the_shipped_designs_come_first_in_their_order_with_their_defaults() {
        let all = StrategyKind::all();
        let shipped = [
            StrategyKind::IN_MEMORY,
            StrategyKind::SEED_CLAIM,
            StrategyKind::SHIPPED_CLAIM,
            StrategyKind::OUTBOX,
        ];
        assert_eq!(all[..4], shipped);
        let fenced: Vec<bool> = shipped.iter().map(|s| s.status_write() == StatusWrite::Fenced).collect();
        assert_eq!(fenced, [false, false, false, true], "only the outbox fences its status writes");
        let ids: Vec<IdPolicy> = shipped.iter().map(|s| s.webhook_id()).collect();
        use IdPolicy::{Omitted, Stable};
        assert_eq!(ids, [Stable, Stable, Omitted, Stable], "the shipped system sends no webhook-id");
    }

    #[test]
    fn a_name_reads_to_its_strategy_and_an_unknown_one_is_refused_with_the_known_ones() {
        for s in StrategyKind::all() {
            assert_eq!(s.as_str().parse(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<StrategyKind>(&format!("\"{s}\"")).unwrap(), s);
        }
        let err = "bogus".parse::<StrategyKind>().unwrap_err();
        assert!(err.contains("unknown strategy \"bogus\" (known: in-memory, seed-claim"), "{err}");
        assert!(serde_json::from_str::<StrategyKind>("\"bogus\"").is_err());
    }

    struct Other;
    impl Strategy for Other {
        fn run_ended(&self, _r: ReplicaCtx, _run: EndedRun) -> Hook {
            Box::pin(async { Ok(()) })
        }
        fn check_completion(&self, _r: ReplicaCtx, _plan: PlanId) -> Hook {
            Box::pin(async { Ok(()) })
        }
        fn batch_run(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<NewRun>> {
            Box::pin(async move { r.create_runs(plan, tasks).await })
        }
        fn batch_skip(&self, r: ReplicaCtx, plan: PlanId, tasks: Vec<TaskId>) -> Hook<Batch<TaskId>> {
            Box::pin(async move { r.skip_tasks(plan, tasks).await })
        }
    }

    #[test]
    fn a_registered_design_is_known_by_name_and_a_name_taken_by_another_type_is_refused() {
        let other = register(Design::new("registry-test-other", || Other).about("first")).unwrap();
        assert_eq!("registry-test-other".parse(), Ok(other));
        assert!(StrategyKind::all().contains(&other));
        // The same type again replaces the settings.
        let again = register(Design::new("registry-test-other", || Other).about("second")).unwrap();
        assert_eq!((again, again.about()), (other, "second"));
        // Another type under a taken name, shipped or not, is refused.
        let err = register(Design::new("outbox", || Other)).unwrap_err().to_string();
        assert!(err.contains("\"outbox\" is taken by another strategy"), "{err}");
        assert_eq!(StrategyKind::OUTBOX.status_write(), StatusWrite::Fenced, "the outbox is untouched");
        for bad in ["", "Has-Caps", "under_score", "-dash", "sp ace"] {
            let err = register(Design::new(bad, || Other)).unwrap_err().to_string();
            assert!(err.contains("lowercase letters, digits and dashes"), "{bad:?}: {err}");
        }
    }
}
