//! The kit through a real router: every envelope, the common routes, binary I/O, shutdown.
#![allow(
    clippy::unwrap_used,
    reason = "helpers in test binaries panic to report failure"
)]

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use base64::Engine;
use flowforge_service_kit::test_util::TestApp;
use flowforge_service_kit::{
    ApiError, ApiJson, BinaryInput, BinaryOutput, JsonOrStream, Kit, Limits, ResponseFormat,
    serve_listener,
};
use http::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EchoRequest {
    algorithm: Algorithm,
    #[serde(default)]
    count: u32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Algorithm {
    Sha256,
    Md5,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileOptions {
    #[serde(default)]
    suffix: String,
    #[serde(default)]
    repeat: Option<u32>,
}

#[utoipa::path(post, path = "/api/v1/test/echo", request_body = EchoRequest, responses((status = 200, description = "Echo")))]
async fn echo(ApiJson(request): ApiJson<EchoRequest>) -> axum::Json<serde_json::Value> {
    axum::Json(json!({"algorithm": request.algorithm, "count": request.count}))
}

#[utoipa::path(post, path = "/api/v1/test/file", responses((status = 200, description = "The file back")))]
async fn file(format: ResponseFormat, input: BinaryInput<FileOptions>) -> Response {
    let mut bytes = input
        .bytes
        .to_vec()
        .repeat(input.options.repeat.unwrap_or(1) as usize);
    bytes.extend_from_slice(input.options.suffix.as_bytes());
    let filename = input.filename.unwrap_or_else(|| "out.bin".into());
    BinaryOutput {
        bytes: bytes.into(),
        content_type: "application/octet-stream".into(),
        filename,
    }
    .into_response_as(format)
}

#[utoipa::path(post, path = "/api/v1/test/count", responses((status = 200, description = "Bytes counted")))]
async fn count(
    input: JsonOrStream<ApiJson<serde_json::Value>, FileOptions>,
) -> Result<String, ApiError> {
    match input {
        JsonOrStream::Json(ApiJson(value)) => Ok(format!("json {value}")),
        JsonOrStream::File(file) => Ok(format!("file {}", file.bytes.len())),
        JsonOrStream::Stream(mut body) => {
            let mut chunks = 0;
            while body.next_chunk().await?.is_some() {
                chunks += 1;
            }
            Ok(format!(
                "stream {} bytes in {chunks} chunks, suffix {:?}",
                body.received(),
                body.options.suffix
            ))
        }
    }
}

#[utoipa::path(get, path = "/api/v1/test/items/{id}", params(("id" = u32, Path, description = "Item")), responses((status = 200, description = "Item")))]
async fn item(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
    id.to_string()
}

#[utoipa::path(get, path = "/api/v1/test/panic", responses((status = 500, description = "Always")))]
async fn panics() -> &'static str {
    panic!("boom: secret-internal-detail")
}

#[utoipa::path(get, path = "/api/v1/test/slow", responses((status = 200, description = "Slow")))]
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(400)).await;
    "done"
}

#[utoipa::path(get, path = "/api/v1/test/fail", responses((status = 500, description = "Always")))]
async fn fails() -> Result<&'static str, ApiError> {
    Err(ApiError::internal("database password is hunter2"))
}

fn kit(limits: Limits) -> Kit {
    Kit::new("test-svc", "1.2.3", limits)
}

fn app_with(limits: Limits) -> TestApp {
    let api = OpenApiRouter::new()
        .routes(routes!(echo))
        .routes(routes!(file))
        .routes(routes!(count))
        .routes(routes!(item))
        .routes(routes!(panics))
        .routes(routes!(slow))
        .routes(routes!(fails));
    TestApp::new(kit(limits).app(api))
}

fn app() -> TestApp {
    app_with(Limits {
        max_body_bytes: 1024,
        request_timeout: Duration::from_millis(200),
    })
}

#[tokio::test]
async fn health_reports_service_and_version() {
    let body = app().get("/health").await.ok();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "test-svc");
    assert_eq!(body["version"], "1.2.3");
    assert!(body["uptime"].is_u64());
}

#[tokio::test]
async fn health_is_503_until_latches_drop() {
    let kit = kit(Limits::default());
    let latch = kit.health().latch();
    let app = TestApp::new(kit.app(OpenApiRouter::new()));
    let response = app.get("/health").await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.json()["status"], "starting");
    drop(latch);
    assert_eq!(app.get("/health").await.ok()["status"], "healthy");
}

