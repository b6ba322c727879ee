//! `datetime` and `text`: the small utilities every workflow needs.

use axum::Json;
use axum::extract::State;
use chrono::{Datelike, Timelike};
use flowforge_service_kit::{ApiError, ApiJson};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::domain::datetime::{self as dt, Rounding, Unit};
use crate::domain::text::{self as tx, Extracted, Extraction};
use crate::state::AppState;

/// What to do with a date.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DateOperation {
    /// Read `value` and describe it.
    Parse,
    /// Write `value` with `format`.
    Format,
    /// `value` + `amount` `unit`s.
    Add,
    /// `value` − `amount` `unit`s.
    Subtract,
    /// `end` − `value` in `unit`.
    Diff,
    /// `value` to the start (floor), end (ceil) or nearest of a `unit`.
    Round,
    /// `value` shown in `toTimezone`.
    Convert,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DateUnit {
    Years,
    Quarters,
    Months,
    Weeks,
    Days,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
}

impl From<DateUnit> for Unit {
    fn from(unit: DateUnit) -> Self {
        match unit {
            DateUnit::Years => Self::Years,
            DateUnit::Quarters => Self::Quarters,
            DateUnit::Months => Self::Months,
            DateUnit::Weeks => Self::Weeks,
            DateUnit::Days => Self::Days,
            DateUnit::Hours => Self::Hours,
            DateUnit::Minutes => Self::Minutes,
            DateUnit::Seconds => Self::Seconds,
            DateUnit::Milliseconds => Self::Milliseconds,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DateRounding {
    #[default]
    Floor,
    Ceil,
    Nearest,
}

/// A date operation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"operation": "add", "value": "2024-03-30 09:00", "timezone": "Europe/Oslo", "amount": 1, "unit": "days", "format": "cccc d LLLL yyyy HH:mm"}))]
pub struct DateRequest {
    pub operation: DateOperation,
    /// ISO 8601, RFC 2822, `YYYY-MM-DD[ HH:MM[:SS]]`, `DD.MM.YYYY`, Unix seconds or
    /// milliseconds, or anything `inputFormat` describes.
    #[schema(value_type = Object)]
    pub value: Value,
    /// How to read `value` (and `end`): strftime (`%d/%m/%Y`) or Luxon tokens (`dd/LL/yyyy`).
    #[serde(default)]
    pub input_format: Option<String>,
    /// How to write the result (strftime or Luxon tokens; default ISO 8601).
    #[serde(default)]
    pub format: Option<String>,
    /// The IANA zone for times without an offset, and for the result (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// `convert`: the zone to show the result in.
    #[serde(default)]
    pub to_timezone: Option<String>,
    /// `add`/`subtract`.
    #[serde(default)]
    pub amount: Option<i64>,
    /// `add`/`subtract`/`diff`/`round`.
    #[serde(default)]
    pub unit: Option<DateUnit>,
    /// `diff`: the later date.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub end: Option<Value>,
    /// `round`: default floor.
    #[serde(default)]
    pub rounding: DateRounding,
}

fn need<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid_field(field, "this operation needs it"))
}

/// Parse, format, add/subtract, diff, round and convert dates, in IANA time zones (n8n's Date &
/// Time node).
#[utoipa::path(
    post,
    path = "/api/v1/data/datetime",
    tag = "text",
    request_body = DateRequest,
    responses((status = 200, description = "`result` (text, or a number for diff) with `iso`, `epochMillis`, `timezone` and, for parse, the date's parts", body = Object))
)]
pub async fn datetime(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<DateRequest>,
) -> Result<Json<Value>, ApiError> {
    let outcome = date_operation(r);
    state.record("datetime", outcome.is_ok());
    outcome.map(Json)
}

