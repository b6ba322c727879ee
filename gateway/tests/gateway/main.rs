//! The real gateway (Pingora, on a thread) in front of real axum upstreams on ephemeral ports.
#![allow(
    clippy::unwrap_used,
    reason = "helpers in test binaries panic to report failure"
)]

mod admin;
mod identity;
mod lifecycle;
mod stores;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::get;
use flowforge_gateway::{ChannelShutdown, GatewayConfig, GatewayServer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Uploads the test upstreams read to the end, by the `x-upload` header that names them: a
/// request the gateway cut short must never show up here as a complete, shorter body.
static COMPLETE_UPLOADS: std::sync::Mutex<Vec<(String, usize)>> = std::sync::Mutex::new(Vec::new());

fn complete_uploads(name: &str) -> Vec<usize> {
    COMPLETE_UPLOADS
        .lock()
        .unwrap()
        .iter()
        .filter(|(upload, _)| upload == name)
        .map(|(_, len)| *len)
        .collect()
}

/// A running gateway; stopped when dropped.
struct Gateway {
    addr: SocketAddr,
    admin: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a gateway whose `services:` section is `services` (YAML) and waits until it answers.
async fn start_gateway(services: &str) -> Gateway {
    start(&Setup {
        services,
        ..Setup::default()
    })
    .await
}

/// What a test gateway is started with.
#[derive(Default)]
struct Setup<'a> {
    /// The `services:` section, YAML indented by two spaces.
    services: &'a str,
    /// An admin token: the admin API listens on a free port.
    admin_token: Option<&'a str>,
    /// Write the config to this file and hand its path to the gateway (for reloads).
    file: Option<&'a std::path::Path>,
    /// Seconds between active health checks (default 1).
    health_check_seconds: Option<u64>,
    /// Top-level YAML for identity and limits (`consumers:`, `redis:`…). Without it, API calls
    /// need no credentials (an unlimited anonymous tier), as these routing tests assume.
    access: Option<&'a str>,
    /// The configured Redis is meant to be unreachable: do not wait for it.
    redis_down: bool,
    /// `gateway.anonymousTier` (`enterprise` when `access` is absent).
    anonymous_tier: Option<&'a str>,
}

/// The YAML for `setup`, listening on `port` (and `admin_port`).
fn config_yaml(setup: &Setup<'_>, port: u16, admin_port: u16) -> String {
    let admin = setup.admin_token.map_or(String::new(), |t| {
        format!(", admin: \"127.0.0.1:{admin_port}\", adminToken: \"{t}\"")
    });
    let checks = setup
        .health_check_seconds
        .map_or(String::new(), |s| format!(", healthCheckSeconds: {s}"));
    let access = setup.access.unwrap_or_default();
    let anonymous = match (setup.anonymous_tier, setup.access) {
        (Some(tier), _) => format!(", anonymousTier: {tier}"),
        (None, None) => ", anonymousTier: enterprise".to_owned(),
        (None, Some(_)) => String::new(),
    };
    format!(
        "gateway: {{ listen: \"127.0.0.1:{port}\"{admin}{checks}{anonymous}, cors: {{ allowOrigins: [\"https://app.example.com\"] }} }}\nservices:\n{}\n{access}",
        setup.services
    )
}

async fn start(setup: &Setup<'_>) -> Gateway {
    let (port, admin_port) = (free_port(), free_port());
    let yaml = config_yaml(setup, port, admin_port);
    if let Some(file) = setup.file {
        std::fs::write(file, &yaml).unwrap();
    }
    let config = GatewayConfig::from_yaml(&yaml).unwrap();
    let server =
        GatewayServer::build(config, setup.file.map(std::path::Path::to_path_buf)).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let thread = std::thread::spawn(move || {
        server.run_until(ChannelShutdown(tokio::sync::Mutex::new(stopped)))
    });
    let gateway = Gateway {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        admin: SocketAddr::from(([127, 0, 0, 1], admin_port)),
        stop: Some(stop),
        thread: Some(thread),
    };
    wait_for(|| async {
        send(gateway.addr, "GET", "/health", &[], "")
            .await
            .is_some()
    })
    .await;
    if !setup.redis_down && setup.access.is_some_and(|a| a.contains("redis:")) {
        // Limits are exact only once the shared store answers.
        wait_for(|| async {
            send(gateway.addr, "GET", "/health", &[], "")
                .await
                .is_some_and(|r| r.json()["checks"]["rateLimits"] == "healthy")
        })
        .await;
    }
    if setup.admin_token.is_some() {
        wait_for(|| async {
            send(gateway.admin, "GET", "/status", &[], "")
                .await
                .is_some()
        })
        .await;
    }
    gateway
}

async fn wait_for<F, Fut>(mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(Instant::now() < deadline, "condition not met within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The real crypto service on an ephemeral port.
async fn crypto_service() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let kit = flowforge_service_kit::Kit::new(
        "crypto",
        "0.1.0",
        flowforge_service_kit::Limits::default(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, flowforge_crypto::app(&kit))
            .await
            .unwrap()
    });
    (addr, task)
}

/// An upstream instance named `name`: `/health`, an echo of what it received, and a slow route.
async fn upstream(
    name: &'static str,
    port: Option<u16>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", port.unwrap_or(0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = move |request: Request| async move {
        let headers: HashMap<String, String> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        axum::Json(json!({"instance": name, "path": request.uri().to_string(), "headers": headers}))
    };
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/api/v1/crypto/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route(
            "/api/v1/crypto/headers",
            get(|request: Request| async move {
                // Every header as received, in order and repeated ones repeated; and a response
                // with more headers than pingora's maps are first sized for.
                let seen: Vec<(String, String)> = request
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                    .collect();
                let mut response = axum::Json(json!(seen)).into_response();
                let headers = response.headers_mut();
                for n in 0..12 {
                    headers.insert(
                        http::HeaderName::try_from(format!("x-upstream-{n}")).unwrap(),
                        http::HeaderValue::from(n),
                    );
                }
                headers.append("set-cookie", http::HeaderValue::from_static("a=1"));
                headers.append("set-cookie", http::HeaderValue::from_static("b=2"));
                response
            }),
        )
        .route(
            "/api/v1/crypto/upload",
            axum::routing::post(|request: Request| async move {
                let name = request
                    .headers()
                    .get("x-upload")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                match axum::body::to_bytes(request.into_body(), usize::MAX).await {
                    Ok(body) => {
                        COMPLETE_UPLOADS.lock().unwrap().push((name, body.len()));
                        "stored"
                    }
                    Err(_) => "incomplete",
                }
            }),
        )
        .route(
            "/api/v1/llm/socket",
            get(|upgrade: axum::extract::ws::WebSocketUpgrade| async move {
                upgrade.on_upgrade(|mut socket| async move {
                    while let Some(Ok(axum::extract::ws::Message::Text(text))) = socket.recv().await
                    {
                        let reply = format!("echo: {}", text.as_str());
                        if socket
                            .send(axum::extract::ws::Message::Text(reply.into()))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                })
            }),
        )
        .route(
            "/api/v1/llm/stream",
            get(|| async {
                let events = futures_util::stream::unfold(0u32, |n| async move {
                    if n == 3 {
                        return None;
                    }
                    if n > 0 {
                        tokio::time::sleep(Duration::from_millis(400)).await;
                    }
                    Some((
                        Ok::<_, std::convert::Infallible>(
                            axum::response::sse::Event::default().data(format!("token-{n}")),
                        ),
                        n + 1,
                    ))
                });
                axum::response::sse::Sse::new(events)
            }),
        )
        .fallback(echo);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, task)
}

