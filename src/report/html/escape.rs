//! Escaping for the report page: text and attribute values of HTML and SVG, and JSON
//! placed inside a `<script>` element, where `</script>` or `<!--` in the data must not
//! end or change the element.

/// `text` made safe as HTML or SVG text content or as a double-quoted attribute value.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `value` as JSON that can sit inside `<script type="application/json">`: `<`, `>`
/// and `&` only occur inside JSON strings, where `\u003c` and the like mean the same
/// to `JSON.parse` but cannot close the element or open a comment.
pub fn script_json(value: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(value).expect("report data serializes: plain structs and strings");
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_become_entities() {
        assert_eq!(html(r#"<b a="x">'&'</b>"#), "&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;");
        assert_eq!(html("plain r1 · 130ms"), "plain r1 · 130ms");
    }

    #[test]
    fn json_in_a_script_cannot_close_it_and_still_parses_back() {
        let tricky = vec!["</script><script>alert(1)</script>", "<!-- x -->", "a & b", "\u{2028}"];
        let json = script_json(&tricky);
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'), "{json}");
        let back: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, tricky);
    }
}
