//! JSON Schema: validation (2020-12, 2019-09, draft-07, -06, -04) with every error's instance
//! path, and inference of a 2020-12 schema from samples.
//!
//! Remote `$ref`s are never fetched (the validator has no HTTP or file retriever), so a schema
//! cannot make the service call out.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{DataError, Result};

/// Most errors reported for one instance.
pub const MAX_ERRORS: usize = 1000;

/// The dialect to validate with when the schema's `$schema` does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draft {
    Draft4,
    Draft6,
    Draft7,
    Draft201909,
    Draft202012,
}

/// One reason the instance is invalid.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaViolation {
    /// JSON Pointer into the instance (`""` is the whole document).
    pub instance_path: String,
    /// JSON Pointer to the schema keyword that failed.
    pub schema_path: String,
    pub message: String,
}

/// Validates `instance` against `schema`; `formats` also checks `format` (email, date-time…).
/// An invalid schema is an error naming `schema`.
pub fn validate(
    schema: &Value,
    instance: &Value,
    draft: Option<Draft>,
    formats: bool,
) -> Result<Vec<SchemaViolation>> {
    let mut options = jsonschema::options().should_validate_formats(formats);
    if let Some(draft) = draft {
        options = options.with_draft(match draft {
            Draft::Draft4 => jsonschema::Draft::Draft4,
            Draft::Draft6 => jsonschema::Draft::Draft6,
            Draft::Draft7 => jsonschema::Draft::Draft7,
            Draft::Draft201909 => jsonschema::Draft::Draft201909,
            Draft::Draft202012 => jsonschema::Draft::Draft202012,
        });
    }
    let validator = options.build(schema).map_err(|e| DataError::Invalid {
        field: "schema".into(),
        message: format!("{e} (at {})", pointer_or_root(e.instance_path().as_str())),
    })?;
    Ok(validator
        .iter_errors(instance)
        .take(MAX_ERRORS)
        .map(|e| SchemaViolation {
            instance_path: e.instance_path().as_str().to_owned(),
            schema_path: e.schema_path().as_str().to_owned(),
            message: e.to_string(),
        })
        .collect())
}

fn pointer_or_root(pointer: &str) -> &str {
    if pointer.is_empty() {
        "the root"
    } else {
        pointer
    }
}

/// A 2020-12 schema that every sample satisfies: types merged across samples, `required` for
/// object fields present in every sample, `items` merged over array elements, and `format`
/// for strings that all look like dates, times, emails, UUIDs or URIs.
pub fn infer(samples: &[Value]) -> Value {
    let mut shape = Shape::default();
    for sample in samples {
        shape.add(sample);
    }
    let mut schema = shape.schema();
    if let Value::Object(map) = &mut schema {
        let mut with_dialect = Map::new();
        with_dialect.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        with_dialect.append(map);
        return Value::Object(with_dialect);
    }
    schema
}

/// Object fields in order of first appearance: name → slot in `shapes`.
#[derive(Debug, Default)]
struct Fields {
    slots: HashMap<String, usize>,
    shapes: Vec<(String, Shape, usize)>,
}

/// What has been seen at one place in the samples.
#[derive(Debug, Default)]
struct Shape {
    null: bool,
    boolean: bool,
    integer: bool,
    /// Numbers with a fraction.
    number: bool,
    /// Formats every string so far matches (`None` before the first string).
    string_formats: Option<Vec<&'static str>>,
    array: Option<Box<Shape>>,
    /// Fields in order of first appearance, each with how many objects had it.
    object: Option<Fields>,
    objects: usize,
}

const FORMATS: [&str; 5] = ["date-time", "date", "email", "uuid", "uri"];

fn matches_format(format: &str, s: &str) -> bool {
    match format {
        "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        "date" => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10,
        "email" => {
            let mut parts = s.split('@');
            matches!((parts.next(), parts.next(), parts.next()), (Some(user), Some(domain), None)
                if !user.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !s.contains(char::is_whitespace))
        }
        "uuid" => {
            s.len() == 36
                && s.char_indices().all(|(i, c)| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                })
        }
        "uri" => s.split_once("://").is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                && !rest.is_empty()
                && !s.contains(char::is_whitespace)
        }),
        _ => false,
    }
}

