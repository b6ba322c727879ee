//! Formats to and from JSON values: JSON, JSON Lines, CSV, TSV, YAML, TOML, XML, HTML and
//! Markdown tables (text), and XLSX (binary). Every parse error says where (line and column,
//! or the CSV record).

use serde_json::{Map, Value};

use super::sheets::{self, SheetOptions};
use super::tables::{self, TableOptions};
use super::xml::{self, XmlOptions};
use super::{DataError, Result};

/// A data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Jsonl,
    Csv,
    Tsv,
    Yaml,
    Toml,
    Xml,
    /// A `<table>` in an HTML page.
    Html,
    /// A pipe table in Markdown.
    Markdown,
    Xlsx,
}

impl Format {
    /// Bytes rather than text.
    pub fn is_binary(self) -> bool {
        self == Self::Xlsx
    }
}

/// Every format's options.
#[derive(Debug, Clone, Default)]
pub struct FormatOptions {
    pub csv: CsvOptions,
    pub xml: XmlOptions,
    pub sheet: SheetOptions,
    pub table: TableOptions,
}

impl From<CsvOptions> for FormatOptions {
    fn from(csv: CsvOptions) -> Self {
        Self {
            csv,
            ..Self::default()
        }
    }
}

/// Parses a file in any format; text formats must be UTF-8 (checked in place, not copied).
pub fn parse_bytes(bytes: &[u8], format: Format, options: &FormatOptions) -> Result<Value> {
    if format == Format::Xlsx {
        return sheets::read(bytes, &options.sheet);
    }
    parse(utf8(bytes)?, format, options)
}

/// `bytes` as text, or where they stop being UTF-8.
pub fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| DataError::Invalid {
        field: "input".into(),
        message: format!("is not UTF-8 (byte {})", e.valid_up_to()),
    })
}

/// Writes `value` in any format.
pub fn render_bytes(value: &Value, format: Format, options: &FormatOptions) -> Result<Vec<u8>> {
    if format == Format::Xlsx {
        return sheets::write(value);
    }
    render(value, format, options).map(String::into_bytes)
}

/// CSV/TSV options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Overrides `,` (CSV) or tab (TSV).
    pub delimiter: Option<u8>,
    /// The quote character (default `"`).
    pub quote: u8,
    /// The first row names the columns (default); without it rows are arrays.
    pub header: bool,
    /// Turn `12`, `1.5`, `true`, `false` and empty cells into numbers, booleans and null.
    pub infer_types: bool,
    /// Lines to skip before the data (titles above a table).
    pub skip_rows: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: None,
            quote: b'"',
            header: true,
            infer_types: false,
            skip_rows: 0,
        }
    }
}

fn at(format: &str, line: usize, column: usize, message: impl std::fmt::Display) -> DataError {
    DataError::Malformed(format!(
        "{format} at line {line}, column {column}: {message}"
    ))
}

/// Parses `text` in a text format.
pub fn parse(text: &str, format: Format, options: &FormatOptions) -> Result<Value> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let csv = &options.csv;
    match format {
        Format::Json => serde_json::from_str(text)
            .map_err(|e| at("JSON", e.line(), e.column(), strip_position(&e.to_string()))),
        Format::Jsonl => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| {
                    at(
                        "JSON Lines",
                        i + 1,
                        e.column(),
                        strip_position(&e.to_string()),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Value::Array),
        Format::Csv | Format::Tsv => parse_csv(text, format, csv),
        Format::Yaml => {
            let deserializer = serde_norway::Deserializer::from_str(text);
            serde::Deserialize::deserialize(deserializer).map_err(|e: serde_norway::Error| match e
                .location()
            {
                Some(location) => at("YAML", location.line(), location.column(), e),
                None => DataError::Malformed(format!("YAML: {e}")),
            })
        }
        Format::Toml => toml::from_str::<Value>(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            at("TOML", line, column, e.message())
        }),
        Format::Xml => xml::parse(text, &options.xml),
        Format::Html => tables::parse_html(text, options.table),
        Format::Markdown => tables::parse_markdown(text, options.table),
        Format::Xlsx => parse_bytes(text.as_bytes(), format, options),
    }
}

fn strip_position(message: &str) -> String {
    message
        .rsplit_once(" at line ")
        .map_or(message, |(before, _)| before)
        .to_owned()
}

/// Line and column (1-based) of a byte offset (a parser's error position).
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn delimiter(format: Format, options: &CsvOptions) -> u8 {
    options
        .delimiter
        .unwrap_or(if format == Format::Tsv { b'\t' } else { b',' })
}

