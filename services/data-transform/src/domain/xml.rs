//! XML to and from JSON with the common convention (xml2js, BadgerFish-lite):
//!
//! - the document is `{"<root>": …}`; an element with only text is a string, an empty one null;
//! - attributes are fields named with a prefix (`@id`), text beside attributes or children is
//!   the text key (`#text`);
//! - repeated children become arrays; elements named in `arrays` are always arrays, so a list of
//!   one stays a list.
//!
//! Writing is the inverse; an array at the top becomes `<root><item>…</item>…</root>`.
//! Names that are not XML names (`first name`, `1st`) are written with `_` for each bad
//! character. Values are text: reading gives strings, as XML has no types.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value};

use super::formats::{cell_text, line_column};
use super::{DataError, Result};

/// Deepest element nesting read.
const MAX_DEPTH: usize = 256;

/// XML naming and shape options.
#[derive(Debug, Clone)]
pub struct XmlOptions {
    pub attribute_prefix: String,
    pub text_key: String,
    /// Element names that are always arrays.
    pub arrays: Vec<String>,
    /// The root element written when the data is not one object with one field.
    pub root_name: String,
    /// The element written for each item of an array at the top.
    pub item_name: String,
}

impl Default for XmlOptions {
    fn default() -> Self {
        Self {
            attribute_prefix: "@".into(),
            text_key: "#text".into(),
            arrays: Vec::new(),
            root_name: "root".into(),
            item_name: "item".into(),
        }
    }
}

/// An element being read.
struct Open {
    name: String,
    fields: Map<String, Value>,
    text: String,
    children: bool,
}

impl Open {
    fn new(name: String) -> Self {
        Self {
            name,
            fields: Map::new(),
            text: String::new(),
            children: false,
        }
    }

    /// The element as a value: a string for text only, null for nothing, else an object.
    fn finish(mut self, options: &XmlOptions) -> (String, Value) {
        let value = if self.fields.is_empty() && !self.children {
            if self.text.is_empty() {
                Value::Null
            } else {
                Value::String(self.text)
            }
        } else {
            let text = self.text.trim();
            if !text.is_empty() {
                self.fields
                    .insert(options.text_key.clone(), Value::String(text.to_owned()));
            }
            Value::Object(self.fields)
        };
        (self.name, value)
    }
}

fn add_child(parent: &mut Open, name: String, value: Value, options: &XmlOptions) {
    parent.children = true;
    match parent.fields.get_mut(&name) {
        // Children are never arrays themselves, so an array here is an earlier repeat.
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None if options.arrays.contains(&name) => {
            parent.fields.insert(name, Value::Array(vec![value]));
        }
        None => {
            parent.fields.insert(name, value);
        }
    }
}

/// Reads an XML document.
pub fn parse(text: &str, options: &XmlOptions) -> Result<Value> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let malformed = |reader: &Reader<&[u8]>, message: String| {
        let (line, column) = line_column(text, reader.error_position() as usize);
        DataError::Malformed(format!("XML at line {line}, column {column}: {message}"))
    };
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(&reader, e.to_string()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(malformed(&reader, "a second root element".into()));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed(
                        &reader,
                        format!("elements nest deeper than {MAX_DEPTH}"),
                    ));
                }
                let mut open = Open::new(start.name().as_ref().to_owned());
                attributes(&start, &mut open, options).map_err(|e| malformed(&reader, e))?;
                stack.push(open);
            }
            Event::Empty(start) => {
                let mut open = Open::new(start.name().as_ref().to_owned());
                attributes(&start, &mut open, options).map_err(|e| malformed(&reader, e))?;
                let (name, value) = open.finish(options);
                match stack.last_mut() {
                    Some(parent) => add_child(parent, name, value, options),
                    None => root = Some((name, value)),
                }
            }
            Event::End(_) => {
                let Some(open) = stack.pop() else {
                    return Err(malformed(&reader, "an end tag without a start".into()));
                };
                let (name, value) = open.finish(options);
                match stack.last_mut() {
                    Some(parent) => add_child(parent, name, value, options),
                    None => root = Some((name, value)),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(malformed(&reader, "text outside the root element".into())),
                }
            }
            Event::CData(data) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&data.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let character = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match reference.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(malformed(&reader, format!("unknown entity &{other};")));
                        }
                    },
                    Err(e) => return Err(malformed(&reader, e.to_string())),
                };
                if let Some(open) = stack.last_mut() {
                    open.text.push(character);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(malformed(
            &reader,
            format!("the document ends inside <{}>", open.name),
        ));
    }
    let (name, value) = root.ok_or_else(|| DataError::Malformed("XML: no root element".into()))?;
    let mut document = Map::new();
    document.insert(name, value);
    Ok(Value::Object(document))
}

fn attributes(
    start: &quick_xml::events::BytesStart<'_>,
    open: &mut Open,
    options: &XmlOptions,
) -> std::result::Result<(), String> {
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?;
        open.fields.insert(
            format!("{}{}", options.attribute_prefix, attribute.key.as_ref()),
            Value::String(value.into_owned()),
        );
    }
    Ok(())
}

