//! Text for workflows: HTML to text and to Markdown, Markdown to (safe) HTML, CSS-selector
//! extraction from HTML (n8n's HTML node), and regular expressions.
//!
//! Regular expressions use the `regex` crate: linear time in the input, no backreferences or
//! look-around, so a pattern cannot run away; compiled size is bounded too.

use regex::{Regex, RegexBuilder};
use scraper::node::Node;
use scraper::{ElementRef, Html, Selector};
use serde_json::{Map, Value, json};

use super::{DataError, Result};

/// Largest compiled regular expression.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Most matches returned by one `extract`.
pub const MAX_MATCHES: usize = 100_000;

fn invalid(field: &str, message: impl Into<String>) -> DataError {
    DataError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The visible text of an HTML document, wrapped at `width` columns; links keep their targets
/// as footnotes, tables stay tables.
pub fn html_to_text(html: &str, width: usize) -> Result<String> {
    html2text::from_read(html.as_bytes(), width.clamp(20, 10_000))
        .map_err(|e| DataError::Malformed(format!("HTML: {e}")))
}

/// Markdown as HTML (GitHub flavour: tables, strikethrough, task lists). Raw HTML in the
/// Markdown is escaped unless `allow_html`, so user text cannot inject scripts.
pub fn markdown_to_html(markdown: &str, allow_html: bool) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) if !allow_html => Event::Text(html),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// Markdown for an HTML document: headings, paragraphs, emphasis, links, images, lists, code,
/// quotes, rules and tables; scripts and styles are dropped.
pub fn html_to_markdown(html: &str) -> String {
    let document = Html::parse_document(html);
    let mut writer = MarkdownWriter::default();
    writer.children(document.root_element());
    let mut out = writer.out.trim().to_owned();
    out.push('\n');
    out
}

#[derive(Default)]
struct MarkdownWriter {
    out: String,
    /// Nesting of lists: `Some(n)` counts ordered items, `None` is a bulleted list.
    lists: Vec<Option<usize>>,
    quote_depth: usize,
}

impl MarkdownWriter {
    fn block_break(&mut self) {
        let trimmed = self.out.trim_end_matches([' ', '\n']).len();
        self.out.truncate(trimmed);
        if !self.out.is_empty() {
            self.out.push_str("\n\n");
            self.prefix();
        }
    }

    fn prefix(&mut self) {
        for _ in 0..self.quote_depth {
            self.out.push_str("> ");
        }
    }

    fn text(&mut self, text: &str) {
        let mut collapsed = String::with_capacity(text.len());
        let mut space = self.out.ends_with([' ', '\n']) || self.out.is_empty();
        for c in text.chars() {
            if c.is_whitespace() {
                if !space {
                    collapsed.push(' ');
                    space = true;
                }
            } else {
                if matches!(c, '*' | '_' | '`' | '[' | ']' | '\\') {
                    collapsed.push('\\');
                }
                collapsed.push(c);
                space = false;
            }
        }
        self.out.push_str(&collapsed);
    }

    fn children(&mut self, element: ElementRef<'_>) {
        for child in element.children() {
            match child.value() {
                Node::Text(text) => self.text(text),
                Node::Element(_) => {
                    if let Some(child) = ElementRef::wrap(child) {
                        self.element(child);
                    }
                }
                _ => {}
            }
        }
    }

    fn inline(&mut self, element: ElementRef<'_>, mark: &str) {
        self.out.push_str(mark);
        self.children(element);
        self.out.push_str(mark);
    }