impl Shape {
    fn add(&mut self, value: &Value) {
        match value {
            Value::Null => self.null = true,
            Value::Bool(_) => self.boolean = true,
            Value::Number(n) => {
                if n.is_i64() || n.is_u64() {
                    self.integer = true;
                } else {
                    self.number = true;
                }
            }
            Value::String(s) => {
                let formats = self.string_formats.get_or_insert_with(|| FORMATS.to_vec());
                formats.retain(|f| matches_format(f, s));
            }
            Value::Array(items) => {
                let shape = self.array.get_or_insert_with(Box::default);
                for item in items {
                    shape.add(item);
                }
            }
            Value::Object(map) => {
                self.objects += 1;
                let fields = self.object.get_or_insert_with(Fields::default);
                for (key, value) in map {
                    let slot = *fields.slots.entry(key.clone()).or_insert_with(|| {
                        fields.shapes.push((key.clone(), Shape::default(), 0));
                        fields.shapes.len() - 1
                    });
                    let (_, shape, seen) = &mut fields.shapes[slot];
                    shape.add(value);
                    *seen += 1;
                }
            }
        }
    }

    fn schema(&self) -> Value {
        let mut types: Vec<&str> = Vec::new();
        if self.null {
            types.push("null");
        }
        if self.boolean {
            types.push("boolean");
        }
        if self.number {
            types.push("number");
        } else if self.integer {
            types.push("integer");
        }
        let mut schema = Map::new();
        if let Some(formats) = &self.string_formats {
            types.push("string");
            if let Some(format) = formats.first() {
                schema.insert("format".into(), json!(format));
            }
        }
        if let Some(items) = &self.array {
            types.push("array");
            let items = items.schema();
            if items != json!({}) {
                schema.insert("items".into(), items);
            }
        }
        if let Some(fields) = &self.object {
            types.push("object");
            let mut properties = Map::new();
            let mut required = Vec::new();
            for (key, shape, seen) in &fields.shapes {
                properties.insert(key.clone(), shape.schema());
                if *seen == self.objects {
                    required.push(json!(key));
                }
            }
            schema.insert("properties".into(), Value::Object(properties));
            if !required.is_empty() {
                schema.insert("required".into(), Value::Array(required));
            }
        }
        if !types.is_empty() {
            let mut typed = Map::new();
            typed.insert(
                "type".into(),
                match types.as_slice() {
                    [one] => json!(one),
                    many => json!(many),
                },
            );
            typed.append(&mut schema);
            schema = typed;
        }
        Value::Object(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_with_its_instance_path() {
        let schema = json!({
            "type": "object",
            "required": ["id", "email"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "email": {"type": "string", "format": "email"},
                "tags": {"type": "array", "items": {"type": "string"}}
            }
        });
        let instance = json!({"id": 0, "email": "nope", "tags": ["a", 2]});
        let violations = validate(&schema, &instance, None, true).unwrap();
        let paths: Vec<&str> = violations
            .iter()
            .map(|v| v.instance_path.as_str())
            .collect();
        assert!(paths.contains(&"/id"), "{violations:?}");
        assert!(paths.contains(&"/email"), "{violations:?}");
        assert!(paths.contains(&"/tags/1"), "{violations:?}");
        assert_eq!(violations.len(), 3);
        let without_formats = validate(&schema, &instance, None, false).unwrap();
        assert_eq!(without_formats.len(), 2);
        assert!(
            validate(&schema, &json!({"id": 3, "email": "a@b.io"}), None, true)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn drafts_differ_where_the_spec_does() {
        // `exclusiveMaximum` is a boolean modifier in draft-04 and a number from draft-06 on.
        let schema = json!({"maximum": 10, "exclusiveMaximum": true});
        assert_eq!(
            validate(&schema, &json!(10), Some(Draft::Draft4), false)
                .unwrap()
                .len(),
            1
        );
        assert!(validate(&schema, &json!(10), Some(Draft::Draft7), false).is_err());
    }

    #[test]
    fn bad_schemas_and_remote_refs_are_refused() {
        assert!(matches!(
            validate(&json!({"type": "nonsense"}), &json!(1), None, false),
            Err(DataError::Invalid { field, .. }) if field == "schema"
        ));
        let remote = json!({"$ref": "https://example.com/schema.json"});
        assert!(validate(&remote, &json!(1), None, false).is_err());
    }

    #[test]
    fn inferred_schemas_accept_their_samples() {
        let samples = vec![
            json!({"id": 1, "email": "a@b.io", "at": "2024-01-02T03:04:05Z", "tags": ["x"], "score": 1}),
            json!({"id": 2, "email": "c@d.org", "at": "2024-02-03T00:00:00+01:00", "tags": [], "score": 2.5, "note": null}),
        ];
        let schema = infer(&samples);
        assert_eq!(
            schema,
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "email": {"type": "string", "format": "email"},
                    "at": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "score": {"type": "number"},
                    "note": {"type": "null"}
                },
                "required": ["id", "email", "at", "tags", "score"]
            })
        );
        for sample in &samples {
            assert!(validate(&schema, sample, None, true).unwrap().is_empty());
        }
        assert_eq!(
            infer(&[json!(1), json!("a"), json!(null)])["type"],
            json!(["null", "integer", "string"])
        );
    }
}
