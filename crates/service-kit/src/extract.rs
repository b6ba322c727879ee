//! Extractors whose rejections speak the error envelope, and batch requests.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::Limits;
use crate::error::{ApiError, ErrorBody};

/// Most items one batch request may carry.
pub const MAX_BATCH_ITEMS: usize = 1000;

/// A JSON body parsed into `T`; any failure is a VALIDATION_ERROR envelope naming the field.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// `Option<ApiJson<T>>`: an empty body is `None` (for operations whose options are all optional).
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let declared_json = is_json(req.headers());
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if !declared_json {
            return Err(ApiError::unsupported_media_type(
                "Expected a JSON body with Content-Type: application/json",
            ));
        }
        parse_json(&bytes).map(|value| Some(ApiJson(value)))
    }
}

/// Query parameters parsed into `T`, with envelope rejections.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

/// Either one request `T`, or `{"items": [T, ...]}` whose other top-level fields are defaults for
/// every item. Each item is parsed on its own, so one bad item does not fail the batch.
#[derive(Debug)]
pub enum Batch<T> {
    /// A plain single request.
    One(T),
    /// A batch: each item parsed, or the error that item gets.
    Many(Vec<Result<T, ApiError>>),
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Batch<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        Batch::from_slice(&bytes)
    }
}

impl<T: DeserializeOwned> Batch<T> {
    /// Parses a JSON body as a single request or a batch.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ApiError> {
        let mut value: serde_json::Value = parse_json(bytes)?;
        let Some(object) = value.as_object_mut() else {
            return parse_value(value).map(Batch::One);
        };
        let Some(items) = object.remove("items") else {
            return parse_value(value).map(Batch::One);
        };
        let serde_json::Value::Array(items) = items else {
            return Err(ApiError::invalid_field(
                "items",
                "must be an array of requests",
            ));
        };
        if items.is_empty() {
            return Err(ApiError::invalid_field(
                "items",
                "must contain at least one request",
            ));
        }
        if items.len() > MAX_BATCH_ITEMS {
            return Err(ApiError::invalid_field(
                "items",
                format!(
                    "at most {MAX_BATCH_ITEMS} items per batch, got {}",
                    items.len()
                ),
            ));
        }
        let defaults = std::mem::take(object);
        let parsed = items
            .into_iter()
            .enumerate()
            .map(|(index, mut item)| {
                if let Some(fields) = item.as_object_mut() {
                    for (key, default) in &defaults {
                        fields.entry(key.clone()).or_insert_with(|| default.clone());
                    }
                }
                parse_value(item).map_err(|e| prefix_fields(e, &format!("items[{index}]")))
            })
            .collect();
        Ok(Batch::Many(parsed))
    }
}

impl<T> Batch<T> {
    /// Runs `operation` on the request or on every item, answering a single result as JSON or a
    /// [`BatchResponse`] for a batch.
    pub fn respond<R: Serialize>(
        self,
        mut operation: impl FnMut(T) -> Result<R, ApiError>,
    ) -> Result<Response, ApiError> {
        match self {
            Batch::One(request) => Ok(Json(operation(request)?).into_response()),
            Batch::Many(items) => {
                let results = items
                    .into_iter()
                    .map(|item| item.and_then(&mut operation))
                    .collect();
                Ok(Json(BatchResponse::from_results(results)).into_response())
            }
        }
    }

    /// Like [`Batch::respond`], on `pool`: for CPU-heavy operations (KDFs, big inputs).
    pub async fn respond_blocking<R, F>(
        self,
        pool: &crate::BlockingPool,
        operation: F,
    ) -> Result<Response, ApiError>
    where
        T: Send + 'static,
        R: Serialize + Send + 'static,
        F: FnMut(T) -> Result<R, ApiError> + Send + 'static,
    {
        pool.run(move || self.respond(operation)).await
    }
}

/// The request body of a batch: `items` plus any field of `T` as a default for every item.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchRequest<T> {
    /// The requests, 1 to 1000; fields given beside `items` apply to every item that lacks them.
    pub items: Vec<T>,
}

