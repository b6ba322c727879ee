//! `flowforge-vector`: the vector service on its own.

use flowforge_service_kit::{Kit, ServiceConfig, init_tracing, serve};
use flowforge_vector::{DEFAULT_PORT, SERVICE, VectorConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let config = ServiceConfig::from_env(SERVICE, DEFAULT_PORT)?;
    let vector = VectorConfig::from_env().map_err(anyhow::Error::msg)?;
    let kit = Kit::new(SERVICE, env!("CARGO_PKG_VERSION"), config.limits.clone());
    serve(flowforge_vector::app_with(&kit, vector)?, config.addr).await?;
    Ok(())
}
