//! Files in and out, in the three forms of DESIGN.md "JSON and files".
//!
//! In: multipart/form-data (`file` field, options as form fields or one `options` JSON field), a raw
//! body with options in the query string, or JSON with base64 `data` and options beside it.
//! Out: raw bytes with Content-Type and Content-Disposition, or JSON with base64 `data` when the
//! client sends `Accept: application/json`.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::Limits;
use crate::error::ApiError;
use crate::extract::{is_json, media_type, parse_json, parse_query, parse_value, read_body};

/// The multipart field that carries the file.
const FILE_FIELD: &str = "file";
/// The multipart field that may carry all options as one JSON object.
const OPTIONS_FIELD: &str = "options";
/// The multipart field (repeatable) or JSON array that carries several files.
const FILES_FIELD: &str = "files";

/// A file sent in any of the three forms, plus the operation's options `O`.
#[derive(Debug, Clone)]
pub struct BinaryInput<O> {
    /// The file's bytes.
    pub bytes: Bytes,
    /// The file name the client gave, if any.
    pub filename: Option<String>,
    /// The file's media type as the client declared it, if any.
    pub content_type: Option<String>,
    /// The operation's options.
    pub options: O,
}

impl<S: Send + Sync, O: DeserializeOwned + Send> FromRequest<S> for BinaryInput<O> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mime = media_type(req.headers());
        match mime.as_deref() {
            Some("multipart/form-data") => from_multipart(req, state).await,
            _ if is_json(req.headers()) => from_json(&read_body(req, state).await?),
            _ => from_raw(req, state, mime).await,
        }
    }
}

/// A JSON request `J` when the body is JSON, else a file in one of the other two forms.
#[derive(Debug)]
pub enum JsonOrBinary<J, O> {
    /// The body was JSON.
    Json(J),
    /// The body was a file (multipart or raw).
    Binary(BinaryInput<O>),
}

impl<S, J, O> FromRequest<S> for JsonOrBinary<J, O>
where
    S: Send + Sync,
    J: FromRequest<S, Rejection = ApiError>,
    O: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if is_json(req.headers()) {
            J::from_request(req, state).await.map(JsonOrBinary::Json)
        } else {
            BinaryInput::from_request(req, state)
                .await
                .map(JsonOrBinary::Binary)
        }
    }
}

/// Like [`JsonOrBinary`], but a raw body is handed over unread, to be processed chunk by chunk
/// (hashing a large upload without holding it in memory). Multipart bodies are read whole.
#[derive(Debug)]
pub enum JsonOrStream<J, O> {
    /// The body was JSON.
    Json(J),
    /// The body was multipart; its file was read.
    File(BinaryInput<O>),
    /// The body is raw bytes, still unread.
    Stream(BodyStream<O>),
}

impl<S, J, O> FromRequest<S> for JsonOrStream<J, O>
where
    S: Send + Sync,
    J: FromRequest<S, Rejection = ApiError>,
    O: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mime = media_type(req.headers());
        if is_json(req.headers()) {
            return J::from_request(req, state).await.map(JsonOrStream::Json);
        }
        if mime.as_deref() == Some("multipart/form-data") {
            return from_multipart(req, state).await.map(JsonOrStream::File);
        }
        let options = parse_query(req.uri().query().unwrap_or_default())?;
        let limit = req
            .extensions()
            .get::<Limits>()
            .map_or(crate::config::DEFAULT_MAX_BODY_BYTES, |l| l.max_body_bytes);
        let body = req.into_body().into_data_stream();
        Ok(JsonOrStream::Stream(BodyStream {
            options,
            content_type: mime,
            body,
            limit,
            received: 0,
        }))
    }
}

/// A raw request body read chunk by chunk, held to the body-size limit as it streams.
pub struct BodyStream<O> {
    /// The operation's options, from the query string.
    pub options: O,
    /// The body's media type, if declared.
    pub content_type: Option<String>,
    body: axum::body::BodyDataStream,
    limit: usize,
    received: usize,
}

impl<O: std::fmt::Debug> std::fmt::Debug for BodyStream<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream")
            .field("options", &self.options)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl<O> BodyStream<O> {
    /// The next chunk, `None` at the end; 413 once the body passes the limit.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        use futures_util::StreamExt;
        match self.body.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(ApiError::bad_request(format!(
                "Could not read the request body: {e}"
            ))),
            Some(Ok(chunk)) => {
                self.received += chunk.len();
                if self.received > self.limit {
                    return Err(ApiError::payload_too_large(self.limit));
                }
                Ok(Some(chunk))
            }
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> usize {
        self.received
    }
}