struct Reply {
    status: u16,
    /// The last value of each header, by lowercase name.
    headers: HashMap<String, String>,
    /// Every header line, in order.
    head: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request on a fresh connection; `None` if the gateway is not listening yet.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<Reply> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let head: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let headers: HashMap<String, String> = head.iter().cloned().collect();
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Some(Reply {
        status,
        headers,
        head,
        body,
    })
}

fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        text = &rest[size + 2..];
    }
    out
}

async fn get_ok(gateway: &Gateway, path: &str) -> Reply {
    send(gateway.addr, "GET", path, &[], "").await.unwrap()
}

fn assert_envelope(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    let request_id = body["error"]["requestId"].as_str().unwrap();
    assert_eq!(
        reply.headers.get("x-request-id").map(String::as_str),
        Some(request_id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_with_request_id_and_forwarded_headers() {
    let (instance, _task) = upstream("a", None).await;
    let gateway = start_gateway(&format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n")).await;
    let reply = send(
        gateway.addr,
        "GET",
        "/api/v1/crypto/echo?x=1",
        &[
            ("x-request-id", "req-client-7"),
            ("x-consumer-id", "forged"),
        ],
        "",
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.headers["x-request-id"], "req-client-7");
    let seen = reply.json();
    assert_eq!(
        seen["path"], "/api/v1/crypto/echo?x=1",
        "path and query are forwarded unchanged"
    );
    assert_eq!(seen["headers"]["x-request-id"], "req-client-7");
    assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
    assert_eq!(
        seen["headers"]["x-consumer-id"], "anonymous",
        "client-sent identity headers are replaced by the gateway's"
    );
    assert_eq!(seen["headers"]["x-consumer-tier"], "enterprise");

    // A proxy in front of the gateway already named the client: the gateway adds its own peer.
    let relayed = send(
        gateway.addr,
        "GET",
        "/api/v1/crypto/echo",
        &[("x-forwarded-for", "203.0.113.7")],
        "",
    )
    .await
    .unwrap();
    assert_eq!(
        relayed.json()["headers"]["x-forwarded-for"],
        "203.0.113.7, 127.0.0.1"
    );

    // An absolute-form target (as sent to a forward proxy) keeps its path and query too.
    let absolute = get_ok(&gateway, "http://gateway/api/v1/crypto/echo?x=2").await;
    assert_eq!(absolute.status, 200, "{}", absolute.body);
    let path = absolute.json()["path"].as_str().unwrap().to_owned();
    assert!(path.ends_with("/api/v1/crypto/echo?x=2"), "{path}");
    assert_eq!(absolute.json()["headers"]["x-forwarded-proto"], "http");

    let generated = get_ok(&gateway, "/api/v1/crypto/echo").await;
    let id = &generated.headers["x-request-id"];
    assert!(id.starts_with("req-"), "{id}");
    assert_eq!(
        generated.json()["headers"]["x-request-id"].as_str(),
        Some(id.as_str())
    );
}

/// The gateway rebuilds pingora's header maps without the names' spellings (`proxy.rs`): nothing
/// may be lost on the way, repeated headers included, however many the gateway adds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_header_passes_both_ways_repeated_ones_too() {
    let (instance, _task) = upstream("a", None).await;
    // A limited tier and an allowed origin: the gateway adds rate-limit and CORS headers too.
    let services = format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n");
    let gateway = start(&Setup {
        services: &services,
        anonymous_tier: Some("free"),
        ..Setup::default()
    })
    .await;
    let mut sent = vec![
        ("X-Repeat", "one"),
        ("X-Repeat", "two"),
        ("Origin", "https://app.example.com"),
    ];
    let numbered: Vec<(String, String)> = (0..12)
        .map(|n| (format!("X-Client-{n}"), n.to_string()))
        .collect();
    sent.extend(numbered.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let reply = send(gateway.addr, "GET", "/api/v1/crypto/headers", &sent, "")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);

    let seen: Vec<(String, String)> = serde_json::from_value(reply.json()).unwrap();
    let values_of = |name: &str| -> Vec<&str> {
        seen.iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(values_of("x-repeat"), ["one", "two"], "{seen:?}");
    for n in 0..12 {
        assert_eq!(
            values_of(&format!("x-client-{n}")),
            [n.to_string()],
            "{seen:?}"
        );
    }
    assert_eq!(values_of("x-forwarded-proto"), ["http"]);
    assert_eq!(values_of("x-request-id").len(), 1);

    let cookies: Vec<&str> = reply
        .head
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    for n in 0..12 {
        assert_eq!(reply.headers[&format!("x-upstream-{n}")], n.to_string());
    }
    assert!(reply.headers["x-request-id"].starts_with("req-"));
    assert_eq!(reply.headers["x-ratelimit-remaining-minute"], "99");
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_get_the_envelope() {
    let gateway = start_gateway("").await;
    assert_envelope(&get_ok(&gateway, "/nope").await, 404, "NOT_FOUND");
    assert_envelope(
        &get_ok(&gateway, "/api/v1/teleport/now").await,
        404,
        "NOT_FOUND",
    );
    assert_envelope(&get_ok(&gateway, "/api/v1/").await, 404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balances_and_survives_a_dead_instance() {
    let (a, _task_a) = upstream("a", None).await;
    let (b, task_b) = upstream("b", None).await;
    let gateway = start_gateway(&format!("  crypto: {{ upstreams: [\"{a}\", \"{b}\"] }}\n")).await;

    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..20 {
        let reply = get_ok(&gateway, "/api/v1/crypto/echo").await;
        *counts
            .entry(reply.json()["instance"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(
        (counts["a"], counts["b"]),
        (10, 10),
        "round robin over two instances"
    );

    // Kill b: GETs keep succeeding (a connect failure is retried on a), before and after the health check notices.
    task_b.abort();
    let _ = task_b.await;
    for _ in 0..20 {
        let reply = get_ok(&gateway, "/api/v1/crypto/echo").await;
        assert_eq!(
            (reply.status, reply.json()["instance"].as_str()),
            (200, Some("a")),
            "{}",
            reply.body
        );
    }
    wait_for(|| async {
        get_ok(&gateway, "/health").await.json()["pools"]["crypto"]["healthy"] == 1
    })
    .await;

    // Bring b back on its port: the health check returns it to the rotation.
    let (_, _task_b2) = upstream("b", Some(b.port())).await;
    wait_for(|| async {
        get_ok(&gateway, "/health").await.json()["pools"]["crypto"]["healthy"] == 2
    })
    .await;
    let mut seen_b = false;
    for _ in 0..4 {
        seen_b |= get_ok(&gateway, "/api/v1/crypto/echo").await.json()["instance"] == "b";
    }
    assert!(seen_b, "the recovered instance receives traffic again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_pool_answers_503_at_once() {
    let dead = free_port();
    let gateway = start_gateway(&format!(
        "  crypto: {{ upstreams: [\"127.0.0.1:{dead}\"] }}\n"
    ))
    .await;
    // Before the first check marks it down, a refused connection is a 502 envelope.
    let early = get_ok(&gateway, "/api/v1/crypto/echo").await;
    assert!(matches!(early.status, 502 | 503), "{}", early.body);
    wait_for(|| async {
        get_ok(&gateway, "/health").await.json()["pools"]["crypto"]["healthy"] == 0
    })
    .await;
    let started = Instant::now();
    let reply = get_ok(&gateway, "/api/v1/crypto/echo").await;
    assert_envelope(&reply, 503, "UPSTREAM_UNAVAILABLE");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "no waiting for timeouts: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstreams_time_out_with_504() {
    let (instance, _task) = upstream("a", None).await;
    let gateway = start_gateway(&format!(
        "  crypto: {{ upstreams: [\"{instance}\"], timeoutSeconds: 1 }}\n"
    ))
    .await;
    assert_envelope(
        &get_ok(&gateway, "/api/v1/crypto/slow").await,
        504,
        "TIMEOUT",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_and_exposed_headers() {
    let (instance, _task) = upstream("a", None).await;
    let gateway = start_gateway(&format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n")).await;
    let preflight = send(
        gateway.addr,
        "OPTIONS",
        "/api/v1/crypto/hash",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type, x-api-key"),
        ],
        "",
    )
    .await
    .unwrap();
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        preflight.headers["access-control-allow-headers"],
        "content-type, x-api-key"
    );

    let reply = send(
        gateway.addr,
        "GET",
        "/api/v1/crypto/echo",
        &[("origin", "https://app.example.com")],
        "",
    )
    .await
    .unwrap();
    assert!(reply.headers["access-control-expose-headers"].contains("X-Request-Id"));
    let other = send(
        gateway.addr,
        "GET",
        "/api/v1/crypto/echo",
        &[("origin", "https://evil.example.com")],
        "",
    )
    .await
    .unwrap();
    assert!(!other.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fronts_the_real_crypto_service() {
    let (addr, _service) = crypto_service().await;
    let gateway = start_gateway(&format!("  crypto: {{ upstreams: [\"{addr}\"] }}\n")).await;

    let body = json!({"algorithm": "sha256", "input": "abc"}).to_string();
    let reply = send(
        gateway.addr,
        "POST",
        "/api/v1/crypto/hash",
        &[("content-type", "application/json")],
        &body,
    )
    .await
    .unwrap();
    assert_eq!(
        reply.json()["digest"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let invalid = send(
        gateway.addr,
        "POST",
        "/api/v1/crypto/hash",
        &[
            ("content-type", "application/json"),
            ("x-request-id", "req-abc"),
        ],
        "{\"algorithm\":\"sha999\",\"input\":\"x\"}",
    )
    .await
    .unwrap();
    assert_envelope(&invalid, 422, "VALIDATION_ERROR");
    assert_eq!(
        invalid.json()["error"]["requestId"],
        "req-abc",
        "the service sees the gateway's request id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_pass_through_as_they_come() {
    let (instance, _task) = upstream("a", None).await;
    let gateway = start_gateway(&format!("  llm: {{ upstreams: [\"{instance}\"] }}\n")).await;
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/llm/stream HTTP/1.1\r\nHost: g\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let mut first_event_at = None;
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buffer[..n]);
        if first_event_at.is_none() && String::from_utf8_lossy(&received).contains("data: token-0")
        {
            first_event_at = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    let text = String::from_utf8_lossy(&received);
    assert!(text.contains("text/event-stream"), "{text}");
    assert!(text.contains("data: token-2"), "{text}");
    let first = first_event_at.expect("first event");
    assert!(
        first + Duration::from_millis(500) < total,
        "first event at {first:?}, stream ended at {total:?}: buffered, not streamed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limits_apply_to_declared_and_chunked_bodies() {
    let (instance, _task) = upstream("a", None).await;
    let gateway = start_gateway(&format!(
        "  crypto: {{ upstreams: [\"{instance}\"], maxBodyBytes: 100 }}\n"
    ))
    .await;
    let declared = send(
        gateway.addr,
        "POST",
        "/api/v1/crypto/echo",
        &[],
        &"x".repeat(300),
    )
    .await
    .unwrap();
    assert_envelope(&declared, 413, "PAYLOAD_TOO_LARGE");
    let small = send(
        gateway.addr,
        "POST",
        "/api/v1/crypto/echo",
        &[],
        &"x".repeat(50),
    )
    .await
    .unwrap();
    assert_eq!(small.status, 200);

    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let chunk = "y".repeat(150);
    let request = format!(
        "POST /api/v1/crypto/echo HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len(),
        chunk.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("PAYLOAD_TOO_LARGE"), "{text}");

    // Over the limit in its second chunk, after the first went upstream: the upstream must see
    // the request broken off, never a complete body of 60 bytes. Within the limit, it arrives.
    for (name, chunks) in [("cut-short", [60, 60]), ("within", [40, 40])] {
        let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
        let head = format!(
            "POST /api/v1/crypto/upload HTTP/1.1\r\nHost: g\r\nx-upload: {name}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        for len in chunks {
            let chunk = format!("{len:x}\r\n{}\r\n", "z".repeat(len));
            stream.write_all(chunk.as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        let text = String::from_utf8_lossy(&raw);
        if name == "within" {
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        } else {
            assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(complete_uploads("within"), [80]);
    assert_eq!(complete_uploads("cut-short"), Vec::<usize>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_openapi_covers_the_services_and_parses_as_3_1() {
    let (addr, _service) = crypto_service().await;
    let gateway = start_gateway(&format!("  crypto: {{ upstreams: [\"{addr}\"] }}\n")).await;

    wait_for(|| async {
        get_ok(&gateway, "/openapi.json")
            .await
            .body
            .contains("/api/v1/crypto/hash")
    })
    .await;
    let text = get_ok(&gateway, "/openapi.json").await.body;
    let spec = oas3::from_json(&text).expect("the merged document parses as OpenAPI 3.1");
    assert_eq!(spec.openapi, "3.1.0");
    let document: Value = serde_json::from_str(&text).unwrap();
    let service_doc: Value = {
        let reply = send(addr, "GET", "/openapi.json", &[], "").await.unwrap();
        reply.json()
    };
    for path in service_doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.starts_with("/api/v1/"))
    {
        assert!(
            document["paths"].get(path).is_some(),
            "{path} missing from the merged document"
        );
    }
    let mut ids = std::collections::HashSet::new();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            assert!(
                ids.insert(operation["operationId"].as_str().unwrap().to_owned()),
                "duplicate operationId"
            );
        }
    }
    assert_eq!(
        document["components"]["securitySchemes"]["ApiKeyAuth"],
        json!({"type": "apiKey", "in": "header", "name": "X-API-Key"})
    );
    assert_eq!(
        document["components"]["securitySchemes"]["BearerAuth"]["scheme"],
        "bearer"
    );
    assert_eq!(document["servers"][0]["url"], "/");

    let docs = get_ok(&gateway, "/docs").await;
    assert_eq!(docs.status, 200);
    assert!(docs.headers["content-type"].starts_with("text/html"));
    assert!(docs.body.contains("/openapi.json"));
    assert!(
        !docs.body.contains("https://") && !docs.body.contains("http://"),
        "the page loads nothing from elsewhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_pass_through() {
    let (instance, _task) = upstream("a", None).await;
    let gateway = start_gateway(&format!("  llm: {{ upstreams: [\"{instance}\"] }}\n")).await;
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let handshake = "GET /api/v1/llm/socket HTTP/1.1\r\nHost: g\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    stream.write_all(handshake.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    // RFC 6455 section 1.3's example key and accept value.
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );

    // One masked text frame ("hello"), as a client must send it.
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | 5];
    frame.extend_from_slice(&mask);
    frame.extend(b"hello".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).await.unwrap();
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await.unwrap();
    assert_eq!(header[0], 0x81, "a final text frame");
    let mut payload = vec![0u8; usize::from(header[1] & 0x7f)];
    stream.read_exact(&mut payload).await.unwrap();
    assert_eq!(payload, b"echo: hello");
}