fn date_operation(r: DateRequest) -> Result<Value, ApiError> {
    let zone = match &r.timezone {
        Some(name) => dt::zone(name, "timezone")?,
        None => chrono_tz::UTC,
    };
    let input_format = r.input_format.as_deref();
    let time = dt::parse(&r.value, input_format, zone)?;
    let time = match r.operation {
        DateOperation::Diff => {
            let unit = need(r.unit, "unit")?;
            let end = dt::parse(&need(r.end, "end")?, input_format, zone)
                .map_err(|e| relabel(e, "end"))?;
            return Ok(
                json!({"result": dt::diff(&time, &end, unit.into()), "unit": unit_name(unit)}),
            );
        }
        DateOperation::Parse | DateOperation::Format => time,
        DateOperation::Add => dt::add(
            &time,
            need(r.amount, "amount")?,
            need(r.unit, "unit")?.into(),
        )?,
        DateOperation::Subtract => {
            let amount = need(r.amount, "amount")?
                .checked_neg()
                .ok_or_else(|| ApiError::invalid_field("amount", "is out of range"))?;
            dt::add(&time, amount, need(r.unit, "unit")?.into())?
        }
        DateOperation::Round => dt::round(
            &time,
            need(r.unit, "unit")?.into(),
            match r.rounding {
                DateRounding::Floor => Rounding::Floor,
                DateRounding::Ceil => Rounding::Ceil,
                DateRounding::Nearest => Rounding::Nearest,
            },
        )?,
        DateOperation::Convert => {
            let to = dt::zone(&need(r.to_timezone, "toTimezone")?, "toTimezone")?;
            time.with_timezone(&to)
        }
    };
    if matches!(r.operation, DateOperation::Format) && r.format.is_none() {
        return Err(ApiError::invalid_field("format", "this operation needs it"));
    }
    let mut body = Map::new();
    body.insert(
        "result".into(),
        json!(dt::format(&time, r.format.as_deref())?),
    );
    body.insert("iso".into(), json!(dt::iso(&time)));
    body.insert("epochMillis".into(), json!(time.timestamp_millis()));
    body.insert("timezone".into(), json!(time.timezone().name()));
    if matches!(r.operation, DateOperation::Parse) {
        body.insert(
            "parts".into(),
            json!({
                "year": time.year(), "month": time.month(), "day": time.day(),
                "hour": time.hour(), "minute": time.minute(), "second": time.second(),
                "millisecond": time.timestamp_subsec_millis(),
                "weekday": time.weekday().number_from_monday(),
                "dayOfYear": time.ordinal(),
                "isoWeek": time.iso_week().week(),
                "offsetMinutes": chrono::Offset::fix(time.offset()).local_minus_utc() / 60,
            }),
        );
    }
    Ok(Value::Object(body))
}

fn relabel(error: crate::domain::DataError, field: &str) -> ApiError {
    match error {
        crate::domain::DataError::Invalid { message, .. } => {
            ApiError::invalid_field(field, message)
        }
        other => other.into(),
    }
}

fn unit_name(unit: DateUnit) -> &'static str {
    match unit {
        DateUnit::Years => "years",
        DateUnit::Quarters => "quarters",
        DateUnit::Months => "months",
        DateUnit::Weeks => "weeks",
        DateUnit::Days => "days",
        DateUnit::Hours => "hours",
        DateUnit::Minutes => "minutes",
        DateUnit::Seconds => "seconds",
        DateUnit::Milliseconds => "milliseconds",
    }
}

/// What to do with text.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum TextOperation {
    HtmlToText,
    HtmlToMarkdown,
    MarkdownToHtml,
    /// CSS-selector extraction from HTML (`extract`).
    Extract,
    /// Every match of `pattern` with its groups.
    RegexExtract,
    /// `pattern` replaced by `replacement` (`$1`, `$name`).
    RegexReplace,
    /// Whether `pattern` matches.
    RegexTest,
    /// The text split at each match of `pattern`.
    RegexSplit,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExtractValue {
    #[default]
    Text,
    Html,
    OuterHtml,
    Attribute,
}

/// One value to extract from HTML.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtractField {
    /// The output field.
    pub key: String,
    /// A CSS selector.
    pub selector: String,
    #[serde(default)]
    pub value: ExtractValue,
    /// `value: attribute`: which one.
    #[serde(default)]
    pub attribute: Option<String>,
    /// Every match as an array (default: the first, or null).
    #[serde(default)]
    pub all: bool,
}

