//! HTML and Markdown tables to and from records.
//!
//! Reading HTML takes the `index`-th `<table>` of a page (0 by default); with `header` (the
//! default) its first row, `<th>` or `<td>`, names the columns. Markdown
//! tables are GitHub's pipe tables.

use scraper::{ElementRef, Html, Selector};
use serde_json::{Map, Value};

use super::formats::{cell_text, columns};
use super::{DataError, Result};

/// Which table, and whether its first row names the columns.
#[derive(Debug, Clone, Copy)]
pub struct TableOptions {
    pub index: usize,
    pub header: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            index: 0,
            header: true,
        }
    }
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|_| unreachable!("a fixed, valid selector: {css}"))
}

/// A cell's visible text with runs of white space folded to one space.
fn visible_text(cell: ElementRef<'_>) -> String {
    cell.text()
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rows of cells into records with `names`, or arrays without.
fn records(names: Option<Vec<String>>, rows: Vec<Vec<String>>) -> Value {
    Value::Array(
        rows.into_iter()
            .map(|row| match &names {
                Some(names) => Value::Object(
                    names
                        .iter()
                        .enumerate()
                        .map(|(i, name)| {
                            (
                                name.clone(),
                                row.get(i).cloned().map_or(Value::Null, Value::String),
                            )
                        })
                        .collect::<Map<String, Value>>(),
                ),
                None => Value::Array(row.into_iter().map(Value::String).collect()),
            })
            .collect(),
    )
}

/// Column names, nameless ones numbered (`column3`).
fn names_of(cells: Vec<String>) -> Vec<String> {
    cells
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            if name.is_empty() {
                format!("column{}", i + 1)
            } else {
                name
            }
        })
        .collect()
}

/// The records of one table in an HTML page.
pub fn parse_html(text: &str, options: TableOptions) -> Result<Value> {
    let document = Html::parse_document(text);
    let tables: Vec<ElementRef<'_>> = document.select(&selector("table")).collect();
    let table = tables.get(options.index).ok_or_else(|| {
        DataError::Malformed(format!(
            "HTML: no table number {} (the page has {})",
            options.index,
            tables.len()
        ))
    })?;
    // Rows of this table only, not of tables nested in its cells.
    let rows: Vec<ElementRef<'_>> = table
        .select(&selector("tr"))
        .filter(|row| {
            row.ancestors()
                .filter_map(ElementRef::wrap)
                .find(|e| e.value().name() == "table")
                .is_some_and(|t| t.id() == table.id())
        })
        .collect();
    let cells = selector("th, td");
    let mut header: Option<Vec<String>> = None;
    let mut body = Vec::new();
    for row in rows {
        let row_cells: Vec<ElementRef<'_>> = row
            .select(&cells)
            .filter(|c| c.parent().is_some_and(|p| p.id() == row.id()))
            .collect();
        let texts: Vec<String> = row_cells.into_iter().map(visible_text).collect();
        if header.is_none() && options.header {
            header = Some(names_of(texts));
            continue;
        }
        body.push(texts);
    }
    Ok(records(header, body))
}

fn rows_of(value: &Value) -> Result<&[Value]> {
    match value {
        Value::Array(rows) => Ok(rows),
        Value::Object(_) => Ok(std::slice::from_ref(value)),
        _ => Err(DataError::Invalid {
            field: "data".into(),
            message: "a table needs an array of records (or of arrays)".into(),
        }),
    }
}

