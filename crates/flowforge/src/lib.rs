//! The all-in-one: every service that exists, on loopback, behind the gateway, in one process.
//!
//! Without `FLOWFORGE_CONFIG` it makes a working local setup: services on `127.0.0.1:<their port>`
//! (reachable only through the gateway), the gateway on `0.0.0.0:8000`, and an admin API on
//! `127.0.0.1:8001` with a token generated for this run, and a `demo` consumer (tier `pro`) with an
//! API key generated for this run. With a config file, the gateway follows it and the services
//! still start here.

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
pub const SERVICES: &[EmbeddedService] = &[
    EmbeddedService {
        name: flowforge_crypto::SERVICE,
        port: flowforge_crypto::DEFAULT_PORT,
        app: flowforge_crypto::app,
    },
    EmbeddedService {
        name: flowforge_math::SERVICE,
        port: flowforge_math::DEFAULT_PORT,
        app: flowforge_math::app,
    },
    // Its jq workers are this executable started with `--jq-worker` (see main).
    EmbeddedService {
        name: flowforge_data_transform::SERVICE,
        port: flowforge_data_transform::DEFAULT_PORT,
        app: flowforge_data_transform::app,
    },
    EmbeddedService {
        name: flowforge_image::SERVICE,
        port: flowforge_image::DEFAULT_PORT,
        app: flowforge_image::app,
    },
    EmbeddedService {
        name: flowforge_pdf::SERVICE,
        port: flowforge_pdf::DEFAULT_PORT,
        app: flowforge_pdf::app,
    },
    // Its engines load in the background; /health says `starting` until they have.
    EmbeddedService {
        name: flowforge_ocr::SERVICE,
        port: flowforge_ocr::DEFAULT_PORT,
        app: flowforge_ocr::app,
    },
    // Its models load in the background; /health says `starting` until they have.
    EmbeddedService {
        name: flowforge_llm::SERVICE,
        port: flowforge_llm::DEFAULT_PORT,
        app: flowforge_llm::app,
    },
    // Collections live under FLOWFORGE_VECTOR_DATA_DIR; texts use the same embedding model.
    EmbeddedService {
        name: flowforge_vector::SERVICE,
        port: flowforge_vector::DEFAULT_PORT,
        app: flowforge_vector::app,
    },
];

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

/// The gateway config and where it came from.
pub struct GatewaySetup {
    pub config: GatewayConfig,
    /// The file it was read from (reloadable), if any.
    pub path: Option<std::path::PathBuf>,
    /// The demo consumer's key when the setup was generated here.
    pub demo_key: Option<String>,
}

/// The gateway config: the file's, or a local one routing each embedded service to where it listens.
pub fn gateway_config(services: &[(&EmbeddedService, SocketAddr)]) -> anyhow::Result<GatewaySetup> {
    if let Some(path) =
        std::env::var_os(flowforge_gateway::config::ENV_CONFIG).filter(|p| !p.is_empty())
    {
        return Ok(GatewaySetup {
            config: GatewayConfig::from_env()?,
            path: Some(path.into()),
            demo_key: None,
        });
    }
    let demo_key = flowforge_gateway::identity::keys::generate_key("demo");
    let mut yaml = format!(
        "gateway:\n  adminToken: \"ff_admin_{}\"\nconsumers:\n  - {{ id: demo, tier: pro, keys: [\"{demo_key}\"] }}\nservices:\n",
        uuid::Uuid::new_v4().simple()
    );
    for (service, addr) in services {
        yaml.push_str(&format!(
            "  {}: {{ upstreams: [\"{}\"] }}\n",
            service.name,
            loopback(*addr)
        ));
    }
    Ok(GatewaySetup {
        config: GatewayConfig::from_yaml(&yaml)?,
        path: None,
        demo_key: Some(demo_key),
    })
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
pub fn welcome(setup: &GatewaySetup) -> String {
    let config = &setup.config;
    let port = config.listen.port();
    let mut text = format!(
        "FlowForge is running.\n  gateway   http://127.0.0.1:{port}  (health: /health, API reference: /docs)\n"
    );
    match &setup.demo_key {
        Some(key) => text.push_str(&format!(
            "  try       curl -s localhost:{port}/api/v1/crypto/hash -H 'x-api-key: {key}' -H 'content-type: application/json' -d '{{\"input\":\"abc\"}}'\n            (key of the `demo` consumer, generated for this run)\n"
        )),
        None => text.push_str(&format!(
            "  try       curl -s localhost:{port}/api/v1/crypto/hash -H 'x-api-key: <key>' -H 'content-type: application/json' -d '{{\"input\":\"abc\"}}'\n"
        )),
    }
    if let (Some(_), Some(token)) = (&setup.demo_key, &config.admin_token) {
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
        let setup = gateway_config(&bound).unwrap();
        let config = &setup.config;
        assert!(setup.path.is_none());
        let key = setup.demo_key.clone().unwrap();
        assert!(key.starts_with("ff_demo_"), "{key}");
        assert_eq!(config.access.consumers[0].id, "demo");
        let pool = config.service_by_segment("crypto").unwrap();
        assert_eq!(
            pool.groups[0].upstreams,
            vec![SocketAddr::from(([127, 0, 0, 1], 4101))]
        );
        let token = config.admin_token.clone().unwrap();
        assert!(token.starts_with("ff_admin_") && token.len() > 20);
        let text = welcome(&setup);
        assert!(
            text.contains(&token)
                && text.contains(&format!("x-api-key: {key}"))
                && text.contains("localhost:8000/api/v1/crypto/hash"),
            "{text}"
        );
        // Services that do not exist yet keep their default local port and answer 503 until they do.
        assert_eq!(
            config.service_by_segment("pdf").unwrap().groups[0].upstreams,
            vec![SocketAddr::from(([127, 0, 0, 1], 3003))]
        );
    }

    #[test]
    fn services_listen_on_loopback_by_default() {
        let config = service_config(&SERVICES[0]).unwrap();
        assert!(config.addr.ip().is_loopback());
        assert_eq!(config.addr.port(), flowforge_crypto::DEFAULT_PORT);
    }
}
