//! Scenario files from the outside: every malformed file of `tests/malformed/` is
//! rejected at the line and key its first line announces; the format document's
//! examples read, the complete one into exactly the expected scenario; and no input,
//! however broken, makes the reader panic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hasim::check::Verdict;
use hasim::faults::{CrashPoint, Fault, FaultKind, Trigger};
use hasim::model::{EventType, ReplicaId};
use hasim::reactions::{Reaction, When, Which};
use hasim::scenario::{self, ClaimCheck, EventRef, Expectation, ScenarioError, Target};
use hasim::script::{Attempt, PlanScript, TaskScript};
use hasim::spec::ActionKind;
use hasim::spec::ClusterConfig;
use hasim::spec::{ClusterSpec, TimedAction};
use hasim::store::{RunOutcome, StatusWrite};
use hasim::strategy::StrategyKind;
use hasim::webhook::{Answer, EndpointFault, IdPolicy, PolicyKeys, Scope, WebhookPolicies};
use proptest::prelude::*;

const MS: Duration = Duration::from_millis(1);
const DOC: &str = include_str!("../docs/scenario-format.md");

/// What a malformed file's first line, `# expect: <line>:<key>: <substring>`, says.
fn announced(path: &Path, text: &str) -> (usize, String, String) {
    let first = text.lines().next().unwrap_or_default();
    let rest = first.strip_prefix("# expect: ").unwrap_or_else(|| {
        panic!("{}: the first line must be `# expect: <line>:<key>: <message>`", path.display())
    });
    let (line, rest) = rest.split_once(':').expect("line:");
    let (key, message) = rest.split_once(": ").expect("key: message");
    (line.parse().expect("a line number"), key.to_owned(), message.to_owned())
}