/// Writes `value` as an XML document (with a declaration, indented by two spaces).
pub fn render(value: &Value, options: &XmlOptions) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    match value {
        Value::Object(map) if map.len() == 1 => {
            let (name, content) = map.iter().next().unwrap_or_else(|| unreachable!());
            if content.is_array() {
                element(&mut out, &options.root_name, value, options, 0);
            } else {
                element(&mut out, name, content, options, 0);
            }
        }
        Value::Array(items) => {
            let mut wrapped = Map::new();
            wrapped.insert(options.item_name.clone(), Value::Array(items.clone()));
            element(
                &mut out,
                &options.root_name,
                &Value::Object(wrapped),
                options,
                0,
            );
        }
        other => element(&mut out, &options.root_name, other, options, 0),
    }
    out
}

/// `name` as an XML name: bad characters become `_`, and a name that cannot start one gets `_`.
fn xml_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
    {
        out.insert(0, '_');
    }
    out
}

fn escape(text: &str, attribute: bool) -> std::borrow::Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"']) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out.into()
}

fn element(out: &mut String, name: &str, value: &Value, options: &XmlOptions, depth: usize) {
    let indent = "  ".repeat(depth);
    let name = xml_name(name);
    match value {
        Value::Array(items) => {
            for item in items {
                element(out, &name, item, options, depth);
            }
        }
        Value::Null => {
            out.push_str(&format!("{indent}<{name}/>\n"));
        }
        Value::Object(map) => {
            out.push_str(&format!("{indent}<{name}"));
            let mut text = None;
            let mut children = Vec::new();
            for (key, value) in map {
                let attribute = key
                    .strip_prefix(options.attribute_prefix.as_str())
                    .filter(|_| !options.attribute_prefix.is_empty());
                if let Some(attribute) = attribute
                    && !value.is_object()
                    && !value.is_array()
                {
                    out.push_str(&format!(
                        " {}=\"{}\"",
                        xml_name(attribute),
                        escape(&cell_text(value), true)
                    ));
                    continue;
                }
                if *key == options.text_key {
                    text = Some(cell_text(value));
                } else {
                    children.push((key, value));
                }
            }
            match (text, children.is_empty()) {
                (None, true) => out.push_str("/>\n"),
                (Some(text), true) => {
                    out.push_str(&format!(">{}</{name}>\n", escape(&text, false)));
                }
                (text, false) => {
                    out.push_str(">\n");
                    if let Some(text) = text {
                        out.push_str(&format!("{indent}  {}\n", escape(&text, false)));
                    }
                    for (key, value) in children {
                        element(out, key, value, options, depth + 1);
                    }
                    out.push_str(&format!("{indent}</{name}>\n"));
                }
            }
        }
        scalar => {
            out.push_str(&format!(
                "{indent}<{name}>{}</{name}>\n",
                escape(&cell_text(scalar), false)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_attributes_text_repeats_and_entities() {
        let text = r#"<?xml version="1.0"?>
<!-- orders -->
<orders region="eu">
  <order id="1"><sku>A&amp;B</sku><qty>2</qty></order>
  <order id="2"><sku><![CDATA[<C>]]></sku><note/></order>
  <total currency="EUR">12.50</total>
</orders>"#;
        let value = parse(text, &XmlOptions::default()).unwrap();
        assert_eq!(
            value,
            json!({"orders": {
                "@region": "eu",
                "order": [
                    {"@id": "1", "sku": "A&B", "qty": "2"},
                    {"@id": "2", "sku": "<C>", "note": null}
                ],
                "total": {"@currency": "EUR", "#text": "12.50"}
            }})
        );
    }

    #[test]
    fn arrays_option_keeps_single_elements_as_lists() {
        let options = XmlOptions {
            arrays: vec!["order".into()],
            ..XmlOptions::default()
        };
        let value = parse("<orders><order>1</order></orders>", &options).unwrap();
        assert_eq!(value, json!({"orders": {"order": ["1"]}}));
    }

    #[test]
    fn writes_and_reads_back_the_same_document() {
        let data = json!({"catalog": {
            "@version": "2",
            "book": [
                {"@id": "b1", "title": "Dune & Co", "price": "9.99"},
                {"@id": "b2", "title": "<Emma>", "price": "5"}
            ],
            "owner": {"@kind": "shop", "#text": "Ada"},
            "empty": null
        }});
        let xml = render(&data, &XmlOptions::default());
        assert!(
            xml.starts_with(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<catalog version=\"2\">\n"
            ),
            "{xml}"
        );
        assert!(xml.contains("<title>Dune &amp; Co</title>"), "{xml}");
        assert_eq!(parse(&xml, &XmlOptions::default()).unwrap(), data);
    }

    #[test]
    fn arrays_at_the_top_are_wrapped_and_bad_names_fixed() {
        let xml = render(
            &json!([{"first name": "Ada", "1st": true}]),
            &XmlOptions::default(),
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root>\n  <item>\n    <first_name>Ada</first_name>\n    <_1st>true</_1st>\n  </item>\n</root>\n"
        );
    }

    #[test]
    fn malformed_documents_say_where() {
        for (text, expected) in [
            ("<a><b></a>", "line 1"),
            ("<a>\n  <b>text\n</a>", "line 3"),
            ("<a>&nope;</a>", "unknown entity"),
            ("<a/><b/>", "second root"),
            ("<a>", "ends inside <a>"),
            ("", "no root element"),
        ] {
            match parse(text, &XmlOptions::default()) {
                Err(DataError::Malformed(message)) => {
                    assert!(message.contains(expected), "{text:?}: {message}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let deep = "<a>".repeat(300) + &"</a>".repeat(300);
        assert!(parse(&deep, &XmlOptions::default()).is_err());
    }
}