fn infer(cell: &str) -> Value {
    match cell {
        "" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => {
            // Keep leading zeros ("007") and long digit strings (IDs) as text.
            let numeric = cell.parse::<f64>().ok().filter(|n| n.is_finite());
            let leading_zero = cell.len() > 1 && cell.starts_with('0') && !cell.starts_with("0.");
            match numeric {
                Some(_) if leading_zero || cell.len() > 15 => Value::String(cell.to_owned()),
                Some(_) => serde_json::from_str(cell)
                    .ok()
                    .filter(Value::is_number)
                    .unwrap_or_else(|| Value::String(cell.to_owned())),
                None => Value::String(cell.to_owned()),
            }
        }
    }
}

/// `text` after its first `skip` lines, without copying.
fn skip_lines(text: &str, skip: usize) -> &str {
    let mut rest = text;
    for _ in 0..skip {
        match rest.find('\n') {
            Some(i) => rest = &rest[i + 1..],
            None => return "",
        }
    }
    rest
}

fn csv_reader<'a>(text: &'a str, format: Format, options: &CsvOptions) -> csv::Reader<&'a [u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter(format, options))
        .quote(options.quote)
        .has_headers(options.header)
        .flexible(false)
        .from_reader(skip_lines(text, options.skip_rows).as_bytes())
}

fn csv_error(options: &CsvOptions) -> impl Fn(csv::Error) -> DataError + '_ {
    move |e: csv::Error| {
        let line = e
            .position()
            .map_or(0, |p| p.line() as usize + options.skip_rows);
        DataError::Malformed(format!("CSV at line {line}: {}", e.kind_message()))
    }
}

/// Whether [`stream_csv`] converts `from` into `to`.
pub fn streams(from: Format, to: Format) -> bool {
    matches!(from, Format::Csv | Format::Tsv) && matches!(to, Format::Json | Format::Jsonl)
}

/// Reads every CSV record without keeping any: the errors a conversion would meet, found before
/// a streamed answer commits to a 200.
pub fn check_csv(text: &str, format: Format, options: &CsvOptions) -> Result<()> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv_reader(text, format, options);
    let to_error = csv_error(options);
    if options.header {
        reader.headers().map_err(&to_error)?;
    }
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(&to_error)? {}
    Ok(())
}

/// CSV/TSV to JSON or JSON Lines record by record, handing `sink` chunks of about
/// `chunk_bytes`: no intermediate values, and with a small chunk size no whole output either.
/// `sink` returns false to stop (the client went away).
pub fn stream_csv(
    text: &str,
    from: Format,
    to: Format,
    options: &CsvOptions,
    chunk_bytes: usize,
    mut sink: impl FnMut(String) -> bool,
) -> Result<()> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv_reader(text, from, options);
    let to_error = csv_error(options);
    let headers: Option<Vec<String>> = if options.header {
        Some(
            reader
                .headers()
                .map_err(&to_error)?
                .iter()
                .map(|name| Value::String(name.to_owned()).to_string())
                .collect(),
        )
    } else {
        None
    };
    let cell = |s: &str| {
        if options.infer_types {
            infer(s)
        } else {
            Value::String(s.to_owned())
        }
    };
    let capacity = chunk_bytes.min(text.len() * 2) + 1024;
    let mut out = String::with_capacity(capacity);
    if to == Format::Json {
        out.push('[');
    }
    let mut record = csv::StringRecord::new();
    let mut first = true;
    while reader.read_record(&mut record).map_err(&to_error)? {
        if to == Format::Json && !first {
            out.push(',');
        }
        first = false;
        match &headers {
            Some(names) => {
                out.push('{');
                for (i, (name, value)) in names.iter().zip(record.iter()).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(name);
                    out.push(':');
                    out.push_str(&cell(value).to_string());
                }
                out.push('}');
            }
            None => out.push_str(&Value::Array(record.iter().map(cell).collect()).to_string()),
        }
        if to == Format::Jsonl {
            out.push('\n');
        }
        if out.len() >= chunk_bytes
            && !sink(std::mem::replace(&mut out, String::with_capacity(capacity)))
        {
            return Ok(());
        }
    }
    if to == Format::Json {
        out.push(']');
    }
    sink(out);
    Ok(())
}

