//! Scenario files as the commands take them (a directory is its *.toml files), and
//! the JSON and HTML files they write; `hasim check`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::app::RunArgs;
use super::run::{Loaded, Report};

/// Writes `value` as JSON to `path`; `-` is stdout.
pub(super) fn write_json(path: Option<&Path>, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    if path == Path::new("-") {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, value).context("writing the JSON to stdout")?;
        return Ok(writeln!(stdout)?);
    }
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    serde_json::to_writer_pretty(std::io::BufWriter::new(file), value)
        .with_context(|| format!("writing {}", path.display()))
}

pub(super) fn write_html(path: Option<&Path>, page: impl FnOnce() -> String) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    std::fs::write(path, page()).with_context(|| format!("writing the HTML report {}", path.display()))
}

/// Every scenario named, directories expanded to their *.toml files in name order;
/// all are validated before any runs, and every bad one is reported.
/// `hasim check`: every file's verdict, as text (the errors alone when there are
/// any, exit 2) and, when asked, as JSON.
pub(super) fn check_files(paths: &[PathBuf], json: Option<&Path>) -> anyhow::Result<ExitCode> {
    #[derive(serde::Serialize)]
    struct Checked {
        path: PathBuf,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<crate::scenario::ScenarioError>,
    }
    let mut checked = Vec::new();
    for path in scenario_files(paths)? {
        let (name, error) = match crate::scenario::load(&path) {
            Ok(scenario) => (Some(scenario.name), None),
            Err(e) => (None, Some(e)),
        };
        checked.push(Checked { ok: error.is_none(), path, name, error });
    }
    let mut out = Report::new(json);
    let errors: Vec<_> = checked.iter().filter_map(|c| c.error.as_ref()).collect();
    for error in &errors {
        eprintln!("error: {error:#}");
    }
    if errors.is_empty() {
        for c in &checked {
            writeln!(out, "{}: ok ({})", c.path.display(), c.name.as_deref().unwrap_or_default())?;
        }
    }
    write_json(json, &serde_json::json!({ "version": 1, "files": checked }))?;
    Ok(if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// The scenario files `paths` name: each file, and each directory's *.toml files in
/// name order.
pub(super) fn scenario_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            if found.is_empty() {
                bail!("{}: no *.toml scenario files in this directory", path.display());
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

pub(super) fn load_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Loaded>> {
    let files = scenario_files(paths)?;
    let mut scenarios = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for path in files {
        match crate::scenario::read(&path) {
            Ok((scenario, text)) => scenarios.push(Loaded { path, text, scenario }),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.iter().map(|e| format!("{e:#}")).collect::<Vec<_>>().join("\nerror: "));
    }
    Ok(scenarios)
}

/// The scenarios `args` name: their files, then their built-in examples.
pub(super) fn load_run(args: &RunArgs) -> anyhow::Result<Vec<Loaded>> {
    let mut scenarios = if args.paths.is_empty() { Vec::new() } else { load_all(&args.paths)? };
    for name in &args.example {
        let (Some(scenario), Some(text)) = (crate::builtin::load(name), crate::builtin::text(name)) else {
            bail!("no built-in scenario named `{name}`: `hasim scenarios` lists them");
        };
        let path = PathBuf::from(format!("builtin:{name}"));
        scenarios.push(Loaded { path, text: text.to_owned(), scenario: scenario? });
    }
    Ok(scenarios)
}
