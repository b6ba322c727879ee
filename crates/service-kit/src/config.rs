//! Service configuration, read once from the environment at start-up.

use std::net::SocketAddr;
use std::time::Duration;

/// Default maximum request body: 25 MiB (DESIGN.md "JSON and files").
pub const DEFAULT_MAX_BODY_BYTES: usize = 25 * 1024 * 1024;
/// Default maximum time a request may take before it is answered 504 TIMEOUT.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const SETTING_ADDR: &str = "ADDR";
const SETTING_MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
const SETTING_REQUEST_TIMEOUT_SECONDS: &str = "REQUEST_TIMEOUT_SECONDS";

/// Limits every request of a service is held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body in bytes; larger gives 413 PAYLOAD_TOO_LARGE.
    pub max_body_bytes: usize,
    /// Longest a request may run; longer gives 504 TIMEOUT.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// Where a service listens and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Listen address, `FLOWFORGE_<SERVICE>_ADDR` (default `0.0.0.0:<port>`).
    pub addr: SocketAddr,
    /// Request limits, `FLOWFORGE_<SERVICE>_MAX_BODY_BYTES` and `FLOWFORGE_<SERVICE>_REQUEST_TIMEOUT_SECONDS`.
    pub limits: Limits,
}

/// A setting that could not be used; start-up stops with this message.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {value:?} for {variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: String,
    /// The value it had.
    pub value: String,
    /// What was expected instead.
    pub reason: String,
}

impl ServiceConfig {
    /// Reads `FLOWFORGE_<SERVICE>_*` from the process environment.
    pub fn from_env(service: &str, default_port: u16) -> Result<Self, ConfigError> {
        Self::from_lookup(service, default_port, |key| std::env::var(key).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(
        service: &str,
        default_port: u16,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let prefix = env_prefix(service);
        let setting = |name: &str| {
            let variable = format!("{prefix}_{name}");
            lookup(&variable)
                .filter(|v| !v.trim().is_empty())
                .map(|value| (variable, value))
        };
        let invalid = |variable: String, value: String, reason: &str| ConfigError {
            variable,
            value,
            reason: reason.to_owned(),
        };

        let addr = match setting(SETTING_ADDR) {
            Some((variable, value)) => value
                .trim()
                .parse()
                .map_err(|_| invalid(variable, value, "expected host:port, e.g. 127.0.0.1:3001"))?,
            None => SocketAddr::from(([0, 0, 0, 0], default_port)),
        };
        let max_body_bytes = match setting(SETTING_MAX_BODY_BYTES) {
            Some((variable, value)) => match value.trim().parse::<usize>() {
                Ok(bytes) if bytes > 0 => bytes,
                _ => {
                    return Err(invalid(
                        variable,
                        value,
                        "expected a positive number of bytes",
                    ));
                }
            },
            None => DEFAULT_MAX_BODY_BYTES,
        };
        let request_timeout = match setting(SETTING_REQUEST_TIMEOUT_SECONDS) {
            Some((variable, value)) => match value.trim().parse::<f64>() {
                Ok(secs) if secs.is_finite() && secs > 0.0 => Duration::from_secs_f64(secs),
                _ => {
                    return Err(invalid(
                        variable,
                        value,
                        "expected a positive number of seconds",
                    ));
                }
            },
            None => DEFAULT_REQUEST_TIMEOUT,
        };
        Ok(Self {
            addr,
            limits: Limits {
                max_body_bytes,
                request_timeout,
            },
        })
    }
}

/// `data-transform` → `FLOWFORGE_DATA_TRANSFORM`.
fn env_prefix(service: &str) -> String {
    format!(
        "FLOWFORGE_{}",
        service.to_ascii_uppercase().replace('-', "_")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<ServiceConfig, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ServiceConfig::from_lookup("data-transform", 3008, |k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = config(&[]).unwrap();
        assert_eq!(c.addr, "0.0.0.0:3008".parse().unwrap());
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn reads_prefixed_settings() {
        let c = config(&[
            ("FLOWFORGE_DATA_TRANSFORM_ADDR", "127.0.0.1:9000"),
            ("FLOWFORGE_DATA_TRANSFORM_MAX_BODY_BYTES", "1024"),
            ("FLOWFORGE_DATA_TRANSFORM_REQUEST_TIMEOUT_SECONDS", "2.5"),
        ])
        .unwrap();
        assert_eq!(c.addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(c.limits.max_body_bytes, 1024);
        assert_eq!(c.limits.request_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let check = |var: &str, value: &str| {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var);
            assert!(err.to_string().contains(var), "{err}");
        };
        check("FLOWFORGE_DATA_TRANSFORM_ADDR", "localhost");
        check("FLOWFORGE_DATA_TRANSFORM_MAX_BODY_BYTES", "-5");
        check("FLOWFORGE_DATA_TRANSFORM_MAX_BODY_BYTES", "0");
        check("FLOWFORGE_DATA_TRANSFORM_REQUEST_TIMEOUT_SECONDS", "never");
        check("FLOWFORGE_DATA_TRANSFORM_REQUEST_TIMEOUT_SECONDS", "0");
    }
}
