//! `flowforge`: the gateway and every service in one command. Ctrl-C or SIGTERM stops them all.

use flowforge::{SERVICES, gateway_config, service_config, welcome};
use flowforge_gateway::GatewayServer;
use flowforge_service_kit::{Kit, init_tracing, serve_listener};

fn main() -> anyhow::Result<()> {
    // The data-transform service runs jq filters in copies of this executable.
    if std::env::args().nth(1).as_deref() == Some(flowforge_data_transform::WORKER_ARG) {
        std::process::exit(match flowforge_data_transform::worker_main() {
            code if code == std::process::ExitCode::SUCCESS => 0,
            _ => 1,
        });
    }
    init_tracing();
    let runtime = tokio::runtime::Runtime::new()?;
    let (stop_services, services_stopped) = tokio::sync::watch::channel(false);

    // Bind every service first, so the gateway's first health check finds them.
    let mut bound = Vec::new();
    let mut tasks = Vec::new();
    for service in SERVICES {
        let config = service_config(service)?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(config.addr))?;
        let addr = listener.local_addr()?;
        let kit = Kit::new(
            service.name,
            env!("CARGO_PKG_VERSION"),
            config.limits.clone(),
        );
        let app = (service.app)(&kit);
        let mut stopped = services_stopped.clone();
        tasks.push(runtime.spawn(serve_listener(app, listener, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })));
        tracing::info!(service = service.name, %addr, "service listening");
        bound.push((service, addr));
    }

    let setup = gateway_config(&bound)?;
    let message = welcome(&setup);
    let gateway = GatewayServer::build(setup.config, setup.path)?;
    println!("{message}");
    // Pingora handles SIGINT/SIGTERM itself and returns once it has drained.
    gateway.run_until_signalled();

    let _ = stop_services.send(true);
    runtime.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    Ok(())
}
