//! The shape of `src/`: a run flows one way, so no two top-level modules import each
//! other (`use crate::...` and `crate::...` paths, comments left out). Inside
//! `actors/` the actors talk to each other freely; that is one module here.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level module -> the top-level modules its files name through `crate::`.
type Imports = BTreeMap<String, BTreeSet<String>>;

/// The crate's sources.
fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("read src/").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level module a file of `src/` belongs to: `actors` for
/// `src/actors/replica/ctx.rs` and for `src/actors.rs`.
fn module_of(file: &Path) -> String {
    let first = file.strip_prefix(src()).unwrap().components().next().unwrap();
    let name = first.as_os_str().to_str().unwrap();
    name.strip_suffix(".rs").unwrap_or(name).to_owned()
}

/// `code` without its `//` and `/* */` comments (doc comments included).
fn without_comments(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The first identifier of `s`, if it starts with one.
fn ident(s: &str) -> Option<&str> {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// The modules `code` names right after `crate::`: `crate::store::Backend` names
/// `store`; `use crate::{history::Event, model}` names `history` and `model`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Each item at the group's own depth starts with a module (or an item of
            // the crate root, which names no module and is left out below).
            let (mut depth, mut item_start) = (0usize, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        names.extend(ident(&group[i..]).map(str::to_owned));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            names.extend(ident(rest).map(str::to_owned));
        }
    }
    names
}

/// Which top-level module of `src/` imports which.
fn imports() -> Imports {
    let files = rust_files(&src());
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let mut imports = Imports::new();
    for file in &files {
        let module = module_of(file);
        if module == "lib" || module == "main" {
            continue;
        }
        let code = without_comments(&fs::read_to_string(file).expect("read a source file"));
        let named: Vec<String> =
            named_modules(&code).into_iter().filter(|m| *m != module && modules.contains(m)).collect();
        imports.entry(module).or_default().extend(named);
    }
    imports
}

#[test]
fn the_scanner_reads_paths_and_groups_and_skips_comments() {
    let code = without_comments(
        "use crate::{history::{Event, Seq}, model,\n  store::Backend};\n\
         // use crate::check;\n/* crate::judge */ let x = crate::strategy::outbox::MAX;",
    );
    let names: Vec<String> = named_modules(&code).into_iter().collect();
    assert_eq!(names, ["history", "model", "store", "strategy"]);
}

#[test]
fn no_two_modules_of_src_import_each_other() {
    let imports = imports();
    let mutual: Vec<String> = imports
        .iter()
        .flat_map(|(a, named)| named.iter().map(move |b| (a, b)))
        .filter(|(a, b)| a < b && imports.get(*b).is_some_and(|back| back.contains(*a)))
        .map(|(a, b)| format!("{a} <-> {b}"))
        .collect();
    assert!(mutual.is_empty(), "modules that import each other: {mutual:?}");
    // The scan sees the graph at all: the actors run strategies' hooks on the store.
    assert!(imports["actors"].contains("store") && imports["strategy"].contains("actors"), "{imports:?}");
}

#[test]
fn the_actors_judge_nothing_and_a_scenario_file_knows_no_actor() {
    let imports = imports();
    for judging in ["check", "judge"] {
        assert!(!imports["actors"].contains(judging), "actors/ imports {judging}");
    }
    assert!(!imports["scenario"].contains("actors"), "scenario/ imports actors");
    assert!(!imports["spec"].contains("actors"), "spec/ imports actors");
}
