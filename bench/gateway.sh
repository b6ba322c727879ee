#!/usr/bin/env bash
# Proxy throughput and latency on loopback, in one run: wrk against (a) a fixed upstream directly,
# (b) nginx as a plain reverse proxy to it, (c) flowforge-gateway in front of it (no credentials:
# an unlimited anonymous tier), (d) the gateway with API-key auth and Redis rate limits (limits
# high enough never to trigger) for one consumer, (e) the same with requests spread over 200
# consumers (so a batch of limit checks touches many keys; compared with the bare gateway sent
# the same scripted requests), with Redis commands per request from INFO commandstats for (d)
# and (e), and the share of their limit checks that waited for a call to Redis (from the auth
# gateway's metrics); and pingora itself with a ProxyHttp that only names the upstream, the
# floor under (c).
# Then (c) and (d), and (e) and the scripted bare gateway, again in FLOWFORGE_BENCH_PAIRS short
# runs back to back (default 12 pairs of FLOWFORGE_BENCH_PAIR_SECONDS, default 2), the order
# swapped each pair: the auth cost as the median over pairs, which the host's drift moves far
# less than rounds of long runs.
# Bounded: DURATION seconds per target and round (default 10; FLOWFORGE_BENCH_ROUNDS rounds of
# nginx, the bare and the authenticated gateway, default 3), then the pairs. Goals: gateway RPS >=
# nginx RPS, p99 <= nginx p99; auth + limits cost <= 10% RPS and <= 0.3 ms p99 against (c).
# Usage: bench/gateway.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
connections="${FLOWFORGE_BENCH_CONNECTIONS:-32}"
cores="$(nproc)"
work="$(mktemp -d /tmp/flowforge-bench-gateway.XXXXXX)"
upstream_port=39201 nginx_port=39202 gateway_port=39203 auth_port=39204 pingora_port=39205 auth_admin_port=39206
eval "$(scripts/services.sh)"   # Redis for (d), started if none answers
redis_url="${FLOWFORGE_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
redis_port="${redis_url##*:}"
bench_key="ff_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
spread=200   # consumers for (e), each with its own key

source bench/lib.sh
install_missing wrk=wrk nginx=nginx

cargo build --release --locked -p flowforge-gateway --bin flowforge-gateway --example bench_upstream --example bench_pingora
target="${CARGO_TARGET_DIR:-target}/release"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$target/examples/bench_upstream" "127.0.0.1:$upstream_port" & pids+=($!)

nginx_proxy_conf "$cores" "$nginx_port" "$upstream_port" >"$work/nginx.conf"
nginx -c "$work/nginx.conf" -g 'daemon off;' & pids+=($!)
# pingora itself, with a ProxyHttp that only names the upstream: the floor under the gateway.
"$target/examples/bench_pingora" "127.0.0.1:$pingora_port" "127.0.0.1:$upstream_port" >"$work/pingora.log" 2>&1 & pids+=($!)

cat >"$work/gateway.yaml" <<YAML
gateway: { listen: "127.0.0.1:$gateway_port", anonymousTier: enterprise }
services:
  crypto: { upstreams: ["127.0.0.1:$upstream_port"] }
YAML
FLOWFORGE_CONFIG="$work/gateway.yaml" FLOWFORGE_LOG=error "$target/flowforge-gateway" >"$work/gateway.log" 2>&1 & pids+=($!)
gateway_pid=$!

auth_gateway_yaml "listen: \"127.0.0.1:$auth_port\", admin: \"127.0.0.1:$auth_admin_port\", adminToken: bench" \
  "$upstream_port" "$bench_key" "$redis_url" "flowforge-bench:" "$spread" >"$work/auth.yaml"
