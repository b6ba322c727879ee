//! Jinja-style templates (minijinja) for emails and reports, with a fuel limit so a template's
//! loops cannot run away.

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value;

use super::{DataError, Result};

/// Instructions one render may spend (a few hundred milliseconds).
const FUEL: u64 = 5_000_000;
/// Largest output.
const MAX_OUTPUT: usize = 10 * 1024 * 1024;

/// Renders `template` with `data`; `html` escapes values for HTML, `strict` refuses undefined
/// variables instead of rendering them empty.
pub fn render(template: &str, data: &Value, html: bool, strict: bool) -> Result<String> {
    let mut environment = Environment::new();
    environment.set_fuel(Some(FUEL));
    environment.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    environment.set_auto_escape_callback(move |_| {
        if html {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    environment.set_undefined_behavior(if strict {
        UndefinedBehavior::Strict
    } else {
        UndefinedBehavior::Lenient
    });
    let output = environment
        .render_str(
            template,
            minijinja::value::Value::from(minijinja::value::Serde(data)),
        )
        .map_err(|e| {
            let line = e
                .line()
                .map(|l| format!(" at line {l}"))
                .unwrap_or_default();
            match e.kind() {
                ErrorKind::OutOfFuel => DataError::TooComplex("the template ran too long".into()),
                ErrorKind::SyntaxError => DataError::Invalid {
                    field: "template".into(),
                    message: format!("syntax error{line}: {}", e.detail().unwrap_or("invalid")),
                },
                _ => DataError::Invalid {
                    field: "template".into(),
                    message: format!(
                        "{}{line}",
                        e.detail()
                            .map_or_else(|| e.kind().to_string(), str::to_owned)
                    ),
                },
            }
        })?;
    if output.len() > MAX_OUTPUT {
        return Err(DataError::TooComplex(
            "the rendered output is over 10 MiB".into(),
        ));
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_loops_filters_and_escapes() {
        let data =
            json!({"name": "Ada <3", "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]});
        let text = "Hi {{ name }}: {% for i in items %}{{ i.sku }}×{{ i.qty }}{% if not loop.last %}, {% endif %}{% endfor %} ({{ items|length }})";
        assert_eq!(
            render(text, &data, false, false).unwrap(),
            "Hi Ada <3: a×2, b×1 (2)"
        );
        assert_eq!(
            render("{{ name }}", &data, true, false).unwrap(),
            "Ada &lt;3"
        );
        assert_eq!(
            render("[{{ missing }}]", &data, false, false).unwrap(),
            "[]"
        );
        assert!(render("{{ missing }}", &data, false, true).is_err());
    }

    #[test]
    fn errors_and_runaway_loops() {
        match render("{% for x in items %}", &json!({"items": []}), false, false) {
            Err(DataError::Invalid { field, message }) => {
                assert_eq!(field, "template");
                assert!(message.starts_with("syntax error at line 1"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let runaway =
            "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}";
        assert!(matches!(
            render(runaway, &json!({}), false, false),
            Err(DataError::TooComplex(_))
        ));
    }
}
