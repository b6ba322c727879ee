//! The admin API, reload and blue-green switching, under load.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::{Setup, assert_envelope, get_ok, send, start, upstream, wait_for};

const TOKEN: &str = "s3cret-admin";
const AUTH: (&str, &str) = ("authorization", "Bearer s3cret-admin");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_needs_its_token_and_reports_status_and_metrics() {
    let (instance, _task) = upstream("a", None).await;
    let services = format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n");
    let gateway = start(&Setup {
        services: &services,
        admin_token: Some(TOKEN),
        ..Setup::default()
    })
    .await;

    let refused = send(gateway.admin, "GET", "/status", &[], "")
        .await
        .unwrap();
    assert_envelope(&refused, 401, "UNAUTHORIZED");
    assert_eq!(refused.headers["www-authenticate"], "Bearer");
    let wrong = send(
        gateway.admin,
        "GET",
        "/status",
        &[("authorization", "Bearer nope")],
        "",
    )
    .await
    .unwrap();
    assert_eq!(wrong.status, 401);

    let status = send(gateway.admin, "GET", "/status", &[AUTH], "")
        .await
        .unwrap()
        .json();
    assert_eq!(
        status["services"]["crypto"]["instances"][0]["address"],
        instance.to_string()
    );
    assert_eq!(
        status["services"]["crypto"]["instances"][0]["healthy"],
        true
    );
    assert_eq!(
        status["services"]["data-transform"]["path"],
        "/api/v1/data/"
    );

    get_ok(&gateway, "/api/v1/crypto/echo").await;
    get_ok(&gateway, "/api/v1/nope").await;
    let metrics = send(gateway.admin, "GET", "/metrics", &[AUTH], "")
        .await
        .unwrap()
        .body;
    assert!(
        metrics.contains(r#"gateway_requests_total{service="crypto",status="200"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"gateway_requests_total{service="-",status="404"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("gateway_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gateway_upstream_duration_seconds_bucket"),
        "{metrics}"
    );
    wait_for(|| async {
        let metrics = send(gateway.admin, "GET", "/metrics", &[AUTH], "")
            .await
            .unwrap()
            .body;
        metrics.contains(&format!(
            "gateway_upstream_healthy{{instance=\"{instance}\",service=\"crypto\"}} 1"
        ))
    })
    .await;
}

/// Sends GETs from `clients` tasks until `stop`, tallying instance names; any non-200 is a failure.
async fn load(
    gateway_addr: std::net::SocketAddr,
    path: &'static str,
    clients: usize,
    stop: Arc<AtomicBool>,
) -> (HashMap<String, usize>, Vec<String>, Vec<String>) {
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match send(gateway_addr, "GET", path, &[], "").await {
                        Some(reply) if reply.status == 200 => seen.push(
                            reply.json()["instance"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                        Some(reply) => failures.push(format!("{} {}", reply.status, reply.body)),
                        None => failures.push("connection failed".into()),
                    }
                }
                (seen, failures)
            })
        })
        .collect();
    let mut counts = HashMap::new();
    let mut order = Vec::new();
    let mut failures = Vec::new();
    for task in tasks {
        let (seen, failed) = task.await.unwrap();
        for name in &seen {
            *counts.entry(name.clone()).or_insert(0) += 1;
        }
        order.extend(seen);
        failures.extend(failed);
    }
    (counts, order, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_switch_under_load_drops_nothing() {
    let (blue, _blue_task) = upstream("blue", None).await;
    let (green, _green_task) = upstream("green", None).await;
    let services = format!(
        "  image:\n    groups: {{ blue: {{ upstreams: [\"{blue}\"], weight: 100 }}, green: {{ upstreams: [\"{green}\"], weight: 0 }} }}\n"
    );
    let gateway = start(&Setup {
        services: &services,
        admin_token: Some(TOKEN),
        ..Setup::default()
    })
    .await;
    assert_eq!(
        get_ok(&gateway, "/api/v1/image/echo").await.json()["instance"],
        "blue"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn(load(gateway.addr, "/api/v1/image/echo", 3, stop.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let switched = send(
        gateway.admin,
        "PUT",
        "/services/image/weights",
        &[AUTH, ("content-type", "application/json")],
        &json!({"blue": 0, "green": 100}).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(switched.status, 200, "{}", switched.body);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (counts, _, failures) = traffic.await.unwrap();

    assert!(
        failures.is_empty(),
        "failed requests during the switch: {failures:?}"
    );
    assert!(
        counts.get("blue").copied().unwrap_or(0) > 0
            && counts.get("green").copied().unwrap_or(0) > 0,
        "{counts:?}"
    );
    for _ in 0..5 {
        assert_eq!(
            get_ok(&gateway, "/api/v1/image/echo").await.json()["instance"],
            "green"
        );
    }
    let status = send(gateway.admin, "GET", "/status", &[AUTH], "")
        .await
        .unwrap()
        .json();
    assert_eq!(
        status["services"]["image"]["groups"][1],
        json!({"name": "green", "weight": 100, "upstreams": [green.to_string()]})
    );

    let bad = send(
        gateway.admin,
        "PUT",
        "/services/image/weights",
        &[AUTH, ("content-type", "application/json")],
        &json!({"purple": 5}).to_string(),
    )
    .await
    .unwrap();
    assert_envelope(&bad, 422, "VALIDATION_ERROR");
    let none = send(
        gateway.admin,
        "PUT",
        "/services/image/weights",
        &[AUTH, ("content-type", "application/json")],
        &json!({"green": 0}).to_string(),
    )
    .await
    .unwrap();
    assert_envelope(&none, 422, "VALIDATION_ERROR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_swaps_upstreams_and_refuses_a_bad_file() {
    let (a, _a_task) = upstream("a", None).await;
    let (b, _b_task) = upstream("b", None).await;
    let dir = std::env::temp_dir().join(format!("flowforge-gateway-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.yaml");
    let services = format!("  crypto: {{ upstreams: [\"{a}\"] }}\n");
    let gateway = start(&Setup {
        services: &services,
        admin_token: Some(TOKEN),
        file: Some(&file),
        ..Setup::default()
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn(load(gateway.addr, "/api/v1/crypto/echo", 3, stop.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace(&a.to_string(), &b.to_string());
    std::fs::write(&file, text).unwrap();
    let reloaded = send(gateway.admin, "POST", "/reload", &[AUTH], "")
        .await
        .unwrap();
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (counts, _, failures) = traffic.await.unwrap();
    assert!(
        failures.is_empty(),
        "failed requests during the reload: {failures:?}"
    );
    assert!(
        counts.contains_key("a") && counts.contains_key("b"),
        "{counts:?}"
    );
    assert_eq!(
        get_ok(&gateway, "/api/v1/crypto/echo").await.json()["instance"],
        "b"
    );

    // The health gauge follows the reload: b's series appears, a's is dropped.
    wait_for(|| async {
        let metrics = send(gateway.admin, "GET", "/metrics", &[AUTH], "")
            .await
            .unwrap()
            .body;
        metrics.contains(&format!("instance=\"{b}\""))
            && !metrics.contains(&format!("instance=\"{a}\""))
    })
    .await;

    let valid = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, valid.replace("services:", "servces:")).unwrap();
    let refused = send(gateway.admin, "POST", "/reload", &[AUTH], "")
        .await
        .unwrap();
    assert_envelope(&refused, 422, "VALIDATION_ERROR");
    assert_eq!(refused.json()["error"]["details"][0]["field"], "servces");
    assert_eq!(
        get_ok(&gateway, "/api/v1/crypto/echo").await.json()["instance"],
        "b",
        "the running config stays"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_connect_ejects_the_instance_at_once() {
    let (a, _a_task) = upstream("a", None).await;
    let (b, b_task) = upstream("b", None).await;
    let services = format!("  crypto: {{ upstreams: [\"{a}\", \"{b}\"] }}\n");
    let gateway = start(&Setup {
        services: &services,
        admin_token: Some(TOKEN),
        ..Setup::default()
    })
    .await;
    b_task.abort();
    let _ = b_task.await;
    // Two requests: round robin sends one of them to b, whose connect fails and is retried on a.
    for _ in 0..2 {
        let reply = get_ok(&gateway, "/api/v1/crypto/echo").await;
        assert_eq!(
            (reply.status, reply.json()["instance"].as_str()),
            (200, Some("a"))
        );
    }
    let status = send(gateway.admin, "GET", "/status", &[AUTH], "")
        .await
        .unwrap()
        .json();
    let instances = status["services"]["crypto"]["instances"]
        .as_array()
        .unwrap()
        .clone();
    let b_state = instances
        .iter()
        .find(|i| i["address"] == b.to_string())
        .unwrap();
    assert_eq!(
        (b_state["healthy"].as_bool(), b_state["ejected"].as_bool()),
        (Some(false), Some(true)),
        "{instances:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_connections_sends_new_requests_past_a_busy_instance() {
    let (a, _task_a) = upstream("a", None).await;
    let (b, _task_b) = upstream("b", None).await;
    let services =
        format!("  crypto: {{ upstreams: [\"{a}\", \"{b}\"], balance: least-connections }}\n");
    let gateway = start(&Setup {
        services: &services,
        admin_token: Some(TOKEN),
        ..Setup::default()
    })
    .await;
    let status = || async {
        send(gateway.admin, "GET", "/status", &[AUTH], "")
            .await
            .unwrap()
            .json()
    };

    // One slow request (3 s) occupies one instance…
    let addr = gateway.addr;
    let slow = tokio::spawn(async move { send(addr, "GET", "/api/v1/crypto/slow", &[], "").await });
    let mut busy = None;
    for _ in 0..200 {
        let instances = status().await["services"]["crypto"]["instances"].clone();
        busy =
            instances.as_array().unwrap().iter().find_map(|i| {
                (i["inFlight"] == 1).then(|| i["address"].as_str().unwrap().to_owned())
            });
        if busy.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(busy.is_some(), "the slow request is counted in flight");
    let idle = if busy.as_deref() == Some(a.to_string().as_str()) {
        "b"
    } else {
        "a"
    };

    // …so every request while it runs goes to the other (round robin would alternate).
    for _ in 0..10 {
        let reply = get_ok(&gateway, "/api/v1/crypto/echo").await;
        assert_eq!(reply.json()["instance"], idle, "{}", reply.body);
    }
    let slow = slow.await.unwrap().unwrap();
    assert_eq!((slow.status, slow.body.as_str()), (200, "late"));
    let instances = status().await["services"]["crypto"]["instances"].clone();
    assert!(
        instances
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["inFlight"] == 0),
        "finished requests are no longer counted: {instances}"
    );
    // With both idle again, ties rotate over the instances.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..4 {
        seen.insert(get_ok(&gateway, "/api/v1/crypto/echo").await.json()["instance"].clone());
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
}