# wrk sends each request with the next consumer's key, round robin. Building requests in Lua
# costs wrk CPU on the cores it shares with the gateway, so the bare gateway is also measured
# with the same script sending the keys in a header it ignores: (e) is compared with that.
spread_script() {
  echo "local keys = {"
  for i in $(seq 1 "$spread"); do echo "  \"${bench_key}_$i\","; done
  echo "}"
  echo "local n = 0"
  echo "request = function() n = n + 1; return wrk.format(nil, nil, { [\"$1\"] = keys[n % #keys + 1] }) end"
}
spread_script x-api-key >"$work/spread.lua"
spread_script x-bench-key >"$work/spread-bare.lua"
FLOWFORGE_CONFIG="$work/auth.yaml" FLOWFORGE_LOG=error "$target/flowforge-gateway" >"$work/auth.log" 2>&1 & pids+=($!)
auth_pid=$!

for port in $upstream_port $nginx_port $gateway_port $pingora_port; do
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/api/v1/crypto/ping" 2>/dev/null && break; sleep 0.1; done
done
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$auth_port/health" 2>/dev/null | grep -q '"rateLimits":"healthy"' && break; sleep 0.1
done
curl -fsS -o /dev/null -H "x-api-key: $bench_key" "http://127.0.0.1:$auth_port/api/v1/crypto/ping"

# wrk's --latency report gives requests/sec and the 50%/99% lines.
# With QUIET=1: one connection, so a request never queues behind another and p99 is the tail of
# a request's own latency (at saturation p99 is mostly queueing, and moves with the neighbours).
measure() {
  local url="$1" out threads=2 open="$connections"
  shift
  if [[ ${QUIET:-0} == 1 ]]; then threads=1 open=1; fi
  out="$(wrk -t"$threads" -c"$open" -d"${SECONDS_EACH:-$duration}s" --latency "$@" "$url")"
  local rps p50 p99 total errors
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  total="$(awk '/requests in/ {print $1}' <<<"$out")"
  errors="$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')"
  echo "$rps $p50 $p99 $total ${errors:-none}"
}
# Sum of `calls=` over the commandstats lines matching $1 (a regex on the command name).
redis_calls() {
  redis-cli -p "$redis_port" INFO commandstats | tr -d '\r' |
    awk -F'[:=,]' -v pattern="$1" '$1 ~ "^cmdstat_(" pattern ")$" { sum += $3 } END { print sum + 0 }'
}
# Limit checks so far that waited for a call to Redis (the rest spent cells leased ahead): at
# saturation each one waits for redis-server to be scheduled on the shared cores, so they make
# the auth gateway's tail.
redis_waits() {
  curl -fsS -H "authorization: Bearer bench" "http://127.0.0.1:$auth_admin_port/metrics" |
    awk '$1 == "gateway_rate_limit_waits_total" { print $2 }'
}
# CPU time (clock ticks, user + system) a process has used so far.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

