//! JSONPath (RFC 9535) and JMESPath: the two declarative query languages beside jq. Neither has
//! loops or recursion beyond the data's own depth, so both run in process (on the CPU pool).

use serde_json::Value;

use super::{DataError, Result};

/// Every node `path` selects, in document order.
pub fn jsonpath(path: &str, value: &Value) -> Result<Vec<Value>> {
    let path = serde_json_path::JsonPath::parse(path).map_err(|e| DataError::Invalid {
        field: "filter".into(),
        message: format!(
            "JSONPath syntax error at position {}: {}",
            e.position(),
            e.message()
        ),
    })?;
    Ok(path.query(value).all().into_iter().cloned().collect())
}

/// The value a JMESPath `expression` gives for `value`.
pub fn jmespath(expression: &str, value: &Value) -> Result<Value> {
    let compiled = jmespath::compile(expression).map_err(|e| DataError::Invalid {
        field: "filter".into(),
        message: format!("JMESPath error at position {}: {}", e.offset, e.reason),
    })?;
    let result = compiled
        .search(value)
        .map_err(|e| DataError::QueryFailed(format!("JMESPath: {}", e.reason)))?;
    serde_json::to_value(&*result).map_err(|e| DataError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> Value {
        // RFC 9535, section 1.5.
        json!({"store": {
            "book": [
                {"category": "reference", "author": "Nigel Rees", "title": "Sayings of the Century", "price": 8.95},
                {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword of Honour", "price": 12.99},
                {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553-21311-3", "price": 8.99},
                {"category": "fiction", "author": "J. R. R. Tolkien", "title": "The Lord of the Rings", "isbn": "0-395-19395-8", "price": 22.99}
            ],
            "bicycle": {"color": "red", "price": 399}
        }})
    }

    #[test]
    fn rfc_9535_examples() {
        let store = store();
        assert_eq!(
            jsonpath("$.store.book[*].author", &store).unwrap(),
            vec![
                json!("Nigel Rees"),
                json!("Evelyn Waugh"),
                json!("Herman Melville"),
                json!("J. R. R. Tolkien")
            ]
        );
        assert_eq!(jsonpath("$..author", &store).unwrap().len(), 4);
        assert_eq!(jsonpath("$.store..price", &store).unwrap().len(), 5);
        assert_eq!(
            jsonpath("$..book[2].author", &store).unwrap(),
            vec![json!("Herman Melville")]
        );
        assert_eq!(
            jsonpath("$..book[-1].title", &store).unwrap(),
            vec![json!("The Lord of the Rings")]
        );
        assert_eq!(jsonpath("$..book[:2]", &store).unwrap().len(), 2);
        let titles: Vec<Value> = jsonpath("$..book[?@.isbn].title", &store).unwrap();
        assert_eq!(
            titles,
            vec![json!("Moby Dick"), json!("The Lord of the Rings")]
        );
        assert_eq!(
            jsonpath("$..book[?@.price<10].title", &store)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(jsonpath("$..*", &store).unwrap().len(), 27);
        match jsonpath("$.store[", &store) {
            Err(DataError::Invalid { field, message }) => {
                assert_eq!(field, "filter");
                assert!(
                    message.starts_with("JSONPath syntax error at position"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn jmespath_projections_filters_and_functions() {
        let store = store();
        assert_eq!(
            jmespath("store.book[?price > `10`].title", &store).unwrap(),
            json!(["Sword of Honour", "The Lord of the Rings"])
        );
        assert_eq!(
            jmespath("length(store.book[?category == 'fiction'])", &store).unwrap(),
            json!(3)
        );
        assert_eq!(
            jmespath("max_by(store.book, &price).author", &store).unwrap(),
            json!("J. R. R. Tolkien")
        );
        assert_eq!(
            jmespath("store.book[0].{t: title, p: price}", &store).unwrap(),
            json!({"t": "Sayings of the Century", "p": 8.95})
        );
        assert!(matches!(
            jmespath("store.[", &store),
            Err(DataError::Invalid { .. })
        ));
        assert!(matches!(
            jmespath("length(`1`)", &store),
            Err(DataError::QueryFailed(_))
        ));
    }
}
