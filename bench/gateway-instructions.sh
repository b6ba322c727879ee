#!/usr/bin/env bash
# Work per proxied request, counted rather than timed: each proxy runs under valgrind's callgrind,
# which counts the instructions it executes (user space only, the same for the same binary and
# traffic whatever else the host runs), while wrk sends it a bounded run on loopback. Targets:
# nginx as a plain reverse proxy (one worker); pingora itself with a ProxyHttp that only names the
# upstream (examples/bench_pingora.rs: the floor under the gateway); the bare flowforge-gateway;
# and the gateway with API-key auth and Redis limits for one consumer (limits never reached). Complements
# bench/gateway.sh, whose RPS moves with the neighbours on a shared host.
# Caveats: `rep movsb` counts one instruction per byte, so large copies weigh more here than in
# cycles; kernel work (the loopback sockets, about half of a proxy's CPU here) is not counted.
# Usage: bench/gateway-instructions.sh [seconds]   (default 10 per target, under valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
work="$(mktemp -d /tmp/flowforge-bench-instructions.XXXXXX)"
upstream_port=39221 proxy_port=39222 admin_port=39223
eval "$(scripts/services.sh)"   # Redis for the authenticated gateway, started if none answers
redis_url="${FLOWFORGE_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
bench_key="ff_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

source bench/lib.sh
install_missing wrk=wrk nginx=nginx callgrind_control=valgrind

cargo build --release --locked -p flowforge-gateway --bin flowforge-gateway --example bench_upstream --example bench_pingora --example bench_key_hash
target="${CARGO_TARGET_DIR:-target}/release"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$target/examples/bench_upstream" "127.0.0.1:$upstream_port" & pids+=($!)
nginx_proxy_conf 1 "$proxy_port" "$upstream_port" >"$work/nginx.conf"
cat >"$work/bare.yaml" <<YAML
gateway: { listen: "127.0.0.1:$proxy_port", admin: "127.0.0.1:$admin_port", anonymousTier: enterprise }
services:
  crypto: { upstreams: ["127.0.0.1:$upstream_port"] }
YAML
auth_gateway_yaml "listen: \"127.0.0.1:$proxy_port\", admin: \"127.0.0.1:$admin_port\"" "$upstream_port" \
  "$bench_key" "$redis_url" "flowforge-bench-instructions:" >"$work/auth.yaml"

# count NAME CONFIG WRK_ARGS… -- COMMAND…: instructions per request of COMMAND (started under
# callgrind, with FLOWFORGE_CONFIG=CONFIG) over a wrk run, after a warm-up run whose counts are
# zeroed.
count() {
  local name="$1" config="$2" args=()
  shift 2
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  FLOWFORGE_CONFIG="$config" FLOWFORGE_LOG=error valgrind --tool=callgrind --callgrind-out-file="$work/$name.%p" "$@" >"$work/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local url="http://127.0.0.1:$proxy_port/api/v1/crypto/ping"
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "${args[@]}" "$url" 2>/dev/null && break; sleep 0.25; done
  wrk -t1 -c8 -d3s "${args[@]}" "$url" >/dev/null
  callgrind_control -z "$pid" >/dev/null
  local out requests
  out="$(wrk -t1 -c8 -d"${duration}s" "${args[@]}" "$url")"
  callgrind_control -d "$pid" >/dev/null
  requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  echo "$requests" >"$work/requests.$name"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  # The dump is the newest file of this target: its summary line is the instruction count.
  awk -v n="$requests" '/^summary:/ { printf "%.0f\n", $2 / n }' "$(ls -t "$work/$name".* | head -1)"
}

nginx_ir="$(count nginx "" -- nginx -c "$work/nginx.conf" -g 'daemon off; master_process off;')"
pingora_ir="$(count pingora "" -- "$target/examples/bench_pingora" "127.0.0.1:$proxy_port" "127.0.0.1:$upstream_port")"
bare_ir="$(count bare "$work/bare.yaml" -- "$target/flowforge-gateway")"
auth_ir="$(count auth "$work/auth.yaml" -H "x-api-key: $bench_key" -- "$target/flowforge-gateway")"
# The key's SHA-256 within that: software under valgrind, the CPU's SHA extensions natively.
sha_ir="$(callgrind_annotate --inclusive=yes --threshold=100 "$(ls -t "$work/auth".* | head -1)" |
  awk -v n="$(cat "$work/requests.auth")" '/ring::digest::digest / && !done { gsub(",", "", $1); printf "%.0f\n", $1 / n; done = 1 }')"
sha_ns="$("$target/examples/bench_key_hash")"

printf '%-26s %14s\n' target "instructions/request"
printf '%-26s %14s\n' "nginx (1 worker)" "$nginx_ir" "pingora, empty ProxyHttp" "$pingora_ir" \
  "flowforge-gateway" "$bare_ir" "gateway+auth+redis limits" "$auth_ir"
awk -v n="$nginx_ir" -v p="$pingora_ir" -v b="$bare_ir" -v a="$auth_ir" 'BEGIN {
  printf "gateway/nginx: %.2fx the instructions per request\n", b / n
  printf "pingora alone/nginx: %.2fx; the gateway adds %+d (%.0f%% of its total)\n", p / n, b - p, (b - p) / b * 100
  printf "auth+limits: %+.1f%% instructions per request in the gateway (%+d)\n", (a / b - 1) * 100, a - b
}'
echo "of which the key's SHA-256: ${sha_ir:-?} counted in software; natively (SHA extensions) ${sha_ns} ns a key"