async fn from_raw<S: Send + Sync, O: DeserializeOwned>(
    req: Request,
    state: &S,
    mime: Option<String>,
) -> Result<BinaryInput<O>, ApiError> {
    let options = parse_query(req.uri().query().unwrap_or_default())?;
    let filename = req
        .headers()
        .get(CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(filename_from_disposition);
    let bytes = read_body(req, state).await?;
    Ok(BinaryInput {
        bytes,
        filename,
        content_type: mime,
        options,
    })
}

/// The parts of a multipart body: files (the `file` field, or every `file`/`files` field when
/// `many`), and the options from an `options` JSON field or the other fields.
async fn read_multipart<S: Send + Sync, O: DeserializeOwned>(
    req: Request,
    state: &S,
    many: bool,
) -> Result<(Vec<FilePart>, O), ApiError> {
    let limit = req
        .extensions()
        .get::<Limits>()
        .map(|l| l.max_body_bytes)
        .unwrap_or_default();
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(limit)
        } else {
            ApiError::bad_request(format!("Malformed multipart body: {}", e.body_text()))
        }
    };
    let mut multipart = Multipart::from_request(req, state).await.map_err(|e| {
        ApiError::bad_request(format!("Malformed multipart body: {}", e.body_text()))
    })?;

    let mut files = Vec::new();
    let mut options_json = None;
    let mut fields = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = if many {
            name == FILE_FIELD || name == FILES_FIELD
        } else {
            name == FILE_FIELD && files.is_empty()
        };
        if is_file {
            let filename = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            let bytes = field.bytes().await.map_err(multipart_error)?;
            files.push(FilePart {
                bytes,
                filename,
                content_type,
            });
        } else if name == OPTIONS_FIELD {
            options_json = Some(field.bytes().await.map_err(multipart_error)?);
        } else {
            fields.push((name, field.text().await.map_err(multipart_error)?));
        }
    }
    if files.is_empty() {
        return Err(ApiError::invalid_field(
            FILE_FIELD,
            "multipart body has no `file` field",
        ));
    }
    let options = match options_json {
        Some(json) => parse_json(&json).map_err(|e| {
            ApiError::invalid_field(
                OPTIONS_FIELD,
                e.details().first().map_or(e.message(), |d| &d.message),
            )
        })?,
        None => {
            let encoded = serde_urlencoded::to_string(&fields).map_err(ApiError::internal)?;
            parse_query(&encoded)?
        }
    };
    Ok((files, options))
}

async fn from_multipart<S: Send + Sync, O: DeserializeOwned>(
    req: Request,
    state: &S,
) -> Result<BinaryInput<O>, ApiError> {
    let (files, options) = read_multipart(req, state, false).await?;
    let Some(FilePart {
        bytes,
        filename,
        content_type,
    }) = files.into_iter().next()
    else {
        return Err(ApiError::invalid_field(
            FILE_FIELD,
            "multipart body has no `file` field",
        ));
    };
    Ok(BinaryInput {
        bytes,
        filename,
        content_type,
        options,
    })
}

/// One file of a [`BinaryFiles`] request.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// The file's bytes.
    pub bytes: Bytes,
    /// The file name the client gave, if any.
    pub filename: Option<String>,
    /// The file's media type as the client declared it, if any.
    pub content_type: Option<String>,
}

/// Several files in order (merging, images into one document), plus options `O`: multipart with
/// repeated `file` (or `files`) fields, or JSON `{"files": [{"data": base64, "filename"?}, …],
/// …options}`. A raw body carries one file.
#[derive(Debug, Clone)]
pub struct BinaryFiles<O> {
    /// The files, in the order sent.
    pub files: Vec<FilePart>,
    /// The operation's options.
    pub options: O,
}

impl<S: Send + Sync, O: DeserializeOwned + Send> FromRequest<S> for BinaryFiles<O> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mime = media_type(req.headers());
        match mime.as_deref() {
            Some("multipart/form-data") => {
                let (files, options) = read_multipart(req, state, true).await?;
                Ok(BinaryFiles { files, options })
            }
            _ if is_json(req.headers()) => files_from_json(&read_body(req, state).await?),
            _ => {
                let one: BinaryInput<O> = from_raw(req, state, mime).await?;
                Ok(BinaryFiles {
                    files: vec![FilePart {
                        bytes: one.bytes,
                        filename: one.filename,
                        content_type: one.content_type,
                    }],
                    options: one.options,
                })
            }
        }
    }
}

fn files_from_json<O: DeserializeOwned>(body: &[u8]) -> Result<BinaryFiles<O>, ApiError> {
    let value: serde_json::Value = parse_json(body)?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(ApiError::invalid_field(
            "body",
            "expected a JSON object with `files`",
        ));
    };
    let Some(serde_json::Value::Array(items)) = object.remove(FILES_FIELD) else {
        return Err(ApiError::invalid_field(
            FILES_FIELD,
            "missing array `files` of {\"data\": base64, \"filename\"?}",
        ));
    };
    let mut files = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let field = format!("files[{i}].data");
        let (data, filename) = match item {
            serde_json::Value::String(data) => (data, None),
            serde_json::Value::Object(mut file) => {
                let Some(serde_json::Value::String(data)) = file.remove("data") else {
                    return Err(ApiError::invalid_field(field, "must be a base64 string"));
                };
                let filename = file
                    .remove("filename")
                    .and_then(|f| f.as_str().map(str::to_owned));
                (data, filename)
            }
            _ => {
                return Err(ApiError::invalid_field(
                    format!("files[{i}]"),
                    "must be {\"data\": base64} or a base64 string",
                ));
            }
        };
        let bytes = decode_base64(&data)
            .ok_or_else(|| ApiError::invalid_field(field, "is not valid base64"))?;
        files.push(FilePart {
            bytes: Bytes::from(bytes),
            filename,
            content_type: None,
        });
    }
    let options = parse_value(serde_json::Value::Object(object))?;
    Ok(BinaryFiles { files, options })
}