fn malformed_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/malformed")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_malformed_file_is_rejected_where_its_comment_says() {
    let files = malformed_files();
    assert!(files.len() >= 24, "the corpus has {} files", files.len());
    let mut wrong = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable");
        let (line, key, message) = announced(path, &text);
        match scenario::load(path) {
            Ok(_) => wrong.push(format!("{}: accepted", path.display())),
            Err(e) => {
                let shown = e.to_string();
                let prefix = format!("{}:{}:{}: {}: ", path.display(), e.line, e.column, e.key);
                if e.line != line || e.key != key || !e.message.contains(&message) {
                    wrong
                        .push(format!("{}: expected {line}:{key}: …{message}…, got {shown}", path.display()));
                } else if e.file != path.display().to_string() || !shown.starts_with(&prefix) || e.column == 0
                {
                    wrong.push(format!("{}: badly shown: {shown}", path.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {} files:\n{}", wrong.len(), files.len(), wrong.join("\n"));
}

#[test]
fn a_file_that_cannot_be_read_has_no_position() {
    let e = scenario::load(Path::new("no/such/scenario.toml")).unwrap_err();
    assert_eq!((e.line, e.column, e.key.as_str()), (0, 0, ""));
    assert!(e.to_string().starts_with("no/such/scenario.toml: cannot read the file: "), "{e}");
}

/// The ```toml blocks of the format document, with the heading each comes under.
fn doc_examples() -> Vec<(String, String)> {
    let mut examples = Vec::new();
    let mut heading = String::new();
    let mut block: Option<String> = None;
    for line in DOC.lines() {
        match &mut block {
            Some(text) if line == "```" => {
                examples.push((heading.clone(), std::mem::take(text)));
                block = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None if line == "```toml" => block = Some(String::new()),
            None if line.starts_with('#') => heading = line.trim_start_matches('#').trim().to_owned(),
            None => {}
        }
    }
    examples
}

fn complete_example() -> String {
    doc_examples()
        .into_iter()
        .find(|(heading, _)| heading == "A complete example")
        .map(|(_, text)| text)
        .expect("the format document has a complete example")
}

#[test]
fn every_example_of_the_format_document_reads() {
    let examples = doc_examples();
    assert!(examples.len() >= 10, "{} examples", examples.len());
    for (heading, text) in examples {
        // A section's example shows its own tables; the rest of a file is filled in.
        let mut file = String::new();
        if !text.contains("\ndescription = ") && !text.starts_with("description = ") {
            file.push_str("name = \"doc\"\ndescription = \"an example of the format document\"\n");
        }
        file.push_str(&text);
        if !text.contains("[[plans]]") {
            file.push_str("\n[[plans]]\nname = \"deploy\"\n[[plans.tasks]]\nname = \"t1\"\n[[plans.tasks]]\nname = \"t2\"\n");
        }
        if !text.contains("[[timeline]]") {
            file.push_str("\n[[timeline]]\nat = \"0ms\"\nplan = \"deploy\"\naction = \"run\"\n");
        }
        if let Err(e) = scenario::parse(&heading, &file) {
            panic!("the example under {heading:?} does not read: {e}\n{file}");
        }
    }
}

#[test]
fn the_complete_example_reads_into_the_expected_scenario() {
    let text = complete_example();
    for key in [
        "seed",
        "strategy",
        "deadline",
        "max_duration",
        "replicas",
        "tick",
        "heartbeat",
        "abandon_after",
        "runs_per_tick",
        "status_write",
        "receiver",
        "timeout",
        "attempts",
        "backoff",
        "id",
        "secret",
        "status",
        "project",
        "duration",
        "failure_probability",
        "outcome",
        "error",
        "after",
        "via",
        "tasks",
        "when",
        "nth",
        "point",
        "replica",
        "restart_after",
        "until",
        "latency",
        "retry_after",
        "delay",
        "hang",
        "reset",
        "requests",
        "strategies",
        "pass",
        "deliveries",
        "verdicts",
        "episode",
        "verdict",
        "rows",
        "max",
    ] {
        assert!(text.contains(&format!("{key} = ")), "the complete example does not use {key}");
    }
    let s = scenario::parse("complete.toml", &text).unwrap_or_else(|e| panic!("{e}"));

    let r = |n| ReplicaId::nth(n);
    let expected = ClusterSpec {
        seed: 42,
        config: ClusterConfig {
            replicas: 3,
            tick: 50 * MS,
            heartbeat: 100 * MS,
            abandon_after: 600 * MS,
            runs_per_tick: 8,
            status_write: Some(StatusWrite::StatusGuarded),
        },
        strategy: StrategyKind::SEED_CLAIM,
        webhook: WebhookPolicies {
            every: PolicyKeys {
                timeout: Some(100 * MS),
                attempts: Some(3),
                backoff: Some(50 * MS),
                id: Some(IdPolicy::Stable),
            },
            by_strategy: vec![(
                StrategyKind::SHIPPED_CLAIM.to_string(),
                PolicyKeys {
                    timeout: Some(80 * MS),
                    attempts: Some(2),
                    backoff: Some(20 * MS),
                    id: Some(IdPolicy::Omitted),
                },
            )],
        },
        plans: vec![
            PlanScript {
                name: "deploy".into(),
                project: "shop".into(),
                tasks: vec![
                    TaskScript {
                        name: "t1".into(),
                        attempts: vec![
                            Attempt {
                                outcome: RunOutcome::Failed { error: "syntax error".into() },
                                duration: 80 * MS,
                            },
                            Attempt { outcome: RunOutcome::Done, duration: 40 * MS },
                        ],
                        failure_probability: 0.0,
                        duration: (40 * MS, 40 * MS),
                    },
                    TaskScript {
                        name: "t2".into(),
                        attempts: vec![],
                        failure_probability: 0.25,
                        duration: (20 * MS, 80 * MS),
                    },
                ],
            },
            PlanScript {
                name: "hotfix".into(),
                project: "demo".into(),
                tasks: vec![TaskScript::done_after("only", 10 * MS)],
            },
        ],
        timeline: vec![
            TimedAction { at: Duration::ZERO, plan: 0, action: ActionKind::Run, tasks: None, via: None },
            TimedAction {
                at: Duration::ZERO,
                plan: 1,
                action: ActionKind::Run,
                tasks: None,
                via: Some(r(2)),
            },
            TimedAction { at: 1000 * MS, plan: 0, action: ActionKind::Run, tasks: Some(vec![0]), via: None },
            TimedAction {
                at: 2000 * MS,
                plan: 0,
                action: ActionKind::Skip,
                tasks: Some(vec![1]),
                via: Some(r(3)),
            },
            TimedAction { at: 3000 * MS, plan: 1, action: ActionKind::Cancel, tasks: None, via: None },
        ],
        reactions: vec![Reaction {
            when: When::TaskFailed,
            plan: Some(0),
            action: ActionKind::Run,
            tasks: Which::Failed,
            after: 500 * MS,
            via: Some(r(1)),
            max: 2,
        }],
        faults: vec![
            Fault {
                index: 0,
                kind: FaultKind::Crash { replica: r(1), restart_after: Some(200 * MS) },
                trigger: Trigger::When { replica: r(1), point: CrashPoint::AfterClaim, nth: 2 },
            },
            Fault {
                index: 1,
                kind: FaultKind::Crash { replica: r(2), restart_after: None },
                trigger: Trigger::At { at: 1500 * MS, until: None },
            },
            Fault {
                index: 2,
                kind: FaultKind::DbPartition { replica: r(3), heal_after: None },
                trigger: Trigger::At { at: 300 * MS, until: Some(900 * MS) },
            },
            Fault {
                index: 3,
                kind: FaultKind::DbLatency { replica: r(2), latency: 40 * MS },
                trigger: Trigger::At { at: 100 * MS, until: None },
            },
            Fault {
                index: 4,
                kind: FaultKind::DbReset { replica: r(1) },
                trigger: Trigger::At { at: 2500 * MS, until: None },
            },
            Fault {
                index: 5,
                kind: FaultKind::Endpoint(EndpointFault {
                    behaviour: Answer::Status { code: 429, retry_after: Some(1000 * MS), delay: None },
                    scope: Scope::NextRequests(2),
                }),
                trigger: Trigger::At { at: Duration::ZERO, until: None },
            },
            Fault {
                index: 6,
                kind: FaultKind::Endpoint(EndpointFault {
                    behaviour: Answer::Hang,
                    scope: Scope::Window { from: 4000 * MS, until: Some(5000 * MS) },
                }),
                trigger: Trigger::At { at: 4000 * MS, until: Some(5000 * MS) },
            },
            Fault {
                index: 7,
                kind: FaultKind::Endpoint(EndpointFault {
                    behaviour: Answer::Reset,
                    scope: Scope::Window { from: 6000 * MS, until: None },
                }),
                trigger: Trigger::At { at: 6000 * MS, until: None },
            },
            Fault {
                index: 8,
                kind: FaultKind::Endpoint(EndpointFault {
                    behaviour: Answer::Status { code: 200, retry_after: None, delay: Some(300 * MS) },
                    scope: Scope::Window { from: 7000 * MS, until: Some(8000 * MS) },
                }),
                trigger: Trigger::At { at: 7000 * MS, until: Some(8000 * MS) },
            },
        ],
        claim_snapshots: vec![500 * MS, 10_000 * MS],
        deadline: 2000 * MS,
        max_duration: 20_000 * MS,
        database: hasim::topology::DatabaseSpec::default(),
    };
    assert_eq!(s.name, "complete");
    assert_eq!(s.description, "Every key of the format, once.");
    assert_eq!(s.spec, expected);
    assert_eq!(s.target, Target::Builtin);
    assert_eq!(s.secret.map(|k| k.to_string()).as_deref(), Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    assert_eq!(s.default_status, 204);

    let seed_claim = vec![StrategyKind::SEED_CLAIM];
    let failed = EventType::PipelineFailed;
    let completed = EventType::PipelineCompleted;
    assert_eq!(
        s.expectations,
        [
            Expectation {
                strategies: vec![],
                plan: None,
                pass: Some(true),
                deliveries: None,
                verdicts: vec![]
            },
            Expectation {
                strategies: seed_claim.clone(),
                plan: Some(0),
                pass: None,
                deliveries: Some(vec![
                    EventRef { event: failed, episode: Some(1) },
                    EventRef { event: completed, episode: None },
                ]),
                verdicts: vec![],
            },
            Expectation {
                strategies: seed_claim.clone(),
                plan: Some(1),
                pass: Some(true),
                deliveries: None,
                verdicts: vec![(EventRef { event: completed, episode: Some(1) }, Verdict::Delivered)],
            },
        ]
    );
    assert_eq!(
        s.claim_checks,
        [
            ClaimCheck { at: 500 * MS, strategies: seed_claim.clone(), rows: vec![(0, failed)] },
            ClaimCheck { at: 10_000 * MS, strategies: seed_claim, rows: vec![] },
        ]
    );
}

#[test]
fn defaults_are_those_of_the_format_document() {
    let s = scenario::parse(
        "minimal.toml",
        "name = \"n\"\ndescription = \"d\"\n[[plans]]\nname = \"p\"\n[[plans.tasks]]\nname = \"t\"\n\
         [[timeline]]\nat = \"0ms\"\nplan = \"p\"\naction = \"run\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.spec.seed, 1);
    assert_eq!(s.spec.strategy, StrategyKind::SEED_CLAIM);
    assert_eq!(s.spec.deadline, Duration::from_secs(2));
    assert_eq!(s.spec.max_duration, Duration::from_secs(30));
    assert_eq!(s.spec.config, ClusterConfig::default());
    assert_eq!(s.spec.webhook, WebhookPolicies::default());
    assert_eq!(s.spec.plans[0].project, "demo");
    assert_eq!(s.spec.plans[0].tasks[0], TaskScript::done_after("t", 40 * MS));
    assert_eq!((s.target, s.secret.is_none(), s.default_status), (Target::Builtin, true, 200));
    assert!(s.spec.faults.is_empty() && s.expectations.is_empty() && s.claim_checks.is_empty());
    assert!(s.spec.claim_snapshots.is_empty());
}

/// Pieces of TOML and of scenario values that reach the reader's corners.
const TOKENS: &[&str] = &[
    "\n",
    " ",
    "=",
    "\"",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ",",
    ".",
    "#",
    "'",
    "\\",
    "\"\"\"",
    "0",
    "-1",
    "1",
    "33",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "nan",
    "inf",
    "-0.0",
    "1e400",
    "true",
    "false",
    "1979-05-27T07:32:00Z",
    "\"-5ms\"",
    "\"0ms\"",
    "\"80\"",
    "\"1.5s\"",
    "\"99999999999h\"",
    "\"µs\"",
    "\"5sec\"",
    "\"\"",
    "\"r0\"",
    "\"r1\"",
    "\"r9\"",
    "\"deploy\"",
    "\"t1\"",
    "\"t3\"",
    "\"run\"",
    "\"skip\"",
    "\"cancel\"",
    "\"retry\"",
    "\"crash\"",
    "\"endpoint\"",
    "\"db-reset\"",
    "\"after-claim\"",
    "\"lost\"",
    "\"PIPELINE_FAILED\"",
    "[]",
    "[\"1ms\"]",
    "[\"9ms\", \"1ms\"]",
    "{ replica = \"r1\", point = \"during-send\" }",
    "[[faults]]",
    "[[plans]]",
    "[[plans.tasks]]",
    "[[timeline]]",
    "[[expect]]",
    "[[claims]]",
    "[cluster]",
    "[webhook]",
    "[webhook.outbox]",
    "[webhook.shipped-claim]",
    "\"none\"",
    "\"stable\"",
    "delay",
    "id",
    "kind",
    "at",
    "until",
    "when",
    "replica",
    "plan",
    "tasks",
    "name",
    "url",
    "\"http://\"",
    "\"https://x\"",
    "é",
    "\u{0}",
    "\r\n",
    "\t",
];

fn token() -> impl Strategy<Value = String> {
    proptest::sample::select(TOKENS).prop_map(str::to_owned)
}

/// One edit of a file: what to do, where (a fraction of the text), and with what.
#[derive(Debug, Clone)]
enum Edit {
    Insert(f64, String),
    Delete(f64, usize),
    /// Replace the value of a `key = value` line.
    Value(f64, String),
    /// Repeat a line.
    Repeat(f64),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0.0..1.0, token()).prop_map(|(at, t)| Edit::Insert(at, t)),
        (0.0..1.0, 1usize..12).prop_map(|(at, n)| Edit::Delete(at, n)),
        (0.0..1.0, token()).prop_map(|(at, t)| Edit::Value(at, t)),
        (0.0..1.0).prop_map(Edit::Repeat),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let lines: Vec<&str> = text.lines().collect();
    let pick = |at: f64, len: usize| ((at * len as f64) as usize).min(len.saturating_sub(1));
    match edit {
        Edit::Insert(at, t) => {
            let i = pick(*at, chars.len() + 1);
            chars[..i].iter().collect::<String>() + t + &chars[i..].iter().collect::<String>()
        }
        Edit::Delete(at, n) => {
            let i = pick(*at, chars.len());
            chars[..i].iter().chain(chars[(i + n).min(chars.len())..].iter()).collect()
        }
        Edit::Value(at, t) => {
            let mut lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            let i = pick(*at, lines.len());
            if let Some((key, _)) = lines[i].split_once(" = ") {
                lines[i] = format!("{key} = {t}");
            }
            lines.join("\n")
        }
        Edit::Repeat(at) => {
            let mut lines: Vec<&str> = lines.clone();
            let i = pick(*at, lines.len());
            lines.insert(i, lines[i]);
            lines.join("\n")
        }
    }
}

/// Parses `text`; an error must point inside the text.
fn parse_checked(text: &str) -> Result<(), TestCaseError> {
    if let Err(e @ ScenarioError { .. }) = scenario::parse("fuzz.toml", text) {
        let lines = text.split('\n').count();
        prop_assert!(e.line >= 1 && e.line <= lines && e.column >= 1, "{e} in {lines} lines");
        prop_assert!(!e.message.is_empty());
        let _ = e.to_string();
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn prop_any_text_is_read_without_panic(text in "(?s).{0,300}") {
        parse_checked(&text)?;
    }

    #[test]
    fn prop_any_token_soup_is_read_without_panic(tokens in proptest::collection::vec(token(), 0..80)) {
        parse_checked(&tokens.concat())?;
    }

    #[test]
    fn prop_any_mutation_of_a_valid_file_is_read_without_panic(
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let mut text = complete_example();
        for e in &edits {
            text = apply(&text, e);
        }
        parse_checked(&text)?;
    }
}