echo "machine: $cores cores; wrk -t2 -c$connections -d${duration}s per target (client on the same machine)"
# CPU time the hypervisor gave to other guests (steal), to tell a run disturbed by neighbours.
cpu_times() { awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9 }' /proc/stat; }
read -r all0 steal0 <<<"$(cpu_times)"
read -r up_rps up_p50 up_p99 _ up_err <<<"$(measure "http://127.0.0.1:$upstream_port/api/v1/crypto/ping")"
# nginx, the bare gateway and the two authenticated runs alternate, round after round: neighbours
# on a shared machine move throughput by tens of percent within a minute, so each comparison is
# taken from runs seconds apart, and the report gives the median round.
rounds="${FLOWFORGE_BENCH_ROUNDS:-3}"
parity=() costs=() quiet=() waits=0 spread_waits=0 trips=0 commands=0 requests=0 spread_trips=0 spread_all=0 spread_requests=0
redis_pid="$(redis-cli -p "$redis_port" INFO server | tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }')"
bare_ticks=0 bare_requests=0 auth_ticks=0 redis_ticks=0
for round in $(seq 1 "$rounds"); do
  read -r ng_rps ng_p50 ng_p99 _ ng_err <<<"$(measure "http://127.0.0.1:$nginx_port/api/v1/crypto/ping")"
  read -r pg_rps pg_p50 pg_p99 _ pg_err <<<"$(measure "http://127.0.0.1:$pingora_port/api/v1/crypto/ping")"
  g0="$(ticks "$gateway_pid")"
  read -r gw_rps gw_p50 gw_p99 gw_total gw_err <<<"$(measure "http://127.0.0.1:$gateway_port/api/v1/crypto/ping")"
  bare_ticks=$((bare_ticks + $(ticks "$gateway_pid") - g0)) bare_requests=$((bare_requests + gw_total))
  read -r bs_rps bs_p50 bs_p99 _ bs_err <<<"$(measure "http://127.0.0.1:$gateway_port/api/v1/crypto/ping" -s "$work/spread-bare.lua")"
  t0="$(redis_calls 'evalsha|eval')" c0="$(($(redis_calls '.*') - $(redis_calls 'info')))"
  w0="$(redis_waits)"
  a0="$(ticks "$auth_pid")" r0="$(ticks "$redis_pid")"
  read -r au_rps au_p50 au_p99 au_total au_err <<<"$(measure "http://127.0.0.1:$auth_port/api/v1/crypto/ping" -H "x-api-key: $bench_key")"
  auth_ticks=$((auth_ticks + $(ticks "$auth_pid") - a0)) redis_ticks=$((redis_ticks + $(ticks "$redis_pid") - r0))
  t1="$(redis_calls 'evalsha|eval')" c1="$(($(redis_calls '.*') - $(redis_calls 'info')))"
  w1="$(redis_waits)"
  read -r _ _ bq_p99 _ _ <<<"$(QUIET=1 measure "http://127.0.0.1:$gateway_port/api/v1/crypto/ping")"
  read -r _ _ aq_p99 _ _ <<<"$(QUIET=1 measure "http://127.0.0.1:$auth_port/api/v1/crypto/ping" -H "x-api-key: $bench_key")"
  quiet+=("$(awk -v b="$(to_ms "$bq_p99")" -v a="$(to_ms "$aq_p99")" 'BEGIN { printf "%.3f %.3f %.3f", a - b, b, a }')")
  w2="$(redis_waits)"
  read -r sp_rps sp_p50 sp_p99 sp_total sp_err <<<"$(measure "http://127.0.0.1:$auth_port/api/v1/crypto/ping" -s "$work/spread.lua")"
  w3="$(redis_waits)"
  t2="$(redis_calls 'evalsha|eval')" c2="$(($(redis_calls '.*') - $(redis_calls 'info')))"
  trips=$((trips + t1 - t0)) commands=$((commands + c1 - c0)) requests=$((requests + au_total))
  waits=$((waits + w1 - w0)) spread_waits=$((spread_waits + w3 - w2))
  spread_trips=$((spread_trips + t2 - t1)) spread_all=$((spread_all + c2 - c1)) spread_requests=$((spread_requests + sp_total))
  costs+=("$(awk -v g="$gw_rps" -v a="$au_rps" -v b="$bs_rps" -v s="$sp_rps" -v gp="$(to_ms "$gw_p99")" -v ap="$(to_ms "$au_p99")" -v bp="$(to_ms "$bs_p99")" -v sp="$(to_ms "$sp_p99")" \
    'BEGIN { printf "%.1f %.3f %.1f %.3f %.0f %.0f %.0f", (a / g - 1) * 100, ap - gp, (s / b - 1) * 100, sp - bp, g, a, s }')")
  parity+=("$(awk -v g="$gw_rps" -v n="$ng_rps" -v p="$pg_rps" -v gp="$(to_ms "$gw_p99")" -v np="$(to_ms "$ng_p99")" 'BEGIN { printf "%.2f %.2f %.2f", g / n, gp / np, p / n }')")
  echo "round $round: nginx $ng_rps (p99 $(to_ms "$ng_p99") ms), pingora alone $pg_rps (p99 $(to_ms "$pg_p99") ms), bare $gw_rps (p99 $(to_ms "$gw_p99") ms), bare scripted $bs_rps (p99 $(to_ms "$bs_p99") ms), one consumer $au_rps (p99 $(to_ms "$au_p99") ms; on one connection bare $(to_ms "$bq_p99") ms, auth $(to_ms "$aq_p99") ms), 200 consumers $sp_rps (p99 $(to_ms "$sp_p99") ms)  errors: $gw_err / $bs_err / $au_err / $sp_err"