/// A request body that is either one request or a batch (for the OpenAPI document).
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub enum OneOrBatch<T> {
    /// Several requests at once.
    Batch(BatchRequest<T>),
    /// One request.
    One(T),
}

/// A response that is one result, or a [`BatchResponse`] when the request was a batch (for the
/// OpenAPI document, so generated clients accept both).
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub enum OneOrBatchResponse<T> {
    /// Per-item results of a batch request.
    Batch(BatchResponse<T>),
    /// The result of a single request.
    One(T),
}

/// Per-item results of a batch, in request order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse<T> {
    /// One entry per item, in order.
    pub results: Vec<BatchItem<T>>,
    /// How many items succeeded.
    pub succeeded: usize,
    /// How many items failed.
    pub failed: usize,
}

/// One item's outcome: `ok` with `result`, or not `ok` with `error`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchItem<T> {
    /// Whether this item succeeded.
    pub ok: bool,
    /// The item's result when `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<T>,
    /// The item's error when not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl<T> BatchResponse<T> {
    fn from_results(results: Vec<Result<T, ApiError>>) -> Self {
        let failed = results.iter().filter(|r| r.is_err()).count();
        let succeeded = results.len() - failed;
        let results = results
            .into_iter()
            .map(|r| match r {
                Ok(result) => BatchItem {
                    ok: true,
                    result: Some(result),
                    error: None,
                },
                Err(e) => BatchItem {
                    ok: false,
                    result: None,
                    error: Some(e.body()),
                },
            })
            .collect();
        Self {
            results,
            succeeded,
            failed,
        }
    }
}

/// Whether the request says its body is JSON (`application/json` or `application/*+json`).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(mime) = media_type(headers) else {
        return false;
    };
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The media type of the body, lowercased, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let mime = value.split(';').next()?.trim().to_ascii_lowercase();
    (!mime.is_empty()).then_some(mime)
}

/// Reads a body that must be JSON, within the configured size limit.
async fn json_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if !is_json(req.headers()) {
        return Err(ApiError::unsupported_media_type(
            "Expected a JSON body with Content-Type: application/json",
        ));
    }
    read_body(req, state).await
}

/// Reads the whole body, mapping an over-limit body to 413.
pub(crate) async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let limit = req.extensions().get::<Limits>().map(|l| l.max_body_bytes);
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(limit.unwrap_or(crate::config::DEFAULT_MAX_BODY_BYTES))
        } else {
            ApiError::bad_request(format!(
                "Could not read the request body: {}",
                rejection.body_text()
            ))
        }
    })
}

/// Parses JSON text into `T`: malformed JSON is 400, a wrong shape is 422 naming the field.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "Request body is empty; expected a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_data() {
            field_error(&path, &strip_position(&inner.to_string()))
        } else {
            ApiError::bad_request("Malformed JSON").with_detail("body", inner.to_string())
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::bad_request("Malformed JSON").with_detail("body", e.to_string()))?;
    Ok(value)
}

/// Converts an already-parsed JSON value into `T`, naming the field at fault.
pub(crate) fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        field_error(&path, &error.into_inner().to_string())
    })
}

/// Parses URL-encoded pairs (a query string, or multipart text fields) into `T`.
pub(crate) fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        field_error(&path, &error.into_inner().to_string())
    })
}

/// A 422 naming `path` (or the missing field inside it).
fn field_error(path: &str, message: &str) -> ApiError {
    let parent = if path == "." { "" } else { path };
    let field = match missing_field_name(message) {
        Some(name) if parent.is_empty() => name.to_owned(),
        Some(name) => format!("{parent}.{name}"),
        None if parent.is_empty() => "body".to_owned(),
        None => parent.to_owned(),
    };
    ApiError::invalid_field(field, message)
}

