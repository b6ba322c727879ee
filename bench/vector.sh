#!/usr/bin/env bash
# The vector service's embedded engine (Qdrant edge) on 100k generated 384-d vectors, in one
# bounded run: upsert rate, index build time, search QPS with 2 threads, and recall@10 against an
# exact brute force computed in the same program. Goal: recall@10 >= 0.95 at >= 1,000 QPS.
# Then the same points with generated texts in a collection with a keyword (BM25) index: upsert
# rate, keyword and hybrid search QPS.
# Usage: bench/vector.sh [points] [queries]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p flowforge-vector --example bench
"${CARGO_TARGET_DIR:-target}/release/examples/bench" "${1:-100000}" "${2:-2000}"
