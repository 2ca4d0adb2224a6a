//! The HTML timeline report, read back as structure: which lanes, fault bands, crash
//! marks, deliveries and violation flags each timeline holds, by their `data-*`
//! attributes, checked against the run's history and the checker's verdicts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::hasim;
use hasim::faults::FaultKind;
use hasim::history::{Entry, Event};
use hasim::report::html::{self, Section};
use hasim::runner::ScenarioRun;
use hasim::scenario::Scenario;
use hasim::strategy::StrategyKind;

/// A start tag of the page, with the timeline and lane it sits in.
#[derive(Debug)]
struct Element {
    tag: String,
    attrs: BTreeMap<String, String>,
    timeline: Option<usize>,
    lane: Option<String>,
}

impl Element {
    fn get(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    fn kind(&self) -> Option<&str> {
        self.get("data-kind")
    }

    fn list(&self, name: &str) -> Vec<u64> {
        self.get(name).map_or(vec![], |v| v.split(' ').map(|n| n.parse().expect("a number")).collect())
    }
}

/// Every start tag of `page` outside `<script>` and `<style>`, in order. The page
/// quotes every attribute value with `"` and escapes markup in it, so this suffices.
fn elements(page: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let (mut timeline, mut lane) = (None, None);
    let mut rest = page;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let name_len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        if name_len == 0 {
            continue;
        }
        let tag = rest[..name_len].to_ascii_lowercase();
        let end = rest.find('>').expect("every tag is closed");
        let mut attrs = BTreeMap::new();
        let mut text = &rest[name_len..end];
        while let Some(eq) = text.find("=\"") {
            let name = text[..eq].trim().rsplit(' ').next().unwrap_or_default().to_owned();
            let close = text[eq + 2..].find('"').expect("a closing quote");
            attrs.insert(name, unescape(&text[eq + 2..eq + 2 + close]));
            text = &text[eq + 2 + close + 1..];
        }
        rest = &rest[end + 1..];
        if tag == "div" {
            if let Some(t) = attrs.get("data-timeline") {
                timeline = Some(t.parse().expect("a timeline number"));
                lane = None;
            }
            if let Some(l) = attrs.get("data-lane") {
                lane = Some(l.clone());
            }
        }
        if tag == "script" || tag == "style" {
            let close = format!("</{tag}>");
            rest = &rest[rest.find(&close).expect("a closed script or style")..];
        }
        out.push(Element { tag, attrs, timeline, lane: lane.clone() });
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn page(scenario: &Scenario, runs: &[ScenarioRun]) -> String {
    html::render("test", &[Section { scenario, runs }])
}

/// The lane a replica incarnation (`r1.2`) draws in.
fn lane_of(replica: &str) -> String {
    replica.split('.').next().unwrap().to_owned()
}

/// Checks timeline `t` of `els` against `run`, a run of `scenario`.
#[track_caller]
fn check_timeline(els: &[Element], t: usize, scenario: &Scenario, run: &ScenarioRun) {
    let what = format!("{} under {} (timeline {t})", scenario.name, run.strategy);
    let mine: Vec<&Element> = els.iter().filter(|e| e.timeline == Some(t)).collect();
    let head = mine.iter().find(|e| e.get("data-timeline").is_some()).expect("the timeline");
    assert_eq!(head.get("data-strategy"), Some(run.strategy.to_string().as_str()), "{what}");
    let history = &run.result.history;

    // Lanes: violations, the user, every replica in order, the receiver.
    let lanes: Vec<&str> =
        mine.iter().filter(|e| e.tag == "div").filter_map(|e| e.get("data-lane")).collect();
    let mut want = vec!["violations".to_owned(), "user".to_owned()];
    want.extend((1..=scenario.spec.config.replicas).map(|n| format!("r{n}")));
    want.push("receiver".to_owned());
    assert_eq!(lanes, want, "{what}: lanes");

    // A band for every fault that struck, over the lane it hits.
    let mut bands: Vec<(u64, String)> = mine
        .iter()
        .filter(|e| e.kind() == Some("band"))
        .map(|e| (e.list("data-fault")[0], e.lane.clone().expect("a band sits in a lane")))
        .collect();
    let mut struck: Vec<(u64, String)> = history
        .iter()
        .filter_map(|e| match e.event {
            Event::FaultStarted { fault, .. } => Some((fault, e)),
            _ => None,
        })
        .map(|(index, entry)| {
            let fault = scenario.spec.faults.iter().find(|f| f.index == index).expect("a listed fault");
            let lane = match (&fault.kind, fault.replica()) {
                (FaultKind::Endpoint(_), _) => "receiver".to_owned(),
                // A fault at a point for whichever replica strikes the one that got there.
                (_, Some(replica)) if replica.is_any() => {
                    lane_of(entry.by.as_ref().expect("the struck replica").as_str())
                }
                (_, replica) => lane_of(replica.expect("a replica fault").as_str()),
            };
            (index as u64, lane)
        })
        .collect();
    bands.sort();
    struck.sort();
    assert_eq!(bands, struck, "{what}: fault bands");

    // A flag for every violation, and only those, with its witness.
    let mut flags: Vec<(String, String, String, String, Vec<u64>)> = mine
        .iter()
        .filter(|e| e.kind() == Some("violation"))
        .map(|e| {
            let g = |n: &str| e.get(n).unwrap_or_default().to_owned();
            (g("data-verdict"), g("data-plan-id"), g("data-event"), g("data-episode"), e.list("data-seq"))
        })
        .collect();
    let mut found: Vec<(String, String, String, String, Vec<u64>)> = run
        .result
        .report
        .violations()
        .map(|v| {
            let (verdict, plan, event) = (v.verdict.to_string(), v.plan.to_string(), v.event.to_string());
            (verdict, plan, event, v.episode.to_string(), v.witness.entries.clone())
        })
        .collect();
    flags.sort();
    found.sort();
    assert_eq!(flags, found, "{what}: violation flags");
    assert_eq!(head.get("data-violations"), Some(found.len().to_string().as_str()), "{what}");
    for (i, v) in run.result.report.violations().enumerate() {
        let flag = mine.iter().find(|e| e.list("data-violation") == [i as u64]).expect("the flag");
        if let Some(cause) = v.caused_at {
            assert_eq!(flag.list("data-at"), [cause.as_micros() as u64], "{what}: flag {i} at its cause");
        }
        for seq in &v.witness.entries {
            let outlined = mine.iter().any(|e| {
                e.kind() != Some("violation")
                    && e.list("data-seq").contains(seq)
                    && e.list("data-witness").contains(&(i as u64))
            });
            assert!(outlined, "{what}: witness entry #{seq} of violation {i} is drawn and outlined");
        }
    }

    // Every history entry is drawn somewhere, and nothing else is.
    let drawn: BTreeSet<u64> = mine
        .iter()
        .filter(|e| !matches!(e.kind(), Some("violation" | "diverge") | None))
        .flat_map(|e| e.list("data-seq"))
        .collect();
    assert_eq!(drawn, history.iter().map(|e| e.seq).collect(), "{what}: entries drawn");

    // Crash and restart marks in the lane of the replica.
    for (kind, entries) in [("crash", crashes(history)), ("restart", restarts(history))] {
        let mut marks: Vec<(u64, String)> = mine
            .iter()
            .filter(|e| e.kind() == Some(kind))
            .map(|e| (e.list("data-seq")[0], e.lane.clone().expect("in a lane")))
            .collect();
        marks.sort();
        assert_eq!(marks, entries, "{what}: {kind} marks");
    }

    // Every request the receiver got, in the receiver's lane.
    let mut requests: Vec<u64> = mine
        .iter()
        .filter(|e| e.kind() == Some("delivery") && e.lane.as_deref() == Some("receiver"))
        .flat_map(|e| e.list("data-request"))
        .collect();
    requests.sort();
    assert_eq!(requests, (0..run.result.requests.len() as u64).collect::<Vec<_>>(), "{what}: deliveries");
}

/// What a history did before `until_us`: (time, replica, entry without its positions),
/// sorted, so that the order within an instant does not count.
fn happened(history: &[Entry], until_us: u64) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = history
        .iter()
        .filter(|e| (e.at.as_micros() as u64) < until_us)
        .map(|e| {
            let mut value = serde_json::to_value(e).unwrap();
            value.as_object_mut().unwrap().remove("seq");
            value.as_object_mut().unwrap().remove("invoked");
            (e.at.as_micros() as u64, value.to_string())
        })
        .collect();
    out.sort();
    out
}

fn crashes(history: &[Entry]) -> Vec<(u64, String)> {
    history
        .iter()
        .filter_map(|e| match &e.event {
            Event::Crashed { replica, .. } => Some((e.seq, lane_of(replica.as_str()))),
            _ => None,
        })
        .collect()
}

fn restarts(history: &[Entry]) -> Vec<(u64, String)> {
    history
        .iter()
        .filter_map(|e| match &e.event {
            Event::Restarted { replica } => Some((e.seq, lane_of(replica.as_str()))),
            _ => None,
        })
        .collect()
}

#[test]
fn every_shipped_scenario_draws_its_lanes_bands_and_violations_where_the_checker_found_them() {
    let names = common::shipped_scenarios();
    assert!(names.len() >= 12, "{names:?}");
    let mut violations = 0;
    for name in names {
        let scenario = common::shipped(&name);
        let run = common::run_on_memory(&scenario, None);
        violations += run.result.report.violations().count();
        let text = page(&scenario, std::slice::from_ref(&run));
        let els = elements(&text);
        check_timeline(&els, 0, &scenario, &run);
        for e in &els {
            assert!(e.get("src").is_none() && e.tag != "link", "{name}: the page fetches nothing: {e:?}");
            let href = e.get("href").unwrap_or("#");
            assert!(href.starts_with('#'), "{name}: links stay in the page: {e:?}");
        }
    }
    assert!(violations > 0, "the shipped scenarios show some violations");
}

#[test]
fn compare_draws_a_timeline_per_strategy_on_one_scale_marked_where_each_leaves_the_one_above() {
    let scenario = common::shipped("crash-after-claim.toml");
    let runs: Vec<ScenarioRun> =
        StrategyKind::all().iter().map(|s| common::run_on_memory(&scenario, Some(*s))).collect();
    let els = elements(&page(&scenario, &runs));
    for (t, run) in runs.iter().enumerate() {
        check_timeline(&els, t, &scenario, run);
    }
    let scales: BTreeSet<&str> = els.iter().filter_map(|e| e.get("data-px-per-ms")).collect();
    assert_eq!(scales.len(), 1, "one scale: {scales:?}");
    let widths: BTreeSet<&str> =
        els.iter().filter(|e| e.get("class") == Some("plot")).filter_map(|e| e.get("width")).collect();
    assert_eq!(widths.len(), 1, "aligned plots: {widths:?}");

    for t in 1..runs.len() {
        let (above, this) = (&runs[t - 1].result.history, &runs[t].result.history);
        let mark = els.iter().find(|e| e.timeline == Some(t) && e.kind() == Some("diverge") && e.tag == "g");
        let Some(mark) = mark else {
            assert!(els.iter().any(|e| e.timeline == Some(t) && e.kind() == Some("same")), "timeline {t}");
            assert_eq!(happened(above, u64::MAX), happened(this, u64::MAX), "timeline {t} is the same");
            continue;
        };
        let at = mark.list("data-at")[0];
        assert_eq!(happened(above, at), happened(this, at), "timeline {t}: the same before {at}µs");
        assert_ne!(happened(above, at + 1), happened(this, at + 1), "timeline {t}: not at {at}µs");
        for seq in mark.list("data-seq") {
            assert_eq!(this[seq as usize].at.as_micros() as u64, at, "timeline {t}: #{seq} is there");
        }
    }
    assert!(els.iter().all(|e| e.timeline != Some(0) || e.kind() != Some("diverge")), "the first has none");
}

#[test]
fn runs_in_real_time_are_not_compared_moment_by_moment() {
    let scenario = common::shipped("crash-after-claim.toml");
    let mut runs: Vec<ScenarioRun> = [StrategyKind::SEED_CLAIM, StrategyKind::OUTBOX]
        .iter()
        .map(|s| common::run_on_memory(&scenario, Some(*s)))
        .collect();
    runs[1].store = "postgres";
    let els = elements(&page(&scenario, &runs));
    let notes: Vec<Option<&str>> =
        els.iter().filter(|e| e.timeline == Some(1) && e.tag == "text").map(|e| e.kind()).collect();
    assert!(notes.contains(&Some("real-time")), "{notes:?}");
    assert!(!els.iter().any(|e| e.kind() == Some("diverge")), "no divergence drawn");
}

#[test]
fn a_run_of_16_replicas_and_200_plans_stays_small_and_starts_folded() {
    let mut text = String::from(
        "name = \"large\"\ndescription = \"200 plans on 16 replicas\"\nseed = 5\n\
         [cluster]\nreplicas = 16\nruns_per_tick = 4\n",
    );
    for p in 0..200 {
        text.push_str(&format!("[[plans]]\nname = \"plan-{p:03}\"\n"));
        for t in 0..3 {
            text.push_str(&format!(
                "  [[plans.tasks]]\n  name = \"t{t}\"\n  duration = [\"20ms\", \"150ms\"]\n  failure_probability = 0.2\n"
            ));
        }
    }
    for p in 0..200 {
        let name = format!("plan-{p:03}");
        text.push_str(&format!("[[timeline]]\nat = \"{}ms\"\nplan = \"{name}\"\naction = \"run\"\n", p * 5));
        text.push_str(&format!(
            "[[timeline]]\nat = \"{}ms\"\nplan = \"{name}\"\naction = \"retry\"\n",
            3000 + p * 5
        ));
    }
    let scenario = hasim::scenario::parse("large.toml", &text).expect("the generated scenario");
    let run = common::run_on_memory(&scenario, None);
    assert!(run.result.quiesced, "the large run ends");
    let page = page(&scenario, std::slice::from_ref(&run));
    let (entries, requests) = (run.result.history.len(), run.result.requests.len());
    assert!(entries > 3000, "a large history: {entries} entries");
    assert!(page.len() < 3_000_000, "{} bytes for {entries} entries and {requests} requests", page.len());
    let els = elements(&page);
    check_timeline(&els, 0, &scenario, &run);
    assert!(els.iter().any(|e| e.get("data-fold") == Some("1")), "16 replica lanes start folded");
    let options = els.iter().filter(|e| e.tag == "option").count();
    assert_eq!(options, 201, "a plan filter with every plan");
}

#[test]
fn markup_in_names_errors_and_descriptions_cannot_break_the_page() {
    let text = r#"
name = "tricky"
description = "</script><script>alert('d')</script> & <!-- more"
[cluster]
replicas = 1
[[plans]]
name = "<b>plan</b>"
  [[plans.tasks]]
  name = "t"
  attempts = [{ outcome = "failed", error = "</script><script>alert('e')</script>", after = "10ms" }]
[[timeline]]
at = "0ms"
plan = "<b>plan</b>"
action = "run"
"#;
    let scenario = hasim::scenario::parse("tricky.toml", text).expect("the scenario");
    let run = common::run_on_memory(&scenario, None);
    let page = page(&scenario, std::slice::from_ref(&run));
    assert_eq!(page.matches("<script").count(), 2, "the page's script and one timeline's data");
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(!page.contains("<b>plan</b>") && !page.contains("<!-- more"), "markup is escaped");
    let start = page.find(r#"<script type="application/json" class="data">"#).expect("the data");
    let json = &page[start..][page[start..].find('>').unwrap() + 1..];
    let json = &json[..json.find("</script>").unwrap()];
    let data: serde_json::Value = serde_json::from_str(json).expect("the data is JSON");
    let errors: Vec<&str> =
        data["entries"].as_array().unwrap().iter().filter_map(|e| e["error"].as_str()).collect();
    assert!(
        errors.contains(&"</script><script>alert('e')</script>"),
        "the error reads back intact: {errors:?}"
    );
    assert_eq!(data["plans"][0], "<b>plan</b>");
}

fn temp(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{name}", std::process::id()))
}

#[test]
fn run_and_compare_write_the_page_without_changing_their_output_or_exit_status() {
    let path = temp("run.html");
    let plain = hasim(&["run", "scenarios/crash-after-claim.toml", "--no-results"]);
    let with =
        hasim(&["run", "scenarios/crash-after-claim.toml", "--no-results", "--html", path.to_str().unwrap()]);
    assert_eq!(with.status.code(), plain.status.code());
    assert_eq!(with.status.code(), Some(0), "{}", String::from_utf8_lossy(&with.stderr));
    assert_eq!(with.stdout, plain.stdout, "the terminal report is the same");
    let els = elements(&std::fs::read_to_string(&path).expect("the page"));
    assert_eq!(els.iter().filter(|e| e.get("data-timeline").is_some()).count(), 1);

    let compared = temp("compare.html");
    let out = hasim(&["compare", "scenarios/crash-after-claim.toml", "--html", compared.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let els = elements(&std::fs::read_to_string(&compared).expect("the page"));
    let strategies: Vec<&str> = els.iter().filter_map(|e| e.get("data-strategy")).collect();
    assert_eq!(strategies, ["in-memory", "seed-claim", "shipped-claim", "outbox"]);
    for p in [path, compared] {
        std::fs::remove_file(p).ok();
    }
}

#[test]
fn a_page_that_cannot_be_written_is_an_error_naming_its_path_with_exit_status_2() {
    let bad = temp("no-such-dir/report.html");
    let out = hasim(&["run", "scenarios/happy-path.toml", "--html", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(bad.to_str().unwrap()) && !stderr.contains("panicked"), "{stderr}");

    let out = hasim(&["run", "scenarios/happy-path.toml", "--check-determinism", "--html", "x.html"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--html") && !Path::new("x.html").exists(), "{stderr}");
}
