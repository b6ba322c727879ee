//! The published contract: the OpenAPI document (snapshotted) and a real socket.

use std::path::Path;

use flowforge_service_kit::{Kit, Limits, serve_listener};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::app;

const SNAPSHOT: &str = "tests/api/openapi.snapshot.json";

/// Every operation users call, as (method, path).
const OPERATIONS: [&str; 15] = [
    "hash",
    "hmac",
    "hmac/verify",
    "webhook/verify",
    "encrypt",
    "decrypt",
    "keys/generate",
    "sign",
    "verify",
    "jwt/sign",
    "jwt/verify",
    "password/hash",
    "password/verify",
    "random",
    "encode",
];

#[tokio::test]
async fn openapi_documents_every_operation_with_envelopes() {
    let doc = app().get("/openapi.json").await.ok();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = std::collections::HashSet::new();
    for operation in OPERATIONS {
        let path = format!("/api/v1/crypto/{operation}");
        let post = &doc["paths"][&path]["post"];
        assert!(post.is_object(), "{path} is not documented");
        let id = post["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{path} has no operationId"));
        assert!(
            id.starts_with("crypto_") && ids.insert(id.to_owned()),
            "{id}"
        );
        assert!(
            post["requestBody"]["content"]["application/json"]["schema"].is_object(),
            "{path}"
        );
        assert_eq!(
            post["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorEnvelope"
        );
        assert!(post["responses"]["200"].is_object(), "{path}");
    }
}

#[tokio::test]
async fn openapi_matches_the_snapshot() {
    app()
        .assert_openapi_snapshot(&Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT))
        .await;
}

#[tokio::test]
async fn serves_over_a_real_socket() {
    let app = flowforge_crypto::app(&Kit::new("crypto", "0.1.0", Limits::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_listener(app, listener, async move {
        let _ = stopped.await;
    }));

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let request = http::Request::post(format!("http://{addr}/api/v1/crypto/hash"))
        .header("content-type", "application/json")
        .header("x-request-id", "req-smoke")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            json!({"input": "abc"}).to_string(),
        )))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-smoke");
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        body["digest"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );

    stop.send(()).unwrap();
    drop(client);
    tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
