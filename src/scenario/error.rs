//! What is wrong with a scenario file, and where: `path:line:col: key: message`.

use std::fmt;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// A scenario file that cannot be used: bad TOML, a wrong type, an unknown or missing
/// key, or a value that makes no sense. Points at the offending value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScenarioError {
    /// The file, as the caller named it.
    pub file: String,
    /// 1-based line of the offending value; 0 when the file could not be read at all.
    pub line: usize,
    /// 1-based column (in characters) on that line; 0 with `line`.
    pub column: usize,
    /// The key path, e.g. `faults[2].until` (array positions 0-based); empty when the
    /// error is about the whole file.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file)?;
        if self.line > 0 {
            write!(f, "{}:{}:", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, " {}:", self.key)?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// A file being read: its name for messages and its text, to turn byte offsets into
/// lines and columns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    /// An error at byte offset `span.start`.
    pub fn error(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = self.position(span.start);
        ScenarioError { file: self.file.to_owned(), line, column, key: key.into(), message: message.into() }
    }

    /// The 1-based line and column of byte `offset` (clamped to the text).
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// A TOML error (syntax, or a type the raw types refused), positioned and keyed.
    pub fn toml_error(&self, error: &toml::de::Error) -> ScenarioError {
        let span = error.span().unwrap_or(0..0);
        let (tree, _) = DeTable::parse_recoverable(self.text);
        let mut key = locate(tree.get_ref(), &span);
        let mut message = humanize(error.message());
        if let Some(field) = missing_field(error.message()) {
            key = Some(join(&key.unwrap_or_default(), field));
            message = format!("missing required key `{field}`");
        }
        if error.message() == "duplicate key" {
            // The recovered tree holds the first one only: name the second by its text.
            let name = self.text.get(span.clone()).unwrap_or_default().trim_matches(['"', '\'']);
            key = Some(join(&context(tree.get_ref(), span.start), name));
            message = format!("duplicate key `{name}`: a key appears once per table");
        }
        let key = key.unwrap_or_else(|| context(tree.get_ref(), span.start));
        self.error(span, key, message)
    }
}

/// `a.b` from `a` and `b`; `b` from an empty path.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// The field a serde "missing field `x`" message names.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

/// Serde's wording, in the file's terms: keys not fields, tables not structs.
fn humanize(message: &str) -> String {
    let mut out = message.to_owned();
    if let Some(rest) = out.strip_prefix("unknown field `") {
        let (name, allowed) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed = allowed
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .replace(" or ", ", ");
        out = if allowed.is_empty() || allowed.starts_with(", there are no fields") {
            format!("unknown key `{name}`: this table takes no keys")
        } else {
            format!("unknown key `{name}` (allowed here: {allowed})")
        };
    }
    for (serde, file) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
    ] {
        out = out.replace(serde, file);
    }
    if let Some(at) = out.find("expected struct ") {
        out.truncate(at);
        out.push_str("expected a table");
    }
    out
}

/// The key path in `table` of the key or value at `span`: a key whose span is exactly
/// `span`, else the deepest value whose span is exactly `span`, else the smallest value
/// that contains it.
fn locate(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    let mut best: Option<Candidate> = None;
    walk_table(table, "", span, &mut best);
    best.map(|c| c.path)
}

struct Candidate {
    /// 0: the key itself, 1: a value exactly there, 2: a value around it.
    rank: u8,
    /// Span length (for "around": smaller is better) and depth (deeper is better).
    len: usize,
    depth: usize,
    path: String,
}

fn consider(best: &mut Option<Candidate>, rank: u8, len: usize, depth: usize, path: &str) {
    let better = match best {
        None => true,
        Some(b) => (rank, len, usize::MAX - depth) < (b.rank, b.len, usize::MAX - b.depth),
    };
    if better {
        *best = Some(Candidate { rank, len, depth, path: path.to_owned() });
    }
}

fn walk_table(table: &DeTable<'_>, path: &str, span: &Range<usize>, best: &mut Option<Candidate>) {
    for (key, value) in table.iter() {
        let here = join(path, key.get_ref());
        if key.span() == *span {
            consider(best, 0, 0, depth(&here), &here);
        }
        walk_value(value.get_ref(), value.span(), &here, span, best);
    }
}

fn walk_value(
    value: &DeValue<'_>,
    at: Range<usize>,
    path: &str,
    span: &Range<usize>,
    best: &mut Option<Candidate>,
) {
    if at == *span {
        consider(best, 1, 0, depth(path), path);
    } else if at.start <= span.start && span.end <= at.end {
        consider(best, 2, at.len(), depth(path), path);
    }
    match value {
        DeValue::Table(table) => walk_table(table, path, span, best),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_value(item.get_ref(), item.span(), &format!("{path}[{i}]"), span, best);
            }
        }
        _ => {}
    }
}

/// The table being written at byte `offset`: the one holding the last key before it,
/// or the last table header before it, whichever comes later.
fn context(table: &DeTable<'_>, offset: usize) -> String {
    let mut last: Option<(usize, String)> = None;
    context_in(table, "", offset, &mut last);
    last.map(|(_, path)| path).unwrap_or_default()
}

