//! The floor under the gateway's cost for `bench/gateway-instructions.sh`: pingora itself, with
//! the same server settings as `flowforge-gateway` and a `ProxyHttp` that only names the
//! upstream. What the gateway costs above this is its own work; what this costs above nginx is
//! pingora's.
//!
//! Usage: `bench_pingora <listen addr> <upstream addr>`

use async_trait::async_trait;
use pingora::prelude::{HttpPeer, ProxyHttp, Session};
use pingora::server::Server;
use pingora::server::configuration::ServerConf;

struct Forward {
    upstream: std::net::SocketAddr,
}

#[async_trait]
impl ProxyHttp for Forward {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut (),
    ) -> pingora::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next().and_then(|a| a.parse().ok()))
    else {
        eprintln!("usage: bench_pingora <listen addr> <upstream addr>");
        std::process::exit(2);
    };
    let conf = ServerConf {
        threads: std::thread::available_parallelism().map_or(2, usize::from),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = pingora::proxy::http_proxy_service(&server.configuration, Forward { upstream });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever();
}
