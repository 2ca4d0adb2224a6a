//! What makes two counterexample files one violation: the same strategy, the same
//! verdict and the same **shape**.
//!
//! The shape is the file's lines, trimmed, without blank lines, comments and the
//! top-level `name`, `description` and `seed` keys. What is left is the cluster,
//! the plans and their attempts, the timeline, the faults and the `[[expect]]`
//! (strategy, plan, event, episode, verdict): the scenario that fails, less the
//! names that say where it was found and the seed, which draws only what the case
//! does not script (a search itself keeps one of two shrunk cases that differ only
//! in their seed).

use std::path::Path;

use crate::check::Verdict;
use crate::strategy::StrategyKind;

/// A counterexample file's violation: strategy, verdict, shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Identity {
    /// The strategy its `[[expect]]` names.
    pub strategy: StrategyKind,
    /// The verdict it expects (or, when the `[[expect]]` names none, its witness's).
    pub verdict: Verdict,
    /// The file less comments, blank lines, name, description and seed.
    pub shape: String,
}

impl Identity {
    /// A counterexample file's strategy, verdict and shape, or why it is not one.
    pub(super) fn read(path: &Path, text: &str) -> Result<Identity, String> {
        if !text.trim_start().starts_with("# Found by `hasim explore") {
            return Err(
                "it does not begin with the `# Found by `hasim explore ...` line that explore writes".into(),
            );
        }
        let scenario = crate::scenario::parse(&path.display().to_string(), text)
            .map_err(|e| format!("it is not a valid scenario: {e}"))?;
        let expect = match scenario.expectations.as_slice() {
            [e] if e.pass == Some(false) && e.strategies.len() == 1 => e,
            _ => return Err("it needs exactly one [[expect]], of one strategy, with pass = false".into()),
        };
        let verdict = match expect.verdicts.first() {
            Some((_, verdict)) => *verdict,
            None => witness_verdict(text)
                .ok_or("it names no verdict, in its [[expect]] or its witness comment")?,
        };
        Ok(Identity { strategy: expect.strategies[0], verdict, shape: shape(text) })
    }
}

/// The verdict of the witness comment, `# lost PIPELINE_FAILED#1: ...`.
fn witness_verdict(text: &str) -> Option<Verdict> {
    text.lines().filter_map(|l| l.strip_prefix("# ")).find_map(|comment| {
        let (word, rest) = comment.split_once(' ')?;
        let event = rest.split_once(':')?.0;
        event.contains('#').then(|| Verdict::ALL.into_iter().find(|v| v.as_str() == word))?
    })
}

/// The file's lines, trimmed, without blank lines, comments and the top-level
/// `name`, `description` and `seed`.
fn shape(text: &str) -> String {
    let mut top = true;
    let mut lines = Vec::new();
    for line in text.lines().map(str::trim) {
        top &= !line.starts_with('[');
        let key = line.split('=').next().unwrap_or_default().trim();
        let naming = top && matches!(key, "name" | "description" | "seed");
        if !(line.is_empty() || line.starts_with('#') || naming) {
            lines.push(line);
        }
    }
    lines.join("\n")
}

/// A counterexample file as explore writes one, with `faults` resets: for tests.
#[cfg(test)]
pub(super) fn sample(
    seed: u64,
    number: u32,
    strategy: StrategyKind,
    verdict: Verdict,
    faults: u16,
) -> (String, String) {
    use super::{Annotations, AttemptCase, Case, ExpectedVerdict, FaultCase, PlanCase, TaskCase};
    use crate::model::EventType;
    let case = Case {
        seed,
        replicas: 2,
        plans: vec![PlanCase {
            start: 0,
            via: None,
            tasks: vec![TaskCase { attempts: vec![AttemptCase { failed: true, after: 5 }] }],
            actions: vec![],
        }],
        faults: (0..faults).map(|at| FaultCase::DbReset { replica: 1, at }).collect(),
        replication: Default::default(),
    };
    let name = format!("explore-{strategy}-seed{seed}-case{number}");
    let notes = Annotations {
        name: name.clone(),
        description: format!("{strategy} mishandles PIPELINE_FAILED: a generated case, shrunk."),
        comments: vec![
            format!(
                "Found by `hasim explore --strategy {strategy} --seed {seed} --cases 9` (case {number})."
            ),
            format!("Replay: `hasim run {name}.toml`."),
            format!("{verdict} PIPELINE_FAILED#1: a witness"),
        ],
        expect: Some(ExpectedVerdict {
            strategy,
            plan: Some(0),
            event: EventType::PipelineFailed,
            episode: 1,
            verdict,
        }),
    };
    (format!("{name}.toml"), case.to_toml(strategy, &notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_leaves_out_comments_names_and_the_seed_only() {
        let (_, a) = sample(1, 3, StrategyKind::SEED_CLAIM, Verdict::Lost, 1);
        let (_, b) = sample(2, 8, StrategyKind::SEED_CLAIM, Verdict::Lost, 1);
        assert_ne!(a, b);
        assert_eq!(shape(&a), shape(&b));
        assert!(shape(&a).contains("name = \"p1\""), "plan names stay: {}", shape(&a));
        assert!(!shape(&a).contains("seed ="), "{}", shape(&a));
        let (_, c) = sample(1, 3, StrategyKind::SEED_CLAIM, Verdict::Lost, 2);
        assert_ne!(shape(&a), shape(&c));
    }

    #[test]
    fn a_file_reads_as_its_strategy_verdict_and_shape() {
        let (name, text) = sample(4, 2, StrategyKind::SHIPPED_CLAIM, Verdict::Duplicate, 1);
        let identity = Identity::read(Path::new(&name), &text).unwrap();
        assert_eq!((identity.strategy, identity.verdict), (StrategyKind::SHIPPED_CLAIM, Verdict::Duplicate));
        assert_eq!(identity.shape, shape(&text));
        // An [[expect]] that names no plan (nor verdict): the witness comment says it.
        let whole_run = text.replace("plan = \"p1\"\npass = false", "pass = false");
        let whole_run = whole_run[..whole_run.find("verdicts = [").unwrap()].to_owned();
        let identity = Identity::read(Path::new(&name), &whole_run).unwrap();
        assert_eq!(identity.verdict, Verdict::Duplicate);
    }

    #[test]
    fn the_verdict_comes_from_the_witness_when_the_expect_names_none() {
        assert_eq!(
            witness_verdict("# Found by x\n# wrong-payload PIPELINE_FAILED#2: names t1\n"),
            Some(Verdict::WrongPayload)
        );
        assert_eq!(witness_verdict("# Replay: `hasim run x.toml`.\n"), None);
    }
}
