//! The real `flowforge-gateway` process: SIGTERM finishes in-flight requests and exits promptly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, send, upstream, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_exits() {
    let (instance, _task) = upstream("a", None).await;
    let port = free_port();
    let dir =
        std::env::temp_dir().join(format!("flowforge-gateway-sigterm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.yaml");
    std::fs::write(&file, format!("gateway: {{ listen: \"127.0.0.1:{port}\" }}\nservices:\n  crypto: {{ upstreams: [\"{instance}\"], timeoutSeconds: 10 }}\nconsumers:\n  - {{ id: ops, tier: pro, keys: [\"ff_test_lifecycle\"] }}\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowforge-gateway"))
        .env("FLOWFORGE_CONFIG", &file)
        .env("FLOWFORGE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    wait_for(|| async { send(addr, "GET", "/health", &[], "").await.is_some() }).await;

    // A request that takes 3 s is in flight when SIGTERM arrives.
    let in_flight = tokio::spawn(async move {
        send(
            addr,
            "GET",
            "/api/v1/crypto/slow",
            &[("x-api-key", "ff_test_lifecycle")],
            "",
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let reply = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!((reply.status, reply.body.as_str()), (200, "late"));
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let exited_after = signalled.elapsed();
    assert!(
        exited_after < Duration::from_secs(9),
        "exit took {exited_after:?}"
    );
    assert!(status.success() || status.code().is_some(), "{status:?}");
    assert!(
        send(addr, "GET", "/health", &[], "").await.is_none(),
        "nothing listens after exit"
    );
    std::fs::remove_dir_all(&dir).ok();
}
