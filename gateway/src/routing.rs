//! Which service a request goes to: pure functions over the path, unit-tested on their own.

/// The public API prefix every service route lives under.
pub const API_PREFIX: &str = "/api/v1/";

/// The service path segment of `/api/v1/<segment>/…` (or `/api/v1/<segment>`), if the path is an API path.
pub fn service_segment(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(API_PREFIX)?;
    let segment = rest.split(['/', '?']).next()?;
    (!segment.is_empty()).then_some(segment)
}

/// What the gateway answers itself, on the proxy port, without authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalRoute {
    /// `GET /health`: the gateway and its pools.
    Health,
    /// `GET /openapi.json`: the merged document.
    OpenApi,
    /// `GET /docs`: the API reference page.
    Docs,
}

/// The gateway's own route for `path`, if it is one.
pub fn local_route(path: &str) -> Option<LocalRoute> {
    match path {
        "/health" => Some(LocalRoute::Health),
        "/openapi.json" => Some(LocalRoute::OpenApi),
        "/docs" | "/docs/" => Some(LocalRoute::Docs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_routes() {
        assert_eq!(local_route("/health"), Some(LocalRoute::Health));
        assert_eq!(local_route("/docs/"), Some(LocalRoute::Docs));
        assert_eq!(local_route("/openapi.json"), Some(LocalRoute::OpenApi));
        assert_eq!(local_route("/api/v1/crypto/health"), None);
    }

    #[test]
    fn segments() {
        let check = |path, expected| assert_eq!(service_segment(path), expected, "{path}");
        check("/api/v1/crypto/hash", Some("crypto"));
        check("/api/v1/data/convert", Some("data"));
        check("/api/v1/math", Some("math"));
        check("/api/v1/math?x=1", Some("math"));
        check("/api/v1/", None);
        check("/api/v1//hash", None);
        check("/api/v2/crypto/hash", None);
        check("/health", None);
        check("/api/v1crypto", None);
    }
}
