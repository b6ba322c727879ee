#!/usr/bin/env bash
# Expression throughput at the math service, in one bounded run on loopback: wrk POSTs a typical
# arithmetic expression to /api/v1/math/evaluate for DURATION seconds (default 10) and prints
# RPS and p50/p99 latency. Goal: typical arithmetic well under 1 ms at the service.
# Usage: bench/math.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
port=39211
work="$(mktemp -d /tmp/flowforge-bench-math.XXXXXX)"

source bench/lib.sh
install_missing wrk=wrk
cargo build --release --locked -p flowforge-math --bin flowforge-math
target="${CARGO_TARGET_DIR:-target}/release"

FLOWFORGE_MATH_ADDR="127.0.0.1:$port" FLOWFORGE_LOG=error "$target/flowforge-math" >"$work/math.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break; sleep 0.1; done

body='{"expression":"price * (1 + vat) - discount + round(sqrt(qty) ^ 2, 2)","scope":{"price":120,"vat":0.2,"discount":15,"qty":7}}'
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA
curl -fsS "http://127.0.0.1:$port/api/v1/math/evaluate" -H 'content-type: application/json' -d "$body"; echo
out="$(wrk -t2 -c16 -d"${duration}s" --latency -s "$work/post.lua" "http://127.0.0.1:$port/api/v1/math/evaluate")"
echo "machine: $(nproc) cores; wrk -t2 -c16 -d${duration}s (client on the same machine)"
awk '/^Requests\/sec/ {print "RPS: " $2} $1=="50%" {print "p50: " $2} $1=="99%" {print "p99: " $2} /Non-2xx|Socket errors/ {print}' <<<"$out"