fn context_in(table: &DeTable<'_>, path: &str, offset: usize, last: &mut Option<(usize, String)>) {
    fn note(last: &mut Option<(usize, String)>, offset: usize, start: usize, path: &str) {
        if start < offset && last.as_ref().is_none_or(|(s, _)| start >= *s) {
            *last = Some((start, path.to_owned()));
        }
    }
    for (key, value) in table.iter() {
        let here = join(path, key.get_ref());
        note(last, offset, key.span().start, path);
        match value.get_ref() {
            DeValue::Table(inner) => {
                note(last, offset, value.span().start, &here);
                context_in(inner, &here, offset, last);
            }
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(inner) = item.get_ref() {
                        let here = format!("{here}[{i}]");
                        note(last, offset, item.span().start, &here);
                        context_in(inner, &here, offset, last);
                    }
                }
            }
            _ => {}
        }
    }
}

fn depth(path: &str) -> usize {
    path.matches(['.', '[']).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source<'_> {
        Source { file: "s.toml", text }
    }

    #[test]
    fn display_is_path_line_col_key_message() {
        let e = source("a = 1\nb = 2\n").error(8..9, "faults[2].until", "must be after at");
        assert_eq!((e.line, e.column), (2, 3));
        assert_eq!(e.to_string(), "s.toml:2:3: faults[2].until: must be after at");
        let whole = ScenarioError { key: String::new(), ..e.clone() };
        assert_eq!(whole.to_string(), "s.toml:2:3: must be after at");
        let unread = ScenarioError { line: 0, column: 0, ..e };
        assert_eq!(unread.to_string(), "s.toml: faults[2].until: must be after at");
    }

    #[test]
    fn columns_count_characters_and_offsets_clamp() {
        let s = source("name = \"é\"\nx = 1");
        assert_eq!(s.error(14..15, "", "").column, 3);
        assert_eq!(s.error(999..999, "", "").line, 2);
        assert_eq!(s.error(9..9, "", "").column, 9, "inside a multi-byte character");
    }

    #[test]
    fn locate_finds_keys_items_and_enclosing_values() {
        let text = "[cluster]\nreplicas = 1\n[[plans]]\nname = \"p\"\n[[plans]]\nname = \"q\"\n\
                    tasks = [ { name = \"t\", bogus = 1 } ]\n";
        let tree = DeTable::parse(text).unwrap();
        let find = |needle: &str| {
            let start = text.find(needle).unwrap();
            locate(tree.get_ref(), &(start..start + needle.len()))
        };
        assert_eq!(find("replicas").as_deref(), Some("cluster.replicas"));
        assert_eq!(find("\"q\"").as_deref(), Some("plans[1].name"));
        assert_eq!(find("bogus").as_deref(), Some("plans[1].tasks[0].bogus"));
        assert_eq!(find("[[plans]]").as_deref(), Some("plans[0]"));
        assert_eq!(find("{ name = \"t\", bogus = 1 }").as_deref(), Some("plans[1].tasks[0]"));
    }

    #[test]
    fn context_is_the_table_being_written() {
        let text = "a = 1\n[cluster]\nreplicas = 1\n[[plans]]\nname = \"p\"\n[[plans]]\n";
        let tree = DeTable::parse(text).unwrap();
        let at = |needle: &str| context(tree.get_ref(), text.find(needle).unwrap() + needle.len());
        assert_eq!(at("a = 1"), "");
        assert_eq!(at("replicas = 1"), "cluster");
        assert_eq!(at("name = \"p\""), "plans[0]");
        assert_eq!(context(tree.get_ref(), text.len()), "plans[1]");
        assert_eq!(context(tree.get_ref(), 0), "");
    }

    #[test]
    fn a_duplicate_key_is_named_in_its_table() {
        let text = "[cluster]\nreplicas = 1\nreplicas = 2\n";
        let error = toml::from_str::<toml::Table>(text).unwrap_err();
        let e = source(text).toml_error(&error);
        assert_eq!((e.line, e.key.as_str()), (3, "cluster.replicas"));
        assert!(e.message.contains("duplicate key `replicas`"), "{}", e.message);
    }

    #[test]
    fn serde_wording_becomes_the_files() {
        assert_eq!(
            humanize("unknown field `foo`, expected one of `name`, `seed`"),
            "unknown key `foo` (allowed here: `name`, `seed`)"
        );
        assert_eq!(
            humanize("unknown field `x`, expected `a` or `b`"),
            "unknown key `x` (allowed here: `a`, `b`)"
        );
        assert_eq!(
            humanize("invalid type: string \"x\", expected i64"),
            "invalid type: string \"x\", expected an integer"
        );
        assert_eq!(
            humanize("invalid type: integer `5`, expected struct RawCluster"),
            "invalid type: integer `5`, expected a table"
        );
        assert_eq!(missing_field("missing field `name`"), Some("name"));
    }
}