fn parse_csv(text: &str, format: Format, options: &CsvOptions) -> Result<Value> {
    let mut reader = csv_reader(text, format, options);
    let cell = |s: &str| {
        if options.infer_types {
            infer(s)
        } else {
            Value::String(s.to_owned())
        }
    };
    let csv_error = csv_error(options);
    let headers: Option<Vec<String>> = if options.header {
        Some(
            reader
                .headers()
                .map_err(&csv_error)?
                .iter()
                .map(str::to_owned)
                .collect(),
        )
    } else {
        None
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(&csv_error)?;
        rows.push(match &headers {
            Some(names) => Value::Object(
                names
                    .iter()
                    .zip(record.iter())
                    .map(|(name, value)| (name.clone(), cell(value)))
                    .collect(),
            ),
            None => Value::Array(record.iter().map(cell).collect()),
        });
    }
    Ok(Value::Array(rows))
}

trait KindMessage {
    fn kind_message(&self) -> String;
}

impl KindMessage for csv::Error {
    fn kind_message(&self) -> String {
        match self.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("a row has {len} fields; the first had {expected_len}"),
            csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".into(),
            _ => self.to_string(),
        }
    }
}

/// Renders `value` in a text format.
pub fn render(value: &Value, format: Format, options: &FormatOptions) -> Result<String> {
    let csv = &options.csv;
    match format {
        Format::Json => {
            serde_json::to_string_pretty(value).map_err(|e| DataError::Internal(e.to_string()))
        }
        Format::Jsonl => {
            let items = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            let mut out = String::new();
            for item in items {
                out.push_str(
                    &serde_json::to_string(item).map_err(|e| DataError::Internal(e.to_string()))?,
                );
                out.push('\n');
            }
            Ok(out)
        }
        Format::Csv | Format::Tsv => render_csv(value, format, csv),
        Format::Yaml => {
            serde_norway::to_string(value).map_err(|e| DataError::Internal(e.to_string()))
        }
        Format::Toml => {
            if !value.is_object() {
                return Err(DataError::Invalid {
                    field: "to".into(),
                    message: "TOML needs an object at the top (a table)".into(),
                });
            }
            toml::to_string_pretty(value).map_err(|e| DataError::Invalid {
                field: "to".into(),
                message: format!("cannot be written as TOML: {e}"),
            })
        }
        Format::Xml => Ok(xml::render(value, &options.xml)),
        Format::Html => tables::render_html(value),
        Format::Markdown => tables::render_markdown(value),
        Format::Xlsx => Err(DataError::Internal(
            "XLSX is binary: render it with render_bytes".into(),
        )),
    }
}

/// The fields of records in order of first appearance: the columns of a table written from
/// them (CSV, XLSX, HTML, Markdown). Rows that are not objects add none.
pub(crate) fn columns<'a>(rows: impl IntoIterator<Item = &'a Value>) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::new();
    let mut columns = Vec::new();
    for row in rows {
        for key in row.as_object().map(Map::keys).into_iter().flatten() {
            if seen.insert(key.as_str()) {
                columns.push(key.as_str());
            }
        }
    }
    columns
}