done
# Paired short runs: a bare and an authenticated run back to back for PAIR_SECONDS each, the
# order swapped every pair, so drift on the host (tens of percent within a minute here, CPU time
# per request included) moves both sides of a pair alike; the cost is the median over the pairs.
# For one consumer against the bare gateway, and for 200 against the bare gateway sent the same
# scripted requests.
pairs="${FLOWFORGE_BENCH_PAIRS:-12}" pair_seconds="${FLOWFORGE_BENCH_PAIR_SECONDS:-2}"
bare_url="http://127.0.0.1:$gateway_port/api/v1/crypto/ping" auth_url="http://127.0.0.1:$auth_port/api/v1/crypto/ping"
bare_run() { SECONDS_EACH=$pair_seconds measure "$bare_url"; }
auth_run() { SECONDS_EACH=$pair_seconds measure "$auth_url" -H "x-api-key: $bench_key"; }
bare_scripted_run() { SECONDS_EACH=$pair_seconds measure "$bare_url" -s "$work/spread-bare.lua"; }
spread_run() { SECONDS_EACH=$pair_seconds measure "$auth_url" -s "$work/spread.lua"; }
# paired_costs BARE AUTH: per pair of runs of those two functions, the RPS cost (%) and the p99
# cost (ms) of AUTH against BARE, a line each.
paired_costs() {
  local pair b_rps b_p99 a_rps a_p99
  for pair in $(seq 1 "$pairs"); do
    if ((pair % 2)); then
      read -r b_rps _ b_p99 _ _ <<<"$("$1")"
      read -r a_rps _ a_p99 _ _ <<<"$("$2")"
    else
      read -r a_rps _ a_p99 _ _ <<<"$("$2")"
      read -r b_rps _ b_p99 _ _ <<<"$("$1")"
    fi
    awk -v b="$b_rps" -v a="$a_rps" -v bp="$(to_ms "$b_p99")" -v ap="$(to_ms "$a_p99")" 'BEGIN { printf "%.1f %.3f\n", (a / b - 1) * 100, ap - bp }'
  done
}
paired="$(paired_costs bare_run auth_run)"
spread_paired="$(paired_costs bare_scripted_run spread_run)"
# median COLUMN LINES: the median of that column of the pairs' lines, with the quartiles.
median() {
  awk -v c="$1" '{ print $c }' <<<"$2" | sort -g |
    awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; q = int((NR + 3) / 4)
      printf "%+.3g (quartiles %+.3g, %+.3g)", m, v[q], v[NR + 1 - q] }'
}

# The round whose one-consumer RPS cost is the median.
read -r cost cost_p99 spread_cost spread_p99 _ <<<"$(printf '%s\n' "${costs[@]}" | sort -g -k1,1 | sed -n "$(((rounds + 1) / 2))p")"

