//! A fixed upstream for `bench/gateway.sh`: answers `/health` and any other path with a small
//! JSON body, so the benchmark measures the proxies, not the service.
//!
//! Usage: `bench_upstream <listen addr>`

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:39200".to_owned());
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .fallback(|| async {
            (
                [("content-type", "application/json")],
                r#"{"ok":true,"service":"bench"}"#,
            )
        });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