/// A text operation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"operation": "extract", "text": "<h1>Hi</h1><a href='/a'>a</a>", "extract": [{"key": "title", "selector": "h1"}, {"key": "links", "selector": "a", "value": "attribute", "attribute": "href", "all": true}]}))]
pub struct TextRequest {
    pub operation: TextOperation,
    pub text: String,
    /// `htmlToText`: wrap width (default 100).
    #[serde(default)]
    pub width: Option<usize>,
    /// `markdownToHtml`: pass raw HTML through (default false: escaped).
    #[serde(default)]
    pub allow_html: bool,
    #[serde(default)]
    pub extract: Vec<ExtractField>,
    /// A regular expression (RE2 syntax: no backreferences; runs in linear time).
    #[serde(default)]
    pub pattern: Option<String>,
    /// `i`, `m`, `s`, `x`.
    #[serde(default)]
    pub flags: String,
    #[serde(default)]
    pub replacement: Option<String>,
    /// `regexReplace`: only the first match (default: all).
    #[serde(default)]
    pub first_only: bool,
}

/// HTML → text or Markdown, Markdown → safe HTML, CSS-selector extraction (n8n's HTML node), and
/// regex extract/replace/test/split.
#[utoipa::path(
    post,
    path = "/api/v1/data/text",
    tag = "text",
    request_body = TextRequest,
    responses((status = 200, description = "`{\"result\": …}`", body = Object))
)]
pub async fn text(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<TextRequest>,
) -> Result<Json<Value>, ApiError> {
    let outcome = state.cpu.run(move || text_operation(r)).await;
    state.record("text", outcome.is_ok());
    Ok(Json(json!({ "result": outcome? })))
}

fn text_operation(r: TextRequest) -> Result<Value, ApiError> {
    let pattern = || -> Result<regex::Regex, ApiError> {
        Ok(tx::regex(&need(r.pattern.clone(), "pattern")?, &r.flags)?)
    };
    Ok(match r.operation {
        TextOperation::HtmlToText => json!(tx::html_to_text(&r.text, r.width.unwrap_or(100))?),
        TextOperation::HtmlToMarkdown => json!(tx::html_to_markdown(&r.text)),
        TextOperation::MarkdownToHtml => json!(tx::markdown_to_html(&r.text, r.allow_html)),
        TextOperation::Extract => {
            if r.extract.is_empty() {
                return Err(ApiError::invalid_field(
                    "extract",
                    "name at least one field",
                ));
            }
            let extractions = r
                .extract
                .into_iter()
                .enumerate()
                .map(|(i, field)| {
                    let what = match field.value {
                        ExtractValue::Text => Extracted::Text,
                        ExtractValue::Html => Extracted::Html,
                        ExtractValue::OuterHtml => Extracted::OuterHtml,
                        ExtractValue::Attribute => {
                            Extracted::Attribute(field.attribute.ok_or_else(|| {
                                ApiError::invalid_field(
                                    format!("extract[{i}].attribute"),
                                    "name the attribute",
                                )
                            })?)
                        }
                    };
                    Ok(Extraction {
                        key: field.key,
                        selector: field.selector,
                        what,
                        all: field.all,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            tx::extract(&r.text, &extractions)?
        }
        TextOperation::RegexExtract => json!(tx::regex_matches(&pattern()?, &r.text)?),
        TextOperation::RegexReplace => {
            let regex = pattern()?;
            let replacement = need(r.replacement.clone(), "replacement")?;
            let replaced = if r.first_only {
                regex.replace(&r.text, replacement.as_str())
            } else {
                regex.replace_all(&r.text, replacement.as_str())
            };
            json!(replaced)
        }
        TextOperation::RegexTest => json!(pattern()?.is_match(&r.text)),
        TextOperation::RegexSplit => {
            let parts: Vec<&str> = pattern()?.split(&r.text).take(tx::MAX_MATCHES).collect();
            json!(parts)
        }
    })
}
