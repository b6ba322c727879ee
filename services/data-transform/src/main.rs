//! `flowforge-data-transform`: the data-transform service on its own (and its jq worker).

use flowforge_data_transform::{DEFAULT_PORT, SERVICE, WORKER_ARG, worker_main};
use flowforge_service_kit::{Kit, ServiceConfig, init_tracing, serve};

// jq workers build a value per JSON node of inputs of 100 MB: allocation dominates their time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<std::process::ExitCode> {
    if std::env::args().nth(1).as_deref() == Some(WORKER_ARG) {
        return Ok(worker_main());
    }
    init_tracing();
    let config = ServiceConfig::from_env(SERVICE, DEFAULT_PORT)?;
    let kit = Kit::new(SERVICE, env!("CARGO_PKG_VERSION"), config.limits.clone());
    tokio::runtime::Runtime::new()?
        .block_on(serve(flowforge_data_transform::app(&kit), config.addr))?;
    Ok(std::process::ExitCode::SUCCESS)
}
