//! Identity and limits on the real shared stores: PostgreSQL (a fresh database per test) and
//! Redis (a fresh key prefix per test, or a private redis-server that a test stops and starts).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Reply, Setup, assert_envelope, free_port, send, start, upstream, wait_for};

const TOKEN: &str = "stores-admin-token";
const AUTH: (&str, &str) = ("authorization", "Bearer stores-admin-token");

fn redis_url() -> String {
    std::env::var("FLOWFORGE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn admin_database_url() -> String {
    std::env::var("FLOWFORGE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A key prefix no other test uses.
fn prefix() -> String {
    format!("fftest:{}:", uuid::Uuid::new_v4().simple())
}

/// A database of its own, dropped with the value (also when a test fails).
struct TestDatabase {
    name: String,
    url: String,
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e} (run `make test`, which starts it)"));
    tokio::spawn(connection);
    client
}

impl TestDatabase {
    async fn create() -> Self {
        let admin_url = admin_database_url();
        let name = format!("fftest_{}", uuid::Uuid::new_v4().simple());
        connect(&admin_url)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let base = admin_url.rsplit_once('/').unwrap().0;
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }

    async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop may run inside the test's runtime (or while it unwinds): use a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let _ = connect(&admin_database_url())
                    .await
                    .batch_execute(&statement)
                    .await;
            });
        })
        .join();
    }
}

async fn admin(gateway: &crate::Gateway, method: &str, path: &str, body: Option<Value>) -> Reply {
    let text = body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers = vec![AUTH];
    if !text.is_empty() {
        headers.push(("content-type", "application/json"));
    }
    send(gateway.admin, method, path, &headers, &text)
        .await
        .unwrap()
}

async fn call(gateway: &crate::Gateway, key: &str) -> Reply {
    send(
        gateway.addr,
        "GET",
        "/api/v1/crypto/echo",
        &[("x-api-key", key)],
        "",
    )
    .await
    .unwrap()
}