    fn element(&mut self, element: ElementRef<'_>) {
        let name = element.value().name();
        match name {
            "script" | "style" | "head" | "noscript" | "template" => {}
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.block_break();
                let level = usize::from(name.as_bytes()[1] - b'0');
                self.out.push_str(&"#".repeat(level));
                self.out.push(' ');
                self.children(element);
                self.block_break();
            }
            "p" | "div" | "section" | "article" | "header" | "footer" | "main" | "nav"
            | "figure" => {
                self.block_break();
                self.children(element);
                self.block_break();
            }
            "br" => {
                self.out.push_str("  \n");
                self.prefix();
            }
            "hr" => {
                self.block_break();
                self.out.push_str("---");
                self.block_break();
            }
            "strong" | "b" => self.inline(element, "**"),
            "em" | "i" => self.inline(element, "*"),
            "del" | "s" | "strike" => self.inline(element, "~~"),
            "code" => {
                let code: String = element.text().collect();
                let fence = if code.contains('`') { "``" } else { "`" };
                self.out.push_str(&format!("{fence}{code}{fence}"));
            }
            "pre" => {
                self.block_break();
                let code: String = element.text().collect();
                let language = element
                    .select(&selector("code"))
                    .next()
                    .and_then(|c| c.value().attr("class"))
                    .and_then(|c| {
                        c.split_whitespace()
                            .find_map(|k| k.strip_prefix("language-"))
                    })
                    .unwrap_or("");
                self.out
                    .push_str(&format!("```{language}\n{}\n```", code.trim_end()));
                self.block_break();
            }
            "a" => {
                let href = element.value().attr("href").unwrap_or("");
                self.out.push('[');
                self.children(element);
                self.out.push_str(&format!("]({href})"));
            }
            "img" => {
                let alt = element.value().attr("alt").unwrap_or("");
                let src = element.value().attr("src").unwrap_or("");
                self.out.push_str(&format!("![{alt}]({src})"));
            }
            "ul" | "ol" => {
                self.block_break();
                self.lists.push((name == "ol").then_some(0));
                self.children(element);
                self.lists.pop();
                self.block_break();
            }
            "li" => {
                let trimmed = self.out.trim_end_matches(' ').len();
                self.out.truncate(trimmed);
                if !self.out.is_empty() && !self.out.ends_with('\n') {
                    self.out.push('\n');
                }
                let depth = self.lists.len().saturating_sub(1);
                self.out.push_str(&"   ".repeat(depth));
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{n}. ")
                    }
                    _ => "- ".to_owned(),
                };
                self.out.push_str(&marker);
                self.children(element);
            }
            "blockquote" => {
                self.block_break();
                self.quote_depth += 1;
                self.prefix();
                self.children(element);
                self.quote_depth -= 1;
                self.block_break();
            }
            "table" => {
                self.block_break();
                let rows: Vec<Vec<String>> = element
                    .select(&selector("tr"))
                    .map(|row| {
                        row.select(&selector("th, td"))
                            .map(|cell| {
                                cell.text()
                                    .flat_map(str::split_whitespace)
                                    .collect::<Vec<_>>()
                                    .join(" ")
                                    .replace('|', "\\|")
                            })
                            .collect()
                    })
                    .collect();
                if let Some((header, body)) = rows.split_first() {
                    let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
                    self.out.push_str(&line(header));
                    self.out
                        .push_str(&line(&vec!["---".to_owned(); header.len()]));
                    for row in body {
                        self.out.push_str(&line(row));
                    }
                }
                self.block_break();
            }
            _ => self.children(element),
        }
    }
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|_| unreachable!("a fixed, valid selector: {css}"))
}

/// What [`extract`] takes from each matched element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extracted {
    Text,
    /// The element's inner HTML.
    Html,
    /// The element with its tags.
    OuterHtml,
    Attribute(String),
}

/// One value to extract: `key` ← `what` of the elements `selector` matches (all of them as an
/// array, or the first as a value, null when none).
#[derive(Debug, Clone)]
pub struct Extraction {
    pub key: String,
    pub selector: String,
    pub what: Extracted,
    pub all: bool,
}

/// n8n's HTML "extract" operation: one object with a field per extraction.
pub fn extract(html: &str, extractions: &[Extraction]) -> Result<Value> {
    let document = Html::parse_document(html);
    let mut out = Map::new();
    for (i, extraction) in extractions.iter().enumerate() {
        let selector = Selector::parse(&extraction.selector).map_err(|e| {
            invalid(
                &format!("extract[{i}].selector"),
                format!("not a CSS selector: {e}"),
            )
        })?;
        let values = document
            .select(&selector)
            .map(|element| match &extraction.what {
                Extracted::Text => Value::String(
                    element
                        .text()
                        .flat_map(str::split_whitespace)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                Extracted::Html => Value::String(element.inner_html()),
                Extracted::OuterHtml => Value::String(element.html()),
                Extracted::Attribute(name) => element
                    .value()
                    .attr(name)
                    .map_or(Value::Null, |v| Value::String(v.to_owned())),
            });
        let value = if extraction.all {
            Value::Array(values.collect())
        } else {
            values.into_iter().next().unwrap_or(Value::Null)
        };
        out.insert(extraction.key.clone(), value);
    }
    Ok(Value::Object(out))
}

/// A compiled pattern; `flags` are `i` (case-insensitive), `m` (multi-line), `s` (dot matches
/// newline) and `x` (verbose).
pub fn regex(pattern: &str, flags: &str) -> Result<Regex> {
    let mut builder = RegexBuilder::new(pattern);
    builder.size_limit(REGEX_SIZE_LIMIT);
    for flag in flags.chars() {
        match flag {
            'i' => builder.case_insensitive(true),
            'm' => builder.multi_line(true),
            's' => builder.dot_matches_new_line(true),
            'x' => builder.ignore_whitespace(true),
            'g' => &mut builder,
            other => {
                return Err(invalid(
                    "flags",
                    format!("unknown flag `{other}`; use i, m, s, x"),
                ));
            }
        };
    }
    builder.build().map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => {
            DataError::TooComplex("the pattern compiles too large".into())
        }
        other => invalid("pattern", other.to_string()),
    })
}