#[tokio::test]
async fn json_rejections_are_envelopes() {
    let app = app();
    let path = "/api/v1/test/echo";
    let malformed = app
        .post_raw(path, "application/json", "{\"algorithm\":")
        .await;
    malformed.error(400, "VALIDATION_ERROR");
    assert_eq!(malformed.error_field(), "body");

    let missing = app.post_json(path, &json!({})).await;
    missing.error(422, "VALIDATION_ERROR");
    assert_eq!(missing.error_field(), "algorithm");

    let unknown_variant = app.post_json(path, &json!({"algorithm": "sha999"})).await;
    let error = unknown_variant.error(422, "VALIDATION_ERROR");
    assert!(
        error["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("sha256")
    );

    let wrong_type = app
        .post_json(path, &json!({"algorithm": "md5", "count": "three"}))
        .await;
    wrong_type.error(422, "VALIDATION_ERROR");
    assert_eq!(wrong_type.error_field(), "count");

    let unknown_field = app
        .post_json(path, &json!({"algorithm": "md5", "colour": 1}))
        .await;
    unknown_field.error(422, "VALIDATION_ERROR");

    app.post_raw(path, "text/plain", "{}")
        .await
        .error(415, "UNSUPPORTED_MEDIA_TYPE");
    app.post_raw(path, "application/json", "")
        .await
        .error(400, "VALIDATION_ERROR");

    let ok = app
        .post_json(path, &json!({"algorithm": "md5", "count": 2}))
        .await
        .ok();
    assert_eq!(ok, json!({"algorithm": "md5", "count": 2}));
}

#[tokio::test]
async fn routing_failures_are_envelopes() {
    let app = app();
    app.get("/nope").await.error(404, "NOT_FOUND");
    app.get("/api/v1/test/echo")
        .await
        .error(405, "METHOD_NOT_ALLOWED");
    app.get("/api/v1/test/items/not-a-number")
        .await
        .error(400, "VALIDATION_ERROR")
        .to_string();
}

#[tokio::test]
async fn panics_and_internal_errors_leak_nothing() {
    let app = app();
    let panic = app.get("/api/v1/test/panic").await;
    panic.error(500, "INTERNAL_ERROR");
    assert!(!panic.text().contains("secret-internal-detail"));
    let failure = app.get("/api/v1/test/fail").await;
    failure.error(500, "INTERNAL_ERROR");
    assert!(!failure.text().contains("hunter2"));
}

#[tokio::test]
async fn slow_requests_time_out_with_504() {
    app().get("/api/v1/test/slow").await.error(504, "TIMEOUT");
}

#[tokio::test]
async fn oversized_bodies_get_413_declared_or_streamed() {
    let app = app();
    let big = vec![b'a'; 4096];
    app.post_raw("/api/v1/test/file", "application/octet-stream", big.clone())
        .await
        .error(413, "PAYLOAD_TOO_LARGE");
    // A chunked body declares no length: the limit is enforced while reading.
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(big))]);
    let request = Request::post("/api/v1/test/file")
        .header("content-type", "application/octet-stream")
        .body(Body::from_stream(stream))
        .unwrap();
    app.send(request).await.error(413, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn streamed_bodies_arrive_in_chunks_within_the_limit() {
    let app = app();
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
        vec![Ok("abc".into()), Ok("defg".into())];
    let request = Request::post("/api/v1/test/count?suffix=z")
        .header("content-type", "application/octet-stream")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.text(), "stream 7 bytes in 2 chunks, suffix \"z\"");

    let big: Vec<Result<bytes::Bytes, std::io::Error>> = (0..5)
        .map(|_| Ok(bytes::Bytes::from(vec![0u8; 300])))
        .collect();
    let request = Request::post("/api/v1/test/count")
        .header("content-type", "application/octet-stream")
        .body(Body::from_stream(futures_util::stream::iter(big)))
        .unwrap();
    app.send(request).await.error(413, "PAYLOAD_TOO_LARGE");

    assert_eq!(
        app.post_json("/api/v1/test/count", &json!({"a": 1}))
            .await
            .text(),
        "json {\"a\":1}"
    );
    assert_eq!(
        app.post_multipart("/api/v1/test/count", &[("file", Some("f"), b"xyz")])
            .await
            .text(),
        "file 3"
    );
    app.post_raw("/api/v1/test/count?repeat=x", "text/plain", "a")
        .await
        .error(422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = app();
    let request = Request::get("/health")
        .header("x-request-id", "req-from-client.1")
        .body(Body::empty())
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.headers["x-request-id"], "req-from-client.1");

    let request = Request::get("/nope")
        .header("x-request-id", "bad id with spaces")
        .body(Body::empty())
        .unwrap();
    let error = app.send(request).await.error(404, "NOT_FOUND");
    let generated = error["requestId"].as_str().unwrap();
    assert!(
        generated.starts_with("req-") && generated.len() > 10,
        "{generated}"
    );
}

