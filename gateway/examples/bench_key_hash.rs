//! What the API key's SHA-256 costs on this CPU, for `bench/gateway-instructions.sh`: valgrind
//! hides the CPU's SHA extensions, so callgrind counts the software path, several times the
//! work. This times the path the gateway really takes.
//!
//! Usage: `bench_key_hash [hashes]` (default 2,000,000); prints nanoseconds per key hash.

use std::hint::black_box;
use std::time::Instant;

use flowforge_gateway::identity::keys::KeyHash;

fn main() {
    let hashes: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000_000);
    // A key of the issued length: `ff_bench_` and 32 characters.
    let key = "ff_bench_0123456789abcdefABCDEF0123456789";
    let started = Instant::now();
    for _ in 0..hashes {
        black_box(KeyHash::of(black_box(key)));
    }
    let nanos = started.elapsed().as_nanos() as f64 / f64::from(hashes.max(1));
    println!("{nanos:.1}");
}