/// A cell's text: strings as they are, null empty, anything else as JSON.
pub(crate) fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render_csv(value: &Value, format: Format, options: &CsvOptions) -> Result<String> {
    let rows: Vec<&Value> = match value {
        Value::Array(rows) => rows.iter().collect(),
        Value::Object(_) => vec![value],
        _ => {
            return Err(DataError::Invalid {
                field: "data".into(),
                message: "CSV needs an array of objects (or of arrays)".into(),
            });
        }
    };
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter(format, options))
        .quote(options.quote)
        .from_writer(Vec::new());
    let write_error = |e: csv::Error| DataError::Internal(e.to_string());
    if rows.iter().all(|r| r.is_object()) {
        let columns = columns(rows.iter().copied());
        if options.header {
            writer.write_record(&columns).map_err(write_error)?;
        }
        for row in &rows {
            let record: Vec<String> = columns
                .iter()
                .map(|c| row.get(*c).map(cell_text).unwrap_or_default())
                .collect();
            writer.write_record(&record).map_err(write_error)?;
        }
    } else {
        for (i, row) in rows.iter().enumerate() {
            let Value::Array(cells) = row else {
                return Err(DataError::Invalid {
                    field: format!("data[{i}]"),
                    message: "rows must all be objects or all be arrays".into(),
                });
            };
            let record: Vec<String> = cells.iter().map(cell_text).collect();
            writer.write_record(&record).map_err(write_error)?;
        }
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| DataError::Internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| DataError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn csv() -> FormatOptions {
        FormatOptions::default()
    }

    #[test]
    fn every_format_round_trips_the_same_records() {
        let records = json!([{"id": 1, "name": "Ada", "active": true}, {"id": 2, "name": "Linus", "active": false}]);
        let typed = FormatOptions::from(CsvOptions {
            infer_types: true,
            ..CsvOptions::default()
        });
        for format in [
            Format::Json,
            Format::Jsonl,
            Format::Csv,
            Format::Tsv,
            Format::Yaml,
        ] {
            let text = render(&records, format, &typed).unwrap();
            assert_eq!(
                parse(&text, format, &typed).unwrap(),
                records,
                "{format:?}: {text}"
            );
        }
        let table = json!({"server": {"port": 8080, "hosts": ["a", "b"]}});
        let text = render(&table, Format::Toml, &csv()).unwrap();
        assert_eq!(parse(&text, Format::Toml, &csv()).unwrap(), table);
    }

    #[test]
    fn csv_options() {
        let text = "\u{feff}Report\nname;qty;code\nbolt;12;007\nnut;;x\n";
        let options = FormatOptions::from(CsvOptions {
            delimiter: Some(b';'),
            infer_types: true,
            skip_rows: 1,
            ..CsvOptions::default()
        });
        assert_eq!(
            parse(text, Format::Csv, &options).unwrap(),
            json!([{"name": "bolt", "qty": 12, "code": "007"}, {"name": "nut", "qty": null, "code": "x"}])
        );
        let rows = FormatOptions::from(CsvOptions {
            header: false,
            ..CsvOptions::default()
        });
        assert_eq!(
            parse("a,b\n1,2\n", Format::Csv, &rows).unwrap(),
            json!([["a", "b"], ["1", "2"]])
        );
        let single_quoted = FormatOptions::from(CsvOptions {
            quote: b'\'',
            ..CsvOptions::default()
        });
        let value = parse("name,note\nbolt,'a, b'\n", Format::Csv, &single_quoted).unwrap();
        assert_eq!(value, json!([{"name": "bolt", "note": "a, b"}]));
        assert_eq!(
            render(&value, Format::Csv, &single_quoted).unwrap(),
            "name,note\nbolt,'a, b'\n"
        );
        let mixed = json!([{"a": 1}, {"b": {"nested": true}}]);
        assert_eq!(
            render(&mixed, Format::Csv, &csv()).unwrap(),
            "a,b\n1,\n,\"{\"\"nested\"\":true}\"\n"
        );
    }

    /// The streamed conversion collected, in small chunks so chunk edges are exercised.
    fn stream_all(text: &str, to: Format, options: &CsvOptions) -> Result<String> {
        let mut out = String::new();
        stream_csv(text, Format::Csv, to, options, 16, |chunk| {
            out.push_str(&chunk);
            true
        })
        .map(|()| out)
    }

    #[test]
    fn streaming_csv_matches_the_value_path() {
        let text = "\u{feff}title\nname,qty\nbolt,12\n\"a, \"\"quoted\"\" nut\",\n";
        for infer_types in [false, true] {
            let options = FormatOptions::from(CsvOptions {
                infer_types,
                skip_rows: 1,
                ..CsvOptions::default()
            });
            let value = parse(text, Format::Csv, &options).unwrap();
            let streamed = stream_all(text, Format::Json, &options.csv).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&streamed).unwrap(), value);
            let lines = stream_all(text, Format::Jsonl, &options.csv).unwrap();
            assert_eq!(parse(&lines, Format::Jsonl, &options).unwrap(), value);
        }
        assert!(stream_all("a\n1,2\n", Format::Json, &csv().csv).is_err());
        assert!(!streams(Format::Json, Format::Csv));
        assert!(check_csv("a\n1,2\n", Format::Csv, &csv().csv).is_err());
    }

    #[test]
    fn malformed_input_says_where() {
        let error = |text: &str, format| match parse(text, format, &csv()) {
            Err(DataError::Malformed(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            error("{\"a\": 1,\n \"b\": }", Format::Json),
            "JSON at line 2, column 7: expected value"
        );
        assert!(error("{}\n{oops}\n", Format::Jsonl).starts_with("JSON Lines at line 2"));
        assert_eq!(
            error("a,b\n1,2\n3\n", Format::Csv),
            "CSV at line 3: a row has 1 fields; the first had 2"
        );
        assert!(error("a: [1, 2\nb: 3", Format::Yaml).starts_with("YAML at line"));
        assert!(error("a = 1\nb = = 2\n", Format::Toml).starts_with("TOML at line 2"));
    }
}