#[tokio::test]
async fn binary_input_in_all_three_forms_and_output_in_both() {
    let app = app();
    // Raw body with options in the query.
    let raw = app
        .post_raw(
            "/api/v1/test/file?suffix=!&repeat=2",
            "application/octet-stream",
            "ab",
        )
        .await;
    assert_eq!(raw.status, StatusCode::OK);
    assert_eq!(raw.body.as_ref(), b"abab!");
    assert_eq!(raw.headers["content-type"], "application/octet-stream");
    assert_eq!(
        raw.headers["content-disposition"],
        "attachment; filename=\"out.bin\""
    );

    // Multipart with options as form fields, and as one JSON field.
    let multipart = app
        .post_multipart(
            "/api/v1/test/file",
            &[
                ("file", Some("in.txt"), b"xy"),
                ("suffix", None, b"?"),
                ("repeat", None, b"3"),
            ],
        )
        .await;
    assert_eq!(multipart.body.as_ref(), b"xyxyxy?");
    assert_eq!(
        multipart.headers["content-disposition"],
        "attachment; filename=\"in.txt\""
    );
    let multipart = app
        .post_multipart(
            "/api/v1/test/file",
            &[
                ("options", None, br##"{"suffix":"#"}"##),
                ("file", Some("f"), b"z"),
            ],
        )
        .await;
    assert_eq!(multipart.body.as_ref(), b"z#");

    // JSON with base64 data, answered as JSON when asked.
    let request = Request::post("/api/v1/test/file")
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Body::from(
            json!({"data": "aGk=", "filename": "hi.txt", "suffix": "."}).to_string(),
        ))
        .unwrap();
    let body = app.send(request).await.ok();
    assert_eq!(
        body["data"],
        base64::engine::general_purpose::STANDARD.encode("hi.")
    );
    assert_eq!(
        (body["filename"].as_str(), body["size"].as_u64()),
        (Some("hi.txt"), Some(3))
    );
}

#[tokio::test]
async fn binary_input_errors_name_the_field() {
    let app = app();
    let bad_base64 = app
        .post_json("/api/v1/test/file", &json!({"data": "***"}))
        .await;
    bad_base64.error(422, "VALIDATION_ERROR");
    assert_eq!(bad_base64.error_field(), "data");
    let no_data = app
        .post_json("/api/v1/test/file", &json!({"suffix": "x"}))
        .await;
    assert_eq!(no_data.error_field(), "data");
    let no_file = app
        .post_multipart("/api/v1/test/file", &[("suffix", None, b"x")])
        .await;
    no_file.error(422, "VALIDATION_ERROR");
    assert_eq!(no_file.error_field(), "file");
    let bad_option = app
        .post_raw(
            "/api/v1/test/file?repeat=many",
            "application/octet-stream",
            "a",
        )
        .await;
    bad_option.error(422, "VALIDATION_ERROR");
    assert_eq!(bad_option.error_field(), "repeat");
}

#[tokio::test]
async fn metrics_are_labelled_by_route_template() {
    let app = app();
    app.get("/api/v1/test/items/41").await;
    app.get("/api/v1/test/items/42").await;
    app.get("/no/such/path").await;
    let text = app.get("/metrics").await.text();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/api/v1/test/items/{id}",status="200",service="test-svc"} 2"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched""#), "{text}");
    assert!(
        !text.contains("/no/such/path"),
        "raw paths must never become labels"
    );
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("http_requests_in_flight"));
}

#[tokio::test]
async fn openapi_document_is_complete() {
    let doc = app().get("/openapi.json").await.ok();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["info"]["title"], "FlowForge test-svc API");
    let echo = &doc["paths"]["/api/v1/test/echo"]["post"];
    assert_eq!(echo["operationId"], "test_svc_echo");
    assert_eq!(
        echo["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorEnvelope"
    );
    assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
    assert!(doc["components"]["schemas"]["EchoRequest"].is_object());
    assert!(doc["paths"]["/health"]["get"].is_object());
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let api = OpenApiRouter::new().routes(routes!(slow));
    let app = kit(Limits::default()).app(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_listener(app, listener, async move {
        let _ = stopped.await;
    }));

    let in_flight = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /api/v1/test/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let response = in_flight.await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("done"), "{response}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops promptly")
        .unwrap()
        .unwrap();
}
