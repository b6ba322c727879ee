//! `flowforge-ocr`: the OCR service on its own.

use flowforge_ocr::{DEFAULT_PORT, SERVICE};
use flowforge_service_kit::{Kit, ServiceConfig, init_tracing, serve};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let config = ServiceConfig::from_env(SERVICE, DEFAULT_PORT)?;
    let kit = Kit::new(SERVICE, env!("CARGO_PKG_VERSION"), config.limits.clone());
    serve(flowforge_ocr::app(&kit), config.addr).await?;
    Ok(())
}
