//! FlowForge gateway on Cloudflare's Pingora: routes `/api/v1/<service>/*` to each service's pool
//! (weighted round robin over healthy instances, `/health` checked every second, one retry on
//! another instance for idempotent connect failures), answers every error of its own in the
//! services' envelope, carries `X-Request-Id`, answers CORS preflights and logs one JSON line per
//! request.
//!
//! `config` reads the declarative file; `routing` and `envelope` are pure; `pools` holds the load
//! balancers; `state` swaps config and pools atomically (reload, blue-green weights); `proxy` is
//! the one `ProxyHttp`; `admin` the token-protected admin API; `server` assembles and runs it.

pub mod admin;
mod background;
pub mod cli;
pub mod config;
pub mod envelope;
mod headers;
pub mod identity;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod pools;
pub mod proxy;
pub mod routing;
pub mod server;
pub mod state;
pub mod usage;

pub use config::GatewayConfig;
pub use server::{ChannelShutdown, GatewayServer};