/// Polls until `gateway` answers `key` with `status`; returns how long that took.
async fn until_status(gateway: &crate::Gateway, key: &str, status: u16) -> Duration {
    let started = Instant::now();
    loop {
        if call(gateway, key).await.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still not {status} after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_sharing_redis_admit_exactly_the_limit() {
    let (instance, _task) = upstream("a", None).await;
    let services = format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n");
    let access = format!(
        "tiers:\n  twenty: {{ perMinute: 20, perDay: 1000 }}\nconsumers:\n  - {{ id: shared, tier: twenty, keys: [ff_test_shared] }}\nredis: {{ url: \"{}\", keyPrefix: \"{}\" }}\n",
        redis_url(),
        prefix()
    );
    let setup = Setup {
        services: &services,
        access: Some(&access),
        admin_token: Some(TOKEN),
        ..Setup::default()
    };
    let (one, two) = (start(&setup).await, start(&setup).await);
    let requests = (0..60).map(|i| {
        let gateway = if i % 2 == 0 { &one } else { &two };
        async move { call(gateway, "ff_test_shared").await.status }
    });
    let statuses = futures_util::future::join_all(requests).await;
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (admitted, refused),
        (20, 40),
        "exactly the limit across both gateways"
    );
    // A limit this small is never leased: every check, admitted or not, waited for a call, and
    // the metrics say so.
    let mut waits = 0;
    for gateway in [&one, &two] {
        let metrics = admin(gateway, "GET", "/metrics", None).await.body;
        let counter = |name: &str| -> u64 {
            let line = metrics.lines().find(|l| l.starts_with(name));
            line.and_then(|l| l.split_once(' ')?.1.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {metrics}"))
        };
        let calls = counter("gateway_rate_limit_calls_total ");
        assert!((1..=30).contains(&calls), "{calls} calls for 30 checks");
        waits += counter("gateway_rate_limit_waits_total ");
    }
    assert_eq!(waits, 60);
}

/// Polls each check once, in order, before this one-thread runtime gets to run the batching
/// task: all of them are queued (none answered) when it takes its next batch.
async fn queue_before_the_batching_task<F: std::future::Future + Unpin>(checks: &mut [F]) {
    std::future::poll_fn(|cx| {
        for check in checks.iter_mut() {
            assert!(
                std::pin::Pin::new(&mut *check).poll(cx).is_pending(),
                "waits for Redis"
            );
        }
        std::task::Poll::Ready(())
    })
    .await;
}

/// A Redis limiter of its own and a tier with a day limit of 100,000: a cell refills every
/// 864 ms, so the few hundred ms a lease test takes refill at most one.
fn far_from_a_day_limit() -> (
    flowforge_gateway::limits::RedisLimiter,
    flowforge_gateway::limits::Tier,
) {
    use flowforge_gateway::limits::{OnFailure, RedisLimiter, Tier};
    let client = redis::Client::open(redis_url()).unwrap();
    let limiter = RedisLimiter::new(client, prefix(), Duration::from_secs(2), OnFailure::Deny);
    let tier = Tier {
        name: "busy".into(),
        per_minute: None,
        per_day: Some(100_000),
    };
    (limiter, tier)
}

/// Day cells left after an admitted check.
fn remaining(decision: &flowforge_gateway::limits::Decision) -> u64 {
    assert!(decision.admitted);
    decision.day.unwrap().remaining
}

/// A busy subject far from its limit gets cells leased ahead: its next checks are admitted
/// without a call, counting down exactly as calls would, a spent lease is renewed, and what an
/// expired lease left goes back, so Redis ends up counting only the checks that were made.
#[tokio::test]
async fn a_busy_subject_spends_leased_cells_without_calls_and_the_rest_goes_back() {
    let (limiter, tier) = far_from_a_day_limit();
    limiter.check("warm-up", &tier).await.unwrap();
    assert_eq!(limiter.leased(), 0, "one check alone asks for no lease");
    let calls = limiter.calls();
    // Two checks of one subject in one call: busy enough for a lease.
    let mut pair: Vec<_> = (0..2)
        .map(|_| Box::pin(limiter.check("dora", &tier)))
        .collect();
    queue_before_the_batching_task(&mut pair).await;
    let pair = futures_util::future::join_all(pair).await;
    assert_eq!(limiter.calls() - calls, 1);
    assert_eq!(remaining(pair[0].as_ref().unwrap()), 99_999);
    assert_eq!(remaining(pair[1].as_ref().unwrap()), 99_998);
    let lease = limiter.leased();
    assert!(lease >= 16, "a lease of {lease} cells");
    for n in 0..lease {
        let d = limiter.check("dora", &tier).await.unwrap();
        assert_eq!(remaining(&d), 99_997 - n, "leased check {n}");
    }
    assert_eq!(limiter.calls() - calls, 1, "leased cells need no call");
    // Spent before it expired: the next check goes to Redis, and so does the top-up asked at
    // half the lease. The new lease is twice as many, or more if that is what this pace spends
    // in a lease (these checks came back to back), but never more than a lease may hold.
    let d = limiter.check("dora", &tier).await.unwrap();
    assert_eq!(remaining(&d), 99_997 - lease);
    assert_eq!(limiter.calls() - calls, 2);
    let renewed = limiter.leased();
    assert!(
        (2 * lease..=2048).contains(&renewed),
        "renewed with {renewed} cells"
    );
    for n in 0..5 {
        let d = limiter.check("dora", &tier).await.unwrap();
        assert_eq!(remaining(&d), 99_996 - lease - n);
    }
    // The rest unspent: once the lease expires it goes back, with no check to carry it.
    leases_back(std::slice::from_ref(&limiter)).await;
    // 2 + lease + 1 + 5 checks were made, and this is the next.
    let d = limiter.check("dora", &tier).await.unwrap();
    let left = remaining(&d);
    let made = 2 + lease + 1 + 5;
    assert!(
        (100_000 - made - 1..=100_000 - made).contains(&left),
        "Redis counts the checks made, not the cells leased: {left} left"
    );
}

/// A subject checked one at a time, never twice in one call but often (40 a second or more),
/// is leased cells for its pace: its next checks need no call and count down exactly, and what it
/// did not spend goes back. A subject checked less often is never leased.
#[tokio::test]
async fn a_steadily_busy_subject_is_leased_cells_for_its_pace() {
    let (limiter, tier) = far_from_a_day_limit();
    for _ in 0..4 {
        limiter.check("slow", &tier).await.unwrap();
        assert_eq!(limiter.leased(), 0, "60 ms apart is not busy");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let calls = limiter.calls();
    // Three checks back to back make it busy (more if this machine stalls between them).
    let mut made = 0;
    while limiter.leased() == 0 {
        assert!(made < 10, "no lease after {made} checks");
        let d = limiter.check("fred", &tier).await.unwrap();
        assert_eq!(remaining(&d), 99_999 - made);
        made += 1;
    }
    assert!(made >= 3, "leased after {made} checks");
    assert_eq!(
        limiter.calls() - calls,
        made,
        "one call per check until it is busy"
    );
    let lease = limiter.leased();
    for n in 0..lease {
        let d = limiter.check("fred", &tier).await.unwrap();
        assert_eq!(remaining(&d), 99_999 - made - n, "leased check {n}");
    }
    assert_eq!(limiter.calls() - calls, made, "leased cells need no call");
    // Spent before it expired: the next call asks for twice as many, or for the pace its top-up
    // measured if that is more, up to the most a lease may hold.
    limiter.check("fred", &tier).await.unwrap();
    let renewed = limiter.leased();
    assert!(
        (2 * lease..=2048).contains(&renewed),
        "renewed with {renewed} cells"
    );
    leases_back(std::slice::from_ref(&limiter)).await;
    let d = limiter.check("fred", &tier).await.unwrap();
    let made = made + lease + 1;
    let left = remaining(&d);
    assert!(
        (100_000 - made - 1..=100_000 - made).contains(&left),
        "Redis counts the checks made, not the cells leased: {left} left"
    );
}

/// Two gateways whose busy checks get leases still admit the limit and never more: while leases
/// are out, what both admit stays within it, and once the leases are back the total is exact.
#[tokio::test]
async fn leases_on_two_gateways_never_admit_past_the_limit() {
    use flowforge_gateway::limits::{OnFailure, RedisLimiter, Tier};
    let prefix = prefix();
    let gateways: Vec<RedisLimiter> = (0..2)
        .map(|_| {
            let client = redis::Client::open(redis_url()).unwrap();
            RedisLimiter::new(
                client,
                prefix.clone(),
                Duration::from_secs(2),
                OnFailure::Deny,
            )
        })
        .collect();
    let tier = Tier {
        name: "shared".into(),
        per_minute: None,
        per_day: Some(400),
    };
    let mut admitted = 0u64;
    let mut leased = false;
    // Rounds of 40 checks per gateway arriving together: each round's pair of groups may lease.
    for _ in 0..8 {
        // `join_all` polls each once before the batching tasks run; some answer from a lease.
        let checks = (0..80).map(|i| gateways[i % 2].check("erin", &tier));
        for decision in futures_util::future::join_all(checks).await {
            admitted += u64::from(decision.unwrap().admitted);
        }
        leased |= gateways.iter().any(|g| g.leased() > 0);
        assert!(admitted <= 400, "{admitted} admitted of a limit of 400");
    }
    assert!(leased, "the busy rounds were leased cells");
    // Once the leases are back, both gateways together admit exactly what is left.
    leases_back(&gateways).await;
    let mut n = 0;
    loop {
        if gateways[n % 2].check("erin", &tier).await.unwrap().admitted {
            (admitted, n) = (admitted + 1, n + 1);
            continue;
        }
        // Checks this quick get leases too, and while one gateway holds leased cells the other
        // may be refused them (the price of leases): once they are back, the other decides.
        leases_back(&gateways).await;
        if !gateways[(n + 1) % 2]
            .check("erin", &tier)
            .await
            .unwrap()
            .admitted
        {
            break;
        }
        (admitted, n) = (admitted + 1, n + 1);
    }
    assert_eq!(admitted, 400);
}

/// Waits until every lease of these limiters expired and went back.
/// A subject that stays busy has its lease topped up before the lease runs out or expires: after
/// its first lease, none of its checks waits for Redis (without top-ups, one would at the end of
/// every lease: about eight times here). The headers still count down exactly, and once the
/// leases are back Redis has counted exactly the checks made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_that_stays_busy_never_waits_for_redis_after_its_first_lease() {
    let (limiter, tier) = far_from_a_day_limit();
    let mut made = 0;
    while limiter.leased() == 0 {
        assert!(made < 10, "no lease after {made} checks");
        limiter.check("gus", &tier).await.unwrap();
        made += 1;
    }
    let waited = limiter.waited();
    // About a thousand checks a second for 400 ms: eight leases' time. A day limit of 100,000
    // refills one cell every 864 ms, so a count may come back up by one.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(400) {
        let left = remaining(&limiter.check("gus", &tier).await.unwrap());
        assert!(
            (99_999 - made..=100_000 - made).contains(&left),
            "check {made}: {left} left"
        );
        made += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let waits = limiter.waited() - waited;
    assert!(waits <= 2, "{waits} of the last checks waited for Redis");
    leases_back(std::slice::from_ref(&limiter)).await;
    let left = remaining(&limiter.check("gus", &tier).await.unwrap());
    assert!(
        (99_999 - made..=100_001 - made).contains(&left),
        "Redis counts the {made} checks made, not the cells leased: {left} left"
    );
}

async fn leases_back(limiters: &[flowforge_gateway::limits::RedisLimiter]) {
    for _ in 0..100 {
        if limiters.iter().all(|l| l.leased() == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("leases still out after a second");
}

/// Checks that arrive together go to Redis as one script call and are still decided one by one, in
/// arrival order, each subject against its own limits: the first 50 of alice's (per minute) and
/// the first 30 of bob's (per day) are admitted, counting down, and a refused check moves nothing.
#[tokio::test]
async fn checks_arriving_together_share_one_call_and_stay_exact() {
    use flowforge_gateway::limits::{OnFailure, RedisLimiter, Tier};
    let client = redis::Client::open(redis_url()).unwrap();
    let limiter = RedisLimiter::new(client, prefix(), Duration::from_secs(2), OnFailure::Deny);
    let alice = Tier {
        name: "alice".into(),
        per_minute: Some(50),
        per_day: Some(1000),
    };
    let bob = Tier {
        name: "bob".into(),
        per_minute: Some(1000),
        per_day: Some(30),
    };
    limiter.check("warm-up", &alice).await.unwrap();
    let calls = limiter.calls();
    let mut checks: Vec<_> = (0..200)
        .map(|i| {
            let (subject, tier) = if i % 2 == 0 {
                ("alice", &alice)
            } else {
                ("bob", &bob)
            };
            let limiter = &limiter;
            Box::pin(async move { limiter.check(subject, tier).await.unwrap() })
        })
        .collect();
    // All 200 are queued when the batching task takes the next batch.
    queue_before_the_batching_task(&mut checks).await;
    let decisions = futures_util::future::join_all(checks).await;
    assert_eq!(limiter.calls() - calls, 1, "one script call for the batch");

    let (alices, bobs): (Vec<_>, Vec<_>) =
        decisions.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    for (n, (_, d)) in alices.iter().enumerate() {
        let minute = d.minute.unwrap();
        if n < 50 {
            assert!(d.admitted, "alice's check {n}");
            assert_eq!(minute.remaining, 49 - n as u64);
            assert_eq!(d.day.unwrap().remaining, 999 - n as u64);
        } else {
            assert!(!d.admitted, "alice's check {n}");
            assert_eq!(minute.remaining, 0);
            assert_eq!(
                d.day.unwrap().remaining,
                950,
                "refused checks count nowhere"
            );
            assert!(d.retry_after_us > 0);
        }
    }
    for (n, (_, d)) in bobs.iter().enumerate() {
        let day = d.day.unwrap();
        assert_eq!(d.admitted, n < 30, "bob's check {n}");
        assert_eq!(day.remaining, 29u64.saturating_sub(n as u64));
        let minute_left = if n < 30 { 999 - n as u64 } else { 970 };
        assert_eq!(d.minute.unwrap().remaining, minute_left);
    }
    // The next check, alone in its call, sees the batch's writes.
    let next = limiter.check("alice", &alice).await.unwrap();
    assert!(!next.admitted);
    assert_eq!(limiter.calls() - calls, 2);
    // A tier without limits needs no call at all.
    let unlimited = Tier {
        name: "open".into(),
        per_minute: None,
        per_day: None,
    };
    assert!(limiter.check("carol", &unlimited).await.unwrap().admitted);
    assert_eq!(limiter.calls() - calls, 2);
}

/// A caller that stops waiting (its request timed out or went away) before its check is sent is
/// left out of the batch: with a limit of one, the check queued after it is still admitted.
#[tokio::test]
async fn a_check_given_up_before_its_call_is_not_counted() {
    use flowforge_gateway::limits::{OnFailure, RedisLimiter, Tier};
    let client = redis::Client::open(redis_url()).unwrap();
    let limiter = RedisLimiter::new(client, prefix(), Duration::from_secs(2), OnFailure::Deny);
    let one = Tier {
        name: "one".into(),
        per_minute: Some(1),
        per_day: None,
    };
    limiter.check("warm-up", &one).await.unwrap();
    let mut both = vec![
        Box::pin(limiter.check("dave", &one)),
        Box::pin(limiter.check("dave", &one)),
    ];
    // Both are queued before the batching task runs; then the first gives up.
    queue_before_the_batching_task(&mut both).await;
    let kept = both.pop().unwrap();
    drop(both);
    let decision = kept.await.unwrap();
    assert!(decision.admitted, "the abandoned check took no cell");
    assert_eq!(decision.minute.unwrap().remaining, 0);
    assert!(!limiter.check("dave", &one).await.unwrap().admitted);
}

/// A redis-server of the test's own, so the test can stop and start it.
struct PrivateRedis {
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (scripts/install-deps.sh installs it)");
        Self { child: Some(child) }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_falls_back_without_stalling_and_exact_limits_resume() {
    let port = free_port();
    let mut redis = PrivateRedis::start(port);
    let (instance, _task) = upstream("a", None).await;
    let services = format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n");
    let access = format!(
        "tiers:\n  three: {{ perMinute: 3 }}\nconsumers:\n  - {{ id: busy, tier: enterprise, keys: [ff_test_busy] }}\n  - {{ id: steady, tier: pro, keys: [ff_test_steady] }}\n  - {{ id: tight, tier: three, keys: [ff_test_tight] }}\nredis: {{ url: \"redis://127.0.0.1:{port}\", onFailure: allow }}\n"
    );
    let gateway = start(&Setup {
        services: &services,
        access: Some(&access),
        ..Setup::default()
    })
    .await;

    // Steady traffic through the whole outage: every request answered, none stalled.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, addr) = (stop.clone(), gateway.addr);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let reply = send(
                    addr,
                    "GET",
                    "/api/v1/crypto/echo",
                    &[("x-api-key", "ff_test_steady")],
                    "",
                )
                .await
                .unwrap();
                seen.push((reply.status, started.elapsed()));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let health = send(gateway.addr, "GET", "/health", &[], "")
        .await
        .unwrap()
        .json();
    assert_eq!(health["checks"]["rateLimits"], "degraded");
    let _redis = PrivateRedis::start(port);
    wait_for(|| async {
        send(gateway.addr, "GET", "/health", &[], "")
            .await
            .is_some_and(|r| r.json()["checks"]["rateLimits"] == "healthy")
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = load.await.unwrap();
    assert!(seen.len() > 50, "{} requests", seen.len());
    assert!(
        seen.iter().all(|(status, _)| *status == 200),
        "every request was answered: {:?}",
        seen.iter().filter(|(s, _)| *s != 200).collect::<Vec<_>>()
    );
    let slowest = seen.iter().map(|(_, t)| *t).max().unwrap();
    assert!(
        slowest < Duration::from_millis(250),
        "no request waited on the dead Redis: slowest {slowest:?}"
    );

    // Redis is back: limits are exact again (the restarted Redis starts empty).
    let statuses: Vec<u16> = futures_util::future::join_all(
        (0..6).map(|_| async { call(&gateway, "ff_test_tight").await.status }),
    )
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    // The unlimited tier never touches Redis at all.
    assert_eq!(call(&gateway, "ff_test_busy").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_deny_refuses_while_redis_is_unreachable() {
    let (instance, _task) = upstream("a", None).await;
    let services = format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n");
    let access = format!(
        "consumers:\n  - {{ id: c, keys: [ff_test_deny] }}\nredis: {{ url: \"redis://127.0.0.1:{}\", onFailure: deny }}\n",
        free_port()
    );
    let gateway = start(&Setup {
        services: &services,
        access: Some(&access),
        redis_down: true,
        ..Setup::default()
    })
    .await;
    let started = Instant::now();
    let refused = call(&gateway, "ff_test_deny").await;
    assert_envelope(&refused, 503, "UPSTREAM_UNAVAILABLE");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_in_postgres_live_through_issue_use_revoke_rotate_and_expiry() {
    let database = TestDatabase::create().await;
    let (instance, _task) = upstream("a", None).await;
    let services = format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n");
    let access = format!(
        "database: {{ url: \"{}\" }}\nredis: {{ url: \"{}\", keyPrefix: \"{}\" }}\n",
        database.url,
        redis_url(),
        prefix()
    );
    let a = start(&Setup {
        services: &services,
        access: Some(&access),
        admin_token: Some(TOKEN),
        ..Setup::default()
    })
    .await;
    let b = start(&Setup {
        services: &services,
        access: Some(&access),
        ..Setup::default()
    })
    .await;

    // Tiers and consumers.
    let gold = admin(&a, "PUT", "/tiers/gold", Some(json!({"perMinute": 50}))).await;
    assert_eq!(gold.status, 200, "{}", gold.body);
    let tiers = admin(&a, "GET", "/tiers", None).await.json();
    let names: Vec<&str> = tiers["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["basic", "enterprise", "free", "gold", "pro"]);
    let created = admin(
        &a,
        "POST",
        "/consumers",
        Some(json!({"id": "acme", "tier": "gold"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let again = admin(&a, "POST", "/consumers", Some(json!({"id": "acme"}))).await;
    assert_envelope(&again, 409, "CONFLICT");
    let bad_tier = admin(
        &a,
        "POST",
        "/consumers",
        Some(json!({"id": "x", "tier": "nope"})),
    )
    .await;
    assert_envelope(&bad_tier, 422, "VALIDATION_ERROR");
    let bad_id = admin(&a, "POST", "/consumers", Some(json!({"id": "a b"}))).await;
    assert_envelope(&bad_id, 422, "VALIDATION_ERROR");
    let in_use = admin(&a, "DELETE", "/tiers/gold", None).await;
    assert_envelope(&in_use, 409, "CONFLICT");

    // A key is shown once; only its hash and a prefix are stored.
    let issued = admin(
        &a,
        "POST",
        "/consumers/acme/keys",
        Some(json!({"scopes": ["crypto"]})),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let issued = issued.json();
    let key = issued["key"].as_str().unwrap().to_owned();
    let key_id = issued["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ff_live_") && key.len() == 40, "{key}");
    let listed = admin(&a, "GET", "/consumers/acme/keys", None).await;
    assert!(!listed.body.contains(&key), "listings never show the key");
    assert_eq!(listed.json()["keys"][0]["prefix"], &key[..12]);
    let db = database.client().await;
    let stored = db
        .query_one(
            "SELECT encode(key_hash, 'hex'), row_to_json(k)::text FROM api_keys k",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        stored.get::<_, String>(0),
        hex::encode(ring::digest::digest(&ring::digest::SHA256, key.as_bytes()))
    );
    assert!(
        !stored.get::<_, String>(1).contains(&key),
        "no plaintext key in the row"
    );

    // Used on the other gateway, under the consumer's tier.
    for _ in 0..5 {
        let reply = call(&b, &key).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.headers["x-ratelimit-limit-minute"], "50");
        assert_eq!(reply.json()["headers"]["x-consumer-id"], "acme");
    }
    // Usage arrives in batches: gateway B writes within its flush interval.
    wait_for(|| async {
        admin(&a, "GET", "/consumers/acme/usage", None).await.json()["total"] == 5
    })
    .await;
    let usage = admin(&a, "GET", "/consumers/acme/usage", None).await.json();
    assert_eq!(usage["rows"][0]["service"], "crypto");
    let listed = admin(&a, "GET", "/consumers/acme/keys", None).await.json();
    assert!(listed["keys"][0]["lastUsedAt"].is_string(), "{listed}");

    // A tier changed on A reaches the key B has cached, identity and all, within 2 s.
    let raised = admin(&a, "PUT", "/tiers/gold", Some(json!({"perMinute": 5000}))).await;
    assert_eq!(raised.status, 200, "{}", raised.body);
    let started = Instant::now();
    wait_for(|| async {
        let reply = call(&b, &key).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.headers["x-ratelimit-limit-minute"] == "5000"
    })
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "the tier change took {took:?}"
    );

    // Revoked on A, refused by B (which has the key cached) within 2 s.
    let revoked = admin(
        &a,
        "DELETE",
        &format!("/consumers/acme/keys/{key_id}"),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let took = until_status(&b, &key, 401).await;
    assert!(took < Duration::from_secs(2), "revocation took {took:?}");
    assert!(call(&b, &key).await.body.contains("revoked"));

    // Rotation: the new key works at once, the old one stops.
    let second = admin(&a, "POST", "/consumers/acme/keys", None).await.json();
    let second_key = second["key"].as_str().unwrap().to_owned();
    assert_eq!(call(&b, &second_key).await.status, 200);
    let rotated = admin(
        &a,
        "POST",
        &format!(
            "/consumers/acme/keys/{}/rotate",
            second["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let third_key = rotated.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(call(&b, &third_key).await.status, 200);
    assert!(until_status(&b, &second_key, 401).await < Duration::from_secs(2));

    // Expiry.
    let expires_at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::seconds(2)).to_rfc3339();
    let refused = admin(
        &a,
        "POST",
        "/consumers/acme/keys",
        Some(json!({"expiresAt": past})),
    )
    .await;
    assert_envelope(&refused, 422, "VALIDATION_ERROR");
    let short = admin(
        &a,
        "POST",
        "/consumers/acme/keys",
        Some(json!({"expiresAt": expires_at})),
    )
    .await;
    let short_key = short.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(call(&b, &short_key).await.status, 200);
    until_status(&b, &short_key, 401).await;
    assert!(call(&b, &short_key).await.body.contains("expired"));

    // Disabling the consumer reaches B too; deleting it removes its keys.
    let disabled = admin(
        &a,
        "PATCH",
        "/consumers/acme",
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert!(until_status(&b, &third_key, 403).await < Duration::from_secs(2));
    assert_eq!(
        admin(&a, "DELETE", "/consumers/acme", None).await.status,
        204
    );
    assert_eq!(until_status(&b, &third_key, 401).await.as_secs(), 0);
    let gone = admin(&a, "GET", "/consumers/acme", None).await;
    assert_envelope(&gone, 404, "NOT_FOUND");

    drop((a, b, db));
    drop(database);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_written_once_across_restarts() {
    let database = TestDatabase::create().await;
    let (instance, _task) = upstream("a", None).await;
    let services = format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n");
    let access = format!("database: {{ url: \"{}\" }}\n", database.url);
    let setup = Setup {
        services: &services,
        access: Some(&access),
        admin_token: Some(TOKEN),
        ..Setup::default()
    };
    let total = || async {
        database
            .client()
            .await
            .query_one(
                "SELECT COALESCE(sum(requests), 0)::bigint FROM usage_daily WHERE consumer_id = 'meter'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };

    let first = start(&setup).await;
    admin(
        &first,
        "POST",
        "/consumers",
        Some(json!({"id": "meter", "tier": "pro"})),
    )
    .await;
    let key = admin(
        &first,
        "POST",
        "/consumers/meter/keys",
        Some(json!({"env": "test"})),
    )
    .await
    .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..7 {
        assert_eq!(call(&first, &key).await.status, 200);
    }
    drop(first);
    assert_eq!(total().await, 7, "the last batch is written at shutdown");

    // The second start finds its migrations applied and adds to the same rows.
    let second = start(&setup).await;
    for _ in 0..3 {
        assert_eq!(call(&second, &key).await.status, 200);
    }
    drop(second);
    assert_eq!(total().await, 10);
    let migrations = database
        .client()
        .await
        .query_one("SELECT count(*) FROM flowforge_migrations", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(migrations, 1);
    drop(database);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_less_mode_lists_the_file_and_refuses_writes() {
    let (instance, _task) = upstream("a", None).await;
    let services = format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n");
    let gateway = start(&Setup {
        services: &services,
        access: Some("consumers:\n  - { id: filed, tier: basic, keys: [ff_test_filed] }\n"),
        admin_token: Some(TOKEN),
        ..Setup::default()
    })
    .await;
    let consumers = admin(&gateway, "GET", "/consumers", None).await.json();
    assert_eq!(consumers["consumers"][0]["id"], "filed");
    let write = admin(&gateway, "POST", "/consumers", Some(json!({"id": "new"}))).await;
    assert_envelope(&write, 409, "DB_LESS_MODE");
    for _ in 0..4 {
        call(&gateway, "ff_test_filed").await;
    }
    let usage = admin(&gateway, "GET", "/consumers/filed/usage", None)
        .await
        .json();
    assert_eq!(usage["total"], 4, "{usage}");
}

/// Runs `flowforge-gateway admin <args>` against `gateway`: (exit code, stdout, stderr).
async fn cli(gateway: &crate::Gateway, args: &[&str]) -> (i32, String, String) {
    let url = format!("http://{}", gateway.admin);
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_flowforge-gateway"))
            .arg("admin")
            .args(&args)
            .env("FLOWFORGE_ADMIN_URL", url)
            .env("FLOWFORGE_ADMIN_TOKEN", TOKEN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_cli_creates_a_consumer_and_a_key_in_one_command_each() {
    let database = TestDatabase::create().await;
    let (instance, _task) = upstream("a", None).await;
    let services = format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n");
    let access = format!("database: {{ url: \"{}\" }}\n", database.url);
    let gateway = start(&Setup {
        services: &services,
        access: Some(&access),
        admin_token: Some(TOKEN),
        ..Setup::default()
    })
    .await;

    let (code, out, err) = cli(
        &gateway,
        &["consumers", "create", "cli-user", "--tier", "pro"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["tier"], "pro");
    let (code, out, err) = cli(
        &gateway,
        &["keys", "issue", "cli-user", "--scope", "crypto"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let key = serde_json::from_str::<Value>(&out).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(err.contains(&key), "the key is pointed out once: {err}");
    assert_eq!(call(&gateway, &key).await.status, 200);

    let (code, _, err) = cli(&gateway, &["consumers", "create", "cli-user"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("409") && err.contains("already exists"),
        "{err}"
    );
    let (code, _, err) = cli(&gateway, &["tiers", "set", "x", "--per-minute", "0"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("perMinute"), "{err}");
    let (code, _, err) = cli(&gateway, &["consumers", "frobnicate"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("usage:"), "{err}");

    let (code, out, _) = cli(&gateway, &["usage", "cli-user"]).await;
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["total"], 1);
    drop(gateway);
    drop(database);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_seeds_the_database_and_a_revocation_outlives_a_restart() {
    let database = TestDatabase::create().await;
    let (instance, _task) = upstream("a", None).await;
    let services = format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n");
    let access = format!(
        "consumers:\n  - {{ id: seeded, tier: basic, keys: [ff_test_seeded] }}\ndatabase: {{ url: \"{}\" }}\n",
        database.url
    );
    let setup = Setup {
        services: &services,
        access: Some(&access),
        admin_token: Some(TOKEN),
        ..Setup::default()
    };
    let first = start(&setup).await;
    let reply = call(&first, "ff_test_seeded").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["headers"]["x-consumer-tier"], "basic");
    let keys = admin(&first, "GET", "/consumers/seeded/keys", None)
        .await
        .json();
    let key_id = keys["keys"][0]["id"].as_str().unwrap().to_owned();
    let revoked = admin(
        &first,
        "DELETE",
        &format!("/consumers/seeded/keys/{key_id}"),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200);
    drop(first);

    let second = start(&setup).await;
    let refused = call(&second, "ff_test_seeded").await;
    assert_envelope(&refused, 401, "UNAUTHORIZED");
    assert!(refused.body.contains("revoked"), "{}", refused.body);
    drop(second);
    drop(database);
}
