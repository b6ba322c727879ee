//! JSON Patch (RFC 6902) diff and apply, JSON Merge Patch (RFC 7386).

use serde_json::Value;

use super::{DataError, Result};

/// The operations that turn `from` into `to`.
pub fn diff(from: &Value, to: &Value) -> Value {
    serde_json::to_value(json_patch::diff(from, to)).unwrap_or(Value::Array(Vec::new()))
}

/// Applies RFC 6902 `operations` to `document`; all or nothing.
pub fn apply(document: &Value, operations: &Value) -> Result<Value> {
    let patch: json_patch::Patch =
        serde_json::from_value(operations.clone()).map_err(|e| DataError::Invalid {
            field: "patch".into(),
            message: format!("is not a JSON Patch: {e}"),
        })?;
    let mut result = document.clone();
    json_patch::patch(&mut result, &patch).map_err(|e| DataError::Invalid {
        field: format!("patch[{}]", e.operation),
        message: e.kind.to_string(),
    })?;
    Ok(result)
}

/// Applies an RFC 7386 merge patch.
pub fn merge(document: &Value, patch: &Value) -> Value {
    let mut result = document.clone();
    json_patch::merge(&mut result, patch);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc_6902_examples() {
        // RFC 6902 A.1: adding an object member.
        let added = apply(
            &json!({"foo": "bar"}),
            &json!([{"op": "add", "path": "/baz", "value": "qux"}]),
        )
        .unwrap();
        assert_eq!(added, json!({"baz": "qux", "foo": "bar"}));
        // A.2: adding an array element.
        let inserted = apply(
            &json!({"foo": ["bar", "baz"]}),
            &json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
        )
        .unwrap();
        assert_eq!(inserted, json!({"foo": ["bar", "qux", "baz"]}));
        // A.8: a failed test fails the whole patch.
        let failed = apply(
            &json!({"baz": "qux"}),
            &json!([{"op": "test", "path": "/baz", "value": "bar"}]),
        );
        assert!(matches!(failed, Err(DataError::Invalid { ref field, .. }) if field == "patch[0]"));
        assert!(apply(&json!({}), &json!([{"op": "nope"}])).is_err());
    }

    #[test]
    fn diff_then_apply_round_trips() {
        let (a, b) = (
            json!({"a": 1, "b": [1, 2], "c": {"d": true}}),
            json!({"a": 2, "b": [1, 2, 3], "e": null}),
        );
        assert_eq!(apply(&a, &diff(&a, &b)).unwrap(), b);
    }

    #[test]
    fn rfc_7386_example() {
        let document = json!({"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["example", "sample"], "content": "This will be unchanged"});
        let patch = json!({"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": null}, "tags": ["example"]});
        assert_eq!(
            merge(&document, &patch),
            json!({"title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"], "content": "This will be unchanged", "phoneNumber": "+01-123-456-7890"})
        );
    }
}
