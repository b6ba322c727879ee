#!/usr/bin/env bash
# sha256 and aes-256-gcm of a 1 MiB raw body: through the running crypto service vs in-process
# ring, in one run. Loopback only, bounded in time (about 15 s of measuring).
# Usage: bench/crypto.sh [seconds per case, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3}"
port="${FLOWFORGE_BENCH_PORT:-39101}"

cargo build --release -p flowforge-crypto --bin flowforge-crypto --example throughput
target="${CARGO_TARGET_DIR:-target}/release"

FLOWFORGE_CRYPTO_ADDR="127.0.0.1:${port}" FLOWFORGE_LOG=warn "${target}/flowforge-crypto" &
service=$!
trap 'kill "${service}" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:${port}/health" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "machine: $(nproc) cores, $(uname -m)"
"${target}/examples/throughput" "http://127.0.0.1:${port}" "${seconds}"
