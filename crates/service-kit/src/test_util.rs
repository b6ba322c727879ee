//! Driving a service router in-process and asserting envelopes (feature `test-util`).

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A router under test, called without a socket.
#[derive(Debug, Clone)]
pub struct TestApp {
    router: Router,
}

/// A response with its body read.
#[derive(Debug)]
pub struct TestResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl TestApp {
    /// Wraps a complete app (as returned by [`crate::Kit::app`]).
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// Sends any request.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        };
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// The published OpenAPI document is a contract: this compares it with the snapshot at
    /// `snapshot` (the crate's `tests/api/openapi.snapshot.json`), so a change shows up in
    /// review. With `UPDATE_SNAPSHOTS=1` it rewrites the snapshot instead.
    pub async fn assert_openapi_snapshot(&self, snapshot: &std::path::Path) {
        let doc = self.get("/openapi.json").await.ok();
        let rendered = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            if let Err(e) = std::fs::write(snapshot, &rendered) {
                panic!("cannot write {}: {e}", snapshot.display());
            }
            return;
        }
        let saved = std::fs::read_to_string(snapshot).unwrap_or_default();
        assert!(
            saved == rendered,
            "the OpenAPI document differs from {}; review the change and run the crate's tests with \
             UPDATE_SNAPSHOTS=1 to accept it",
            snapshot.display()
        );
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(request(Method::GET, path, None, Body::empty()))
            .await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        self.post_raw(path, "application/json", body.to_string())
            .await
    }

    /// `POST path` with any body and content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> TestResponse {
        self.send(request(Method::POST, path, Some(content_type), body.into()))
            .await
    }

    /// `POST path` with a multipart body of `(name, filename, bytes)` parts.
    pub async fn post_multipart(
        &self,
        path: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> TestResponse {
        let (content_type, body) = multipart_body(parts);
        self.post_raw(path, &content_type, body).await
    }
}

fn request(method: Method, path: &str, content_type: Option<&str>, body: Body) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(content_type) = content_type {
        builder = builder.header(CONTENT_TYPE, content_type);
    }
    builder.body(body).unwrap_or_default()
}

/// Builds a multipart/form-data body; returns its Content-Type and bytes.
pub fn multipart_body(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "flowforge-test-boundary-7d1c";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match filename {
            Some(filename) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

impl TestResponse {
    /// The body as JSON; panics with the body text when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a 200 and returns the JSON body.
    #[track_caller]
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.text());
        self.json()
    }

    /// Asserts an error envelope with `status` and `code`, a request id in body and header, and
    /// returns the envelope's `error` object.
    #[track_caller]
    pub fn error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        let body = self.json();
        let error = &body["error"];
        assert_eq!(error["code"], code, "body: {body}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "body: {body}"
        );
        let request_id = error["requestId"]
            .as_str()
            .unwrap_or_else(|| panic!("no requestId in {body}"));
        assert_eq!(
            self.headers
                .get(crate::REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok()),
            Some(request_id),
            "X-Request-Id header and body differ"
        );
        error.clone()
    }

    /// The `field` of the first detail of an error envelope.
    pub fn error_field(&self) -> String {
        self.json()["error"]["details"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}