/// Every match with its position (in characters) and groups, numbered and named.
pub fn regex_matches(regex: &Regex, text: &str) -> Result<Vec<Value>> {
    let names: Vec<Option<&str>> = regex.capture_names().collect();
    let mut out = Vec::new();
    for captures in regex.captures_iter(text) {
        if out.len() == MAX_MATCHES {
            return Err(DataError::TooComplex(format!("over {MAX_MATCHES} matches")));
        }
        let whole = captures.get(0).map_or("", |m| m.as_str());
        let start = captures
            .get(0)
            .map_or(0, |m| text[..m.start()].chars().count());
        let groups: Vec<Value> = (1..captures.len())
            .map(|i| captures.get(i).map_or(Value::Null, |m| json!(m.as_str())))
            .collect();
        let named: Map<String, Value> = names
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                let name = (*name)?;
                Some((
                    name.to_owned(),
                    captures.get(i).map_or(Value::Null, |m| json!(m.as_str())),
                ))
            })
            .collect();
        out.push(json!({"match": whole, "index": start, "groups": groups, "named": named}));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<html><head><title>T</title><style>p{}</style></head><body>
        <h1>Orders &amp; more</h1>
        <p>Hello <strong>Ada</strong>, see <a href="https://example.com/o/1">order 1</a>.</p>
        <ul><li>first</li><li>second <em>item</em></li></ul>
        <ol><li>one</li><li>two</li></ol>
        <pre><code class="language-rust">fn main() {}</code></pre>
        <table><tr><th>sku</th><th>qty</th></tr><tr><td>A-1</td><td>2</td></tr></table>
        <script>alert(1)</script>
    </body></html>"#;

    #[test]
    fn html_to_markdown_keeps_structure() {
        assert_eq!(
            html_to_markdown(PAGE),
            "# Orders & more\n\nHello **Ada**, see [order 1](https://example.com/o/1).\n\n- first\n- second *item*\n\n1. one\n2. two\n\n```rust\nfn main() {}\n```\n\n| sku | qty |\n| --- | --- |\n| A-1 | 2 |\n"
        );
    }

    #[test]
    fn html_to_text_reads_like_the_page() {
        let text = html_to_text(PAGE, 80).unwrap();
        assert!(text.contains("Orders & more"), "{text}");
        assert!(
            text.contains("Hello **Ada**") || text.contains("Hello Ada"),
            "{text}"
        );
        assert!(!text.contains("alert(1)"), "{text}");
        assert!(!text.contains("<p>"), "{text}");
    }

    #[test]
    fn markdown_to_safe_html() {
        let html = markdown_to_html(
            "# Hi\n\n| a | b |\n|---|---|\n| 1 | ~~2~~ |\n\n<script>x()</script>\n",
            false,
        );
        assert!(html.contains("<h1>Hi</h1>"), "{html}");
        assert!(html.contains("<td><del>2</del></td>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(markdown_to_html("<b>x</b>", true).contains("<b>x</b>"));
    }

    #[test]
    fn extracts_with_css_selectors() {
        let value = extract(
            PAGE,
            &[
                Extraction {
                    key: "title".into(),
                    selector: "h1".into(),
                    what: Extracted::Text,
                    all: false,
                },
                Extraction {
                    key: "links".into(),
                    selector: "a".into(),
                    what: Extracted::Attribute("href".into()),
                    all: true,
                },
                Extraction {
                    key: "items".into(),
                    selector: "ul > li".into(),
                    what: Extracted::Text,
                    all: true,
                },
                Extraction {
                    key: "bold".into(),
                    selector: "p".into(),
                    what: Extracted::Html,
                    all: false,
                },
                Extraction {
                    key: "missing".into(),
                    selector: ".nope".into(),
                    what: Extracted::Text,
                    all: false,
                },
            ],
        )
        .unwrap();
        assert_eq!(
            value,
            json!({
                "title": "Orders & more",
                "links": ["https://example.com/o/1"],
                "items": ["first", "second item"],
                "bold": "Hello <strong>Ada</strong>, see <a href=\"https://example.com/o/1\">order 1</a>.",
                "missing": null
            })
        );
        let bad = extract(
            PAGE,
            &[Extraction {
                key: "x".into(),
                selector: "a[".into(),
                what: Extracted::Text,
                all: false,
            }],
        );
        assert!(
            matches!(bad, Err(DataError::Invalid { field, .. }) if field == "extract[0].selector")
        );
    }

    #[test]
    fn regular_expressions() {
        let re = regex(r"(?P<user>[\w.]+)@(?P<host>[\w.]+)", "i").unwrap();
        let found = regex_matches(&re, "Mail ada@example.com or bob@test.io").unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0]["match"], "ada@example.com");
        assert_eq!(found[0]["index"], 5);
        assert_eq!(found[1]["named"], json!({"user": "bob", "host": "test.io"}));
        assert_eq!(
            re.replace_all("ada@example.com", "$user at $host"),
            "ada at example.com"
        );
        assert!(
            matches!(regex("(", ""), Err(DataError::Invalid { field, .. }) if field == "pattern")
        );
        assert!(
            matches!(regex("a", "q"), Err(DataError::Invalid { field, .. }) if field == "flags")
        );
        assert!(matches!(
            regex(r"\w{1000}{1000}", ""),
            Err(DataError::TooComplex(_))
        ));
    }
}