printf '%-18s %12s %10s %10s  %s\n' target "RPS" "p50 ms" "p99 ms" errors
printf '%-18s %12s %10s %10s  %s\n' "upstream direct" "$up_rps" "$(to_ms "$up_p50")" "$(to_ms "$up_p99")" "$up_err"
printf '%-18s %12s %10s %10s  %s\n' "nginx" "$ng_rps" "$(to_ms "$ng_p50")" "$(to_ms "$ng_p99")" "$ng_err"
printf '%-18s %12s %10s %10s  %s\n' "pingora alone" "$pg_rps" "$(to_ms "$pg_p50")" "$(to_ms "$pg_p99")" "$pg_err"
printf '%-18s %12s %10s %10s  %s\n' "flowforge-gateway" "$gw_rps" "$(to_ms "$gw_p50")" "$(to_ms "$gw_p99")" "$gw_err"
printf '%-18s %12s %10s %10s  %s\n' "  scripted" "$bs_rps" "$(to_ms "$bs_p50")" "$(to_ms "$bs_p99")" "$bs_err"
printf '%-18s %12s %10s %10s  %s\n' "gateway+auth+redis" "$au_rps" "$(to_ms "$au_p50")" "$(to_ms "$au_p99")" "$au_err"
printf '%-18s %12s %10s %10s  %s\n' "  $spread consumers" "$sp_rps" "$(to_ms "$sp_p50")" "$(to_ms "$sp_p99")" "$sp_err"
read -r ratio p99_ratio floor_ratio <<<"$(printf '%s\n' "${parity[@]}" | sort -g -k1,1 | sed -n "$(((rounds + 1) / 2))p")"
printf 'gateway/nginx, median of %d rounds: RPS ratio %.2f (goal >= 1.00), p99 ratio %.2f (goal <= 1.00); pingora alone/nginx in that round: %.2f\n' "$rounds" "$ratio" "$p99_ratio" "$floor_ratio"
printf 'auth+limits cost, median of %d rounds: RPS %+.1f%% (goal >= -10%%), p99 %+.3f ms (goal <= +0.3 ms)\n' "$rounds" "$cost" "$cost_p99"
printf 'auth+limits cost, %d paired runs of %d s (order swapped each pair), medians: RPS %s %%, p99 %s ms (goals >= -10 %%, <= +0.3 ms)\n' "$pairs" "$pair_seconds" "$(median 1 "$paired")" "$(median 2 "$paired")"
read -r quiet_cost quiet_bare quiet_auth <<<"$(printf '%s\n' "${quiet[@]}" | sort -g -k1,1 | sed -n "$(((rounds + 1) / 2))p")"
printf 'auth+limits cost on one connection (no queueing), median of %d rounds: p99 %+.3f ms (bare %.3f ms, auth %.3f ms)\n' "$rounds" "$quiet_cost" "$quiet_bare" "$quiet_auth"
printf 'auth+limits cost over %d consumers, same round, against the bare gateway sent the same scripted requests: RPS %+.1f%%, p99 %+.3f ms\n' "$spread" "$spread_cost" "$spread_p99"
printf 'auth+limits cost over %d consumers, %d paired runs of %d s against the bare gateway sent the same scripted requests, medians: RPS %s %%, p99 %s ms\n' "$spread" "$pairs" "$pair_seconds" "$(median 1 "$spread_paired")" "$(median 2 "$spread_paired")"
read -r all1 steal1 <<<"$(cpu_times)"
awk -v a=$((all1 - all0)) -v s=$((steal1 - steal0)) 'BEGIN { printf "steal (CPU time taken by other guests of this host) during the run: %.1f%%\n", s * 100 / a }'
# CPU per request is steadier than RPS on a shared machine: it does not depend on who else runs.
awk -v b="$bare_ticks" -v bn="$bare_requests" -v a="$auth_ticks" -v r="$redis_ticks" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "CPU per request: bare gateway %.1f us; with auth+limits %.1f us in the gateway + %.1f us in Redis (one consumer)\n", b * 1e6 / hz / bn, a * 1e6 / hz / n, r * 1e6 / hz / n }'
awk -v t="$trips" -v c="$commands" -v n="$requests" \
  'BEGIN { printf "Redis per request, one consumer: %.3f round trips (EVALSHA), %.2f commands counting those inside the script\n", t / n, c / n }'
awk -v t="$spread_trips" -v c="$spread_all" -v n="$spread_requests" \
  'BEGIN { printf "Redis per request, %d consumers: %.3f round trips, %.2f commands\n", '"$spread"', t / n, c / n }'
awk -v w="$waits" -v n="$requests" -v sw="$spread_waits" -v sn="$spread_requests" \
  'BEGIN { printf "limit checks that waited for Redis: %.3f%% (one consumer), %.3f%% (%d consumers)\n", w * 100 / n, sw * 100 / sn, '"$spread"' }'