fn from_json<O: DeserializeOwned>(body: &[u8]) -> Result<BinaryInput<O>, ApiError> {
    let value: serde_json::Value = parse_json(body)?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(ApiError::invalid_field(
            "body",
            "expected a JSON object with base64 `data`",
        ));
    };
    let data = match object.remove("data") {
        Some(serde_json::Value::String(data)) => data,
        Some(_) => return Err(ApiError::invalid_field("data", "must be a base64 string")),
        None => {
            return Err(ApiError::invalid_field(
                "data",
                "missing field `data` (the file, base64-encoded)",
            ));
        }
    };
    let bytes = decode_base64(&data)
        .ok_or_else(|| ApiError::invalid_field("data", "is not valid base64"))?;
    let take_string =
        |object: &mut serde_json::Map<String, serde_json::Value>, key: &str| match object
            .remove(key)
        {
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(_) => Err(ApiError::invalid_field(key, "must be a string")),
        };
    let filename = take_string(&mut object, "filename")?;
    let content_type = take_string(&mut object, "contentType")?;
    let options = parse_value(serde_json::Value::Object(object))?;
    Ok(BinaryInput {
        bytes: Bytes::from(bytes),
        filename,
        content_type,
        options,
    })
}

/// Decodes standard or URL-safe base64, padded or not, ignoring line breaks.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
}

fn filename_from_disposition(value: &str) -> Option<String> {
    value.split(';').map(str::trim).find_map(|part| {
        let name = part.strip_prefix("filename=")?;
        Some(name.trim_matches('"').to_owned()).filter(|n| !n.is_empty())
    })
}

/// How the client wants a file answered, from its `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// Raw bytes (the default).
    Raw,
    /// JSON with base64 `data` (`Accept: application/json`).
    Json,
}

impl<S: Send + Sync> FromRequestParts<S> for ResponseFormat {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let wants_json = parts
            .headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|accept| {
                accept.split(',').any(|range| {
                    range
                        .split(';')
                        .next()
                        .is_some_and(|m| m.trim() == "application/json")
                })
            });
        Ok(if wants_json {
            ResponseFormat::Json
        } else {
            ResponseFormat::Raw
        })
    }
}

/// A file to send back.
#[derive(Debug, Clone)]
pub struct BinaryOutput {
    /// The bytes.
    pub bytes: Bytes,
    /// Their media type.
    pub content_type: String,
    /// The name offered in Content-Disposition.
    pub filename: String,
}

/// A file answered as JSON.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BinaryJson {
    /// The file, base64-encoded.
    pub data: String,
    /// Its media type.
    pub content_type: String,
    /// Its suggested file name.
    pub filename: String,
    /// Its size in bytes.
    pub size: usize,
}

impl BinaryOutput {
    /// Answers raw bytes or base64 JSON, as the client asked.
    pub fn into_response_as(self, format: ResponseFormat) -> Response {
        match format {
            ResponseFormat::Json => Json(BinaryJson {
                data: STANDARD.encode(&self.bytes),
                size: self.bytes.len(),
                content_type: self.content_type,
                filename: self.filename,
            })
            .into_response(),
            ResponseFormat::Raw => {
                let disposition =
                    format!("attachment; filename=\"{}\"", safe_filename(&self.filename));
                let content_type = HeaderValue::from_str(&self.content_type)
                    .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
                let disposition = HeaderValue::from_str(&disposition)
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
                (
                    [
                        (CONTENT_TYPE, content_type),
                        (CONTENT_DISPOSITION, disposition),
                    ],
                    self.bytes,
                )
                    .into_response()
            }
        }
    }
}

/// Keeps a file name to characters that need no escaping in a header.
fn safe_filename(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.trim_matches(['.', '_']).is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_in_every_dialect() {
        for text in ["aGk/Pz8+", "aGk_Pz8-", "aGk/Pz8+\n", "YQ", "YQ=="] {
            assert!(decode_base64(text).is_some(), "{text}");
        }
        assert_eq!(decode_base64("aGk/Pz8+").unwrap(), b"hi???>");
        assert!(decode_base64("not base64!").is_none());
    }

    #[test]
    fn filenames_are_made_header_safe() {
        assert_eq!(safe_filename("report 2024.pdf"), "report_2024.pdf");
        assert_eq!(safe_filename("\"; evil"), "___evil");
        assert_eq!(safe_filename(".."), "file");
        assert_eq!(
            filename_from_disposition("attachment; filename=\"a.png\""),
            Some("a.png".into())
        );
    }
}
