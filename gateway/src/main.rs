//! `flowforge-gateway`: the gateway on its own, configured by `FLOWFORGE_CONFIG` (or defaults).

use flowforge_gateway::{GatewayConfig, GatewayServer};

// The request path allocates per request (headers, buffers); glibc malloc showed up at ~12% of
// CPU under load, mimalloc at a fraction of that (bench/gateway.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("admin") => std::process::exit(flowforge_gateway::cli::run(&args[1..])),
        Some("--help" | "-h" | "help") => {
            println!(
                "flowforge-gateway: the FlowForge API gateway (config: FLOWFORGE_CONFIG)\n\n{}",
                flowforge_gateway::cli::USAGE
            );
            return Ok(());
        }
        Some(other) => anyhow::bail!("unknown argument `{other}`; try --help"),
        None => {}
    }
    flowforge_service_kit::init_tracing();
    let config = GatewayConfig::from_env()?;
    let config_path =
        std::env::var_os(flowforge_gateway::config::ENV_CONFIG).map(std::path::PathBuf::from);
    tracing::info!(listen = %config.listen, admin = %config.admin, "starting gateway");
    GatewayServer::build(config, config_path)?.run_until_signalled();
    Ok(())
}
