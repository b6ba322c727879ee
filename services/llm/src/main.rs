//! `flowforge-llm`: the llm service on its own.

use flowforge_llm::{DEFAULT_PORT, LlmConfig, SERVICE};
use flowforge_service_kit::{Kit, ServiceConfig, init_tracing, serve};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let config = ServiceConfig::from_env(SERVICE, DEFAULT_PORT)?;
    let llm = LlmConfig::from_env().map_err(anyhow::Error::msg)?;
    let kit = Kit::new(SERVICE, env!("CARGO_PKG_VERSION"), config.limits.clone());
    serve(flowforge_llm::app_with(&kit, llm)?, config.addr).await?;
    Ok(())
}