/// The cells of each row, in `columns` order for records.
fn table_cells(rows: &[Value], columns: &[&str]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| match row {
            Value::Object(record) => columns
                .iter()
                .map(|c| record.get(*c).map(cell_text).unwrap_or_default())
                .collect(),
            Value::Array(cells) => cells.iter().map(cell_text).collect(),
            other => vec![cell_text(other)],
        })
        .collect()
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An HTML `<table>` with a `<thead>` of the records' fields.
pub fn render_html(value: &Value) -> Result<String> {
    let rows = rows_of(value)?;
    let columns = columns(rows);
    let mut out = String::from("<table>\n");
    if !columns.is_empty() {
        out.push_str("  <thead>\n    <tr>");
        for column in &columns {
            out.push_str(&format!("<th>{}</th>", escape_html(column)));
        }
        out.push_str("</tr>\n  </thead>\n");
    }
    out.push_str("  <tbody>\n");
    for row in table_cells(rows, &columns) {
        out.push_str("    <tr>");
        for cell in row {
            out.push_str(&format!("<td>{}</td>", escape_html(&cell)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("  </tbody>\n</table>\n");
    Ok(out)
}

/// Splits a pipe-table line into cells, honouring `\|`.
fn pipe_cells(line: &str) -> Vec<String> {
    let line = line.trim();
    let line = line.strip_prefix('|').unwrap_or(line);
    let line = if line.ends_with('|') && !line.ends_with("\\|") {
        &line[..line.len() - 1]
    } else {
        line
    };
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            c => cell.push(c),
        }
    }
    cells.push(cell.trim().to_owned());
    cells
}

fn is_delimiter_row(cells: &[String]) -> bool {
    !cells.is_empty()
        && cells.iter().all(|c| {
            let c = c.trim_matches(':');
            !c.is_empty() && c.chars().all(|ch| ch == '-')
        })
}

/// The records of the first pipe table in a Markdown text.
pub fn parse_markdown(text: &str, options: TableOptions) -> Result<Value> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .skip_while(|(_, l)| !l.trim_start().starts_with('|') && !l.contains('|'))
        .take_while(|(_, l)| l.contains('|'))
        .collect();
    let Some(&(first_line, header_line)) = lines.first() else {
        return Err(DataError::Malformed("Markdown: no table".into()));
    };
    let delimiter = lines.get(1).map(|(_, l)| pipe_cells(l));
    if !delimiter.as_deref().is_some_and(is_delimiter_row) {
        return Err(DataError::Malformed(format!(
            "Markdown at line {}: a table's second line must be its delimiter row (| --- | --- |)",
            first_line + 2
        )));
    }
    let header = pipe_cells(header_line);
    let body: Vec<Vec<String>> = lines[2..].iter().map(|(_, l)| pipe_cells(l)).collect();
    if options.header {
        Ok(records(Some(names_of(header)), body))
    } else {
        let mut rows = vec![header];
        rows.extend(body);
        Ok(records(None, rows))
    }
}

fn escape_markdown(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A GitHub pipe table.
pub fn render_markdown(value: &Value) -> Result<String> {
    let rows = rows_of(value)?;
    let columns = columns(rows);
    let cells = table_cells(rows, &columns);
    let header: Vec<String> = if columns.is_empty() {
        let width = cells.iter().map(Vec::len).max().unwrap_or(0);
        (1..=width).map(|i| format!("column{i}")).collect()
    } else {
        columns.into_iter().map(str::to_owned).collect()
    };
    let line = |cells: &[String]| {
        let mut out = String::from("|");
        for cell in cells {
            out.push(' ');
            out.push_str(&escape_markdown(cell));
            out.push_str(" |");
        }
        out.push('\n');
        out
    };
    let mut out = line(&header);
    out.push_str(&line(&vec!["---".to_owned(); header.len()]));
    for row in cells {
        out.push_str(&line(&row));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn html_tables_from_pages() {
        let page = r#"<html><body><p>Prices</p>
            <table id="skip"><tr><td>x</td></tr></table>
            <table>
              <thead><tr><th>SKU</th><th>Price &amp; tax</th><th></th></tr></thead>
              <tbody>
                <tr><td>A-1</td><td> 9.50
                   EUR</td><td><table><tr><td>nested</td></tr></table></td></tr>
                <tr><td>B-2</td><td>5</td></tr>
              </tbody>
            </table></body></html>"#;
        let value = parse_html(
            page,
            TableOptions {
                index: 1,
                header: true,
            },
        )
        .unwrap();
        assert_eq!(
            value,
            json!([
                {"SKU": "A-1", "Price & tax": "9.50 EUR", "column3": "nested"},
                {"SKU": "B-2", "Price & tax": "5", "column3": null}
            ])
        );
        assert!(matches!(
            parse_html(page, TableOptions { index: 5, header: true }),
            Err(DataError::Malformed(m)) if m.contains("the page has 3")
        ));
    }

    #[test]
    fn html_and_markdown_round_trip() {
        let data = json!([{"name": "Ada <3", "note": "a|b"}, {"name": "Bob", "note": ""}]);
        let html = render_html(&data).unwrap();
        assert!(html.contains("<td>Ada &lt;3</td>"), "{html}");
        assert_eq!(parse_html(&html, TableOptions::default()).unwrap(), data);
        let markdown = render_markdown(&data).unwrap();
        assert_eq!(
            markdown,
            "| name | note |\n| --- | --- |\n| Ada <3 | a\\|b |\n| Bob |  |\n"
        );
        assert_eq!(
            parse_markdown(&markdown, TableOptions::default()).unwrap(),
            data
        );
    }

    #[test]
    fn markdown_tables_inside_text() {
        let text = "# Report\n\nSome text.\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\nAfter.\n";
        assert_eq!(
            parse_markdown(text, TableOptions::default()).unwrap(),
            json!([{"a": "1", "b": "2"}])
        );
        assert!(matches!(
            parse_markdown("| a |\n| b |\n", TableOptions::default()),
            Err(DataError::Malformed(m)) if m.starts_with("Markdown at line 2")
        ));
        assert!(parse_markdown("no table", TableOptions::default()).is_err());
    }
}