/// The field a "missing field `x`" message names (the path stops at its parent).
fn missing_field_name(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// serde_json appends " at line 1 column 42" to data errors; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

fn prefix_fields(error: ApiError, prefix: &str) -> ApiError {
    let mut prefixed = ApiError::new(error.status(), error.code().to_owned(), error.message());
    for detail in error.details() {
        let field = if detail.field == "body" {
            prefix.to_owned()
        } else {
            format!("{prefix}.{}", detail.field)
        };
        prefixed = prefixed.with_detail(field, detail.message.clone());
    }
    prefixed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Req {
        algorithm: Algo,
        #[serde(default)]
        rounds: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Algo {
        Sha256,
        Md5,
    }

    fn error_of(body: &str) -> (u16, String, String) {
        let e = parse_json::<Req>(body.as_bytes()).unwrap_err();
        (
            e.status().as_u16(),
            e.code().to_owned(),
            e.details()[0].field.clone(),
        )
    }

    #[test]
    fn rejections_name_status_and_field() {
        assert_eq!(
            error_of("{\"algorithm\": "),
            (400, "VALIDATION_ERROR".into(), "body".into())
        );
        assert_eq!(
            error_of("{}"),
            (422, "VALIDATION_ERROR".into(), "algorithm".into())
        );
        assert_eq!(
            error_of("{\"algorithm\":\"sha999\"}"),
            (422, "VALIDATION_ERROR".into(), "algorithm".into())
        );
        assert_eq!(
            error_of("{\"algorithm\":\"md5\",\"rounds\":\"x\"}"),
            (422, "VALIDATION_ERROR".into(), "rounds".into())
        );
        assert_eq!(
            error_of("{\"algorithm\":\"md5\"} trailing"),
            (400, "VALIDATION_ERROR".into(), "body".into())
        );
        assert_eq!(
            error_of("\"text\""),
            (422, "VALIDATION_ERROR".into(), "body".into())
        );
        assert_eq!(
            parse_json::<Req>(b"  ").unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn unknown_enum_message_lists_the_choices() {
        let e = parse_json::<Req>(br#"{"algorithm":"sha999"}"#).unwrap_err();
        let message = &e.details()[0].message;
        assert!(
            message.contains("sha999") && message.contains("sha256"),
            "{message}"
        );
        assert!(!message.contains("line 1"), "{message}");
    }

    #[test]
    fn batch_applies_defaults_and_isolates_item_errors() {
        let body = br#"{"rounds": 7, "items": [{"algorithm": "md5"}, {"algorithm": "nope"}, {"algorithm": "sha256", "rounds": 1}]}"#;
        let Batch::Many(items) = Batch::<Req>::from_slice(body).unwrap() else {
            panic!("expected a batch")
        };
        assert_eq!(
            items[0].as_ref().unwrap(),
            &Req {
                algorithm: Algo::Md5,
                rounds: 7
            }
        );
        assert_eq!(
            items[1].as_ref().unwrap_err().details()[0].field,
            "items[1].algorithm"
        );
        assert_eq!(
            items[2].as_ref().unwrap(),
            &Req {
                algorithm: Algo::Sha256,
                rounds: 1
            }
        );
    }

    #[test]
    fn batch_limits() {
        assert_eq!(
            Batch::<Req>::from_slice(br#"{"items": []}"#)
                .unwrap_err()
                .details()[0]
                .field,
            "items"
        );
        assert_eq!(
            Batch::<Req>::from_slice(br#"{"items": 3}"#)
                .unwrap_err()
                .details()[0]
                .field,
            "items"
        );
        let many = format!(
            "{{\"items\": [{}]}}",
            vec!["{\"algorithm\":\"md5\"}"; MAX_BATCH_ITEMS + 1].join(",")
        );
        assert!(Batch::<Req>::from_slice(many.as_bytes()).is_err());
        assert!(matches!(
            Batch::<Req>::from_slice(br#"{"algorithm":"md5"}"#).unwrap(),
            Batch::One(_)
        ));
    }

    #[test]
    fn query_values_are_typed() {
        let parsed: Req = parse_query("algorithm=sha256&rounds=3").unwrap();
        assert_eq!(
            parsed,
            Req {
                algorithm: Algo::Sha256,
                rounds: 3
            }
        );
        let e = parse_query::<Req>("rounds=3").unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.details()[0].field.as_str()),
            (422, "algorithm")
        );
    }
}
