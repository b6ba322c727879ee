//! The all-in-one: every service that exists, on loopback, behind the gateway, in one process.
//!
//! Without `FLOWFORGE_CONFIG` it makes a working local setup: services on `127.0.0.1:<their port>`
//! (reachable only through the gateway), the gateway on `0.0.0.0:8000`, and an admin API on
//! `127.0.0.1:8001` with a token generated for this run. With a config file, the gateway follows
//! it and the services still start here.

use std::net::SocketAddr;

use flowforge_gateway::GatewayConfig;
use flowforge_service_kit::{Kit, ServiceConfig};

/// A service this binary runs: its name, default port, and how to build its app.
pub struct EmbeddedService {
    pub name: &'static str,
    pub port: u16,
    pub app: fn(&Kit) -> axum::Router,
}

/// Every service crate that exists today.
pub const SERVICES: &[EmbeddedService] = &[EmbeddedService {
    name: flowforge_crypto::SERVICE,
    port: flowforge_crypto::DEFAULT_PORT,
    app: flowforge_crypto::app,
}];

/// A service's settings in the all-in-one: loopback by default, `FLOWFORGE_<SERVICE>_ADDR` wins.
pub fn service_config(service: &EmbeddedService) -> anyhow::Result<ServiceConfig> {
    let mut config = ServiceConfig::from_env(service.name, service.port)?;
    let addr_variable = format!(
        "FLOWFORGE_{}_ADDR",
        service.name.to_ascii_uppercase().replace('-', "_")
    );
    if std::env::var_os(&addr_variable).is_none() {
        config.addr = SocketAddr::from(([127, 0, 0, 1], service.port));
    }
    Ok(config)
}

/// The gateway config: the file's, or a local one routing each embedded service to where it listens.
pub fn gateway_config(
    services: &[(&EmbeddedService, SocketAddr)],
) -> anyhow::Result<(GatewayConfig, Option<std::path::PathBuf>, bool)> {
    if let Some(path) =
        std::env::var_os(flowforge_gateway::config::ENV_CONFIG).filter(|p| !p.is_empty())
    {
        return Ok((GatewayConfig::from_env()?, Some(path.into()), false));
    }
    let mut yaml = format!(
        "gateway:\n  adminToken: \"ff_admin_{}\"\nservices:\n",
        uuid::Uuid::new_v4().simple()
    );
    for (service, addr) in services {
        yaml.push_str(&format!(
            "  {}: {{ upstreams: [\"{}\"] }}\n",
            service.name,
            loopback(*addr)
        ));
    }
    Ok((GatewayConfig::from_yaml(&yaml)?, None, true))
}

/// Where to reach a listener bound to `addr` from this machine.
fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

/// What to print once everything is up.
pub fn welcome(config: &GatewayConfig, generated: bool) -> String {
    let port = config.listen.port();
    let mut text = format!(
        "FlowForge is running.\n  gateway   http://127.0.0.1:{port}  (health: /health)\n  try       curl -s localhost:{port}/api/v1/crypto/hash -H 'content-type: application/json' -d '{{\"input\":\"abc\"}}'\n"
    );
    if let (true, Some(token)) = (generated, &config.admin_token) {
        text.push_str(&format!(
            "  admin     curl -s {}/status -H 'authorization: Bearer {token}'   (token generated for this run)\n",
            config.admin
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_setup_routes_embedded_services_to_where_they_listen() {
        let crypto = &SERVICES[0];
        let bound = [(crypto, SocketAddr::from(([0, 0, 0, 0], 4101)))];
        let (config, path, generated) = gateway_config(&bound).unwrap();
        assert!(generated && path.is_none());
        let pool = config.service_by_segment("crypto").unwrap();
        assert_eq!(
            pool.groups[0].upstreams,
            vec![SocketAddr::from(([127, 0, 0, 1], 4101))]
        );
        let token = config.admin_token.clone().unwrap();
        assert!(token.starts_with("ff_admin_") && token.len() > 20);
        let text = welcome(&config, generated);
        assert!(
            text.contains(&token) && text.contains("localhost:8000/api/v1/crypto/hash"),
            "{text}"
        );
        // Services that do not exist yet keep their default local port and answer 503 until they do.
        assert_eq!(
            config.service_by_segment("math").unwrap().groups[0].upstreams,
            vec![SocketAddr::from(([127, 0, 0, 1], 3002))]
        );
    }

    #[test]
    fn services_listen_on_loopback_by_default() {
        let config = service_config(&SERVICES[0]).unwrap();
        assert!(config.addr.ip().is_loopback());
        assert_eq!(config.addr.port(), flowforge_crypto::DEFAULT_PORT);
    }
}
