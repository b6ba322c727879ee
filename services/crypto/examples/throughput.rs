//! Throughput of sha256 and aes-256-gcm on a 1 MiB body: in-process with ring, and through a
//! running crypto service over loopback. Run by `bench/crypto.sh`; prints one line per case and
//! the service/in-process ratio.
//!
//! Usage: `throughput <service base url> [seconds per case]`

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::digest::{SHA256, digest};

const BODY_BYTES: usize = 1024 * 1024;
const KEY_BASE64: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="; // 32 × 'B'

type HttpClient = Client<HttpConnector, Full<Bytes>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .ok_or("usage: throughput <base url> [seconds]")?;
    let seconds: f64 = args.next().map_or(Ok(3.0), |s| s.parse())?;
    let budget = Duration::from_secs_f64(seconds);
    let body = Bytes::from(vec![0x5au8; BODY_BYTES]);
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    println!("case                        in-process ops/s   service ops/s   ratio (goal >= 0.5)");
    let hash_local = measure_sync(budget, || {
        std::hint::black_box(digest(&SHA256, &body));
    });
    let hash_url = format!("{base}/api/v1/crypto/hash?algorithm=sha256");
    let hash_service = measure_http(budget, &client, &hash_url, &body).await?;
    report("sha256, 1 MiB", hash_local, hash_service);

    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[b'B'; 32]).map_err(|_| "key")?);
    let aead_local = measure_sync(budget, || {
        let mut in_out = body.to_vec();
        let nonce = Nonce::assume_unique_for_key([7u8; 12]);
        key.seal_in_place_append_tag(nonce, Aad::empty(), &mut in_out)
            .expect("seal");
        std::hint::black_box(in_out);
    });
    let aead_url = format!(
        "{base}/api/v1/crypto/encrypt?algorithm=aes-256-gcm&key={}",
        urlencode(KEY_BASE64)
    );
    let aead_service = measure_http(budget, &client, &aead_url, &body).await?;
    report("aes-256-gcm encrypt, 1 MiB", aead_local, aead_service);
    Ok(())
}

fn report(case: &str, local: f64, service: f64) {
    println!(
        "{case:<28}{local:>16.1}{service:>16.1}{:>10.2}",
        service / local
    );
}

fn measure_sync(budget: Duration, mut op: impl FnMut()) -> f64 {
    op(); // warm-up
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < budget {
        op();
        count += 1;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

async fn measure_http(
    budget: Duration,
    client: &HttpClient,
    url: &str,
    body: &Bytes,
) -> Result<f64, Box<dyn std::error::Error>> {
    post(client, url, body).await?; // warm-up, and a check that the service answers 200
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < budget {
        post(client, url, body).await?;
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

async fn post(
    client: &HttpClient,
    url: &str,
    body: &Bytes,
) -> Result<(), Box<dyn std::error::Error>> {
    let request = http::Request::post(url)
        .header("content-type", "application/octet-stream")
        .body(Full::new(body.clone()))?;
    let response = client.request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        return Err(format!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        )
        .into());
    }
    Ok(())
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}
