//! HTTP surface: DTOs and handlers, one file per resource. Handlers extract, validate, call the
//! domain and map the result; errors go through `errors.rs`.

use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

mod calculus;
mod evaluate;
mod finance;
mod matrix;
mod statistics;

/// Every math route, documented.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(evaluate::evaluate))
        .routes(routes!(calculus::derivative))
        .routes(routes!(calculus::simplify))
        .routes(routes!(calculus::solve))
        .routes(routes!(calculus::integrate))
        .routes(routes!(statistics::describe))
        .routes(routes!(statistics::correlation))
        .routes(routes!(statistics::histogram))
        .routes(routes!(statistics::regression))
        .routes(routes!(statistics::outliers))
        .routes(routes!(statistics::series))
        .routes(routes!(statistics::hypothesis_test))
        .routes(routes!(matrix::matrix))
        .routes(routes!(finance::finance))
}

/// A number as JSON carries it, with its text: JSON has no Infinity or NaN, so those are `null`
/// with the text saying which.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumberOut {
    /// The value (in `unit`, if any); `null` when it is not finite.
    pub value: Option<f64>,
    /// The value as text with its unit (`"Infinity"`, `"-Infinity"` and `"NaN"` included).
    pub formatted: String,
    /// The unit the value is in (`km / h`), for quantities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Formats like math.js: up to `precision` significant digits, no trailing zeros.
pub fn format_number(value: f64, precision: Option<u32>) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    match precision {
        None => {
            // Shortest round-trip text, with math.js's 14-digit display of values like 0.1 + 0.2.
            let rounded: f64 = format!("{value:.14e}").parse().unwrap_or(value);
            format!("{rounded}")
        }
        Some(digits) => {
            let digits = digits.clamp(1, 17) as usize;
            let text = format!("{:.*e}", digits - 1, value);
            let parsed: f64 = text.parse().unwrap_or(value);
            format!("{parsed}")
        }
    }
}

impl NumberOut {
    pub fn new(value: f64, precision: Option<u32>) -> Self {
        Self {
            value: value.is_finite().then_some(value),
            formatted: format_number(value, precision),
            unit: None,
        }
    }

    /// A value that may carry a unit.
    pub fn quantity(value: &crate::domain::expr::Value, precision: Option<u32>) -> Self {
        let mut out = Self::new(value.number, precision);
        if let Some(unit) = &value.unit {
            let unit = unit.to_string();
            out.formatted = format!("{} {unit}", out.formatted);
            out.unit = Some(unit);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::format_number;

    #[test]
    fn numbers_read_like_math_js() {
        assert_eq!(format_number(0.1 + 0.2, None), "0.3");
        assert_eq!(format_number(1.0 / 3.0, Some(4)), "0.3333");
        assert_eq!(format_number(120.0, None), "120");
        assert_eq!(format_number(f64::INFINITY, None), "Infinity");
        assert_eq!(format_number(2.0e21, None), "2000000000000000000000");
    }
}
