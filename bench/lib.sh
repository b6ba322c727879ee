# Shared by the benchmark scripts: `source bench/lib.sh` after setting `work` (a scratch dir).

# best_ms COMMAND…: the fastest of 5 runs in milliseconds, or FAILED (stderr in $work/last-error).
best_ms() {
  local best="" start end took
  for _ in 1 2 3 4 5; do
    start=$(date +%s%N)
    "$@" >/dev/null 2>"$work/last-error" || { echo FAILED; return; }
    end=$(date +%s%N)
    took=$(((end - start) / 1000000))
    if [[ -z $best || $took -lt $best ]]; then best=$took; fi
  done
  echo "$best"
}

# nginx_proxy_conf WORKERS LISTEN_PORT UPSTREAM_PORT: an nginx.conf (files under $work) that
# proxies everything to 127.0.0.1:UPSTREAM_PORT over kept-alive connections, as a plain reverse
# proxy is set up.
nginx_proxy_conf() {
  mkdir -p "$work/body" "$work/proxy" "$work/fcgi" "$work/uwsgi" "$work/scgi"
  cat <<NGINX
worker_processes $1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fcgi;
  uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  upstream bench { server 127.0.0.1:$3; keepalive 64; }
  server {
    listen 127.0.0.1:$2;
    location / { proxy_pass http://bench; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
}

# auth_gateway_yaml GATEWAY_FIELDS UPSTREAM_PORT KEY REDIS_URL KEY_PREFIX [SPREAD]: a gateway
# config with API-key auth and Redis limits far above any run: consumer `bench` holds KEY, and
# SPREAD more consumers bench-1… hold KEY_1…. GATEWAY_FIELDS go inside `gateway: { }`.
auth_gateway_yaml() {
  cat <<YAML
gateway: { $1 }
services:
  crypto: { upstreams: ["127.0.0.1:$2"] }
tiers:
  bench: { perMinute: 100000000, perDay: 1000000000 }
consumers:
  - { id: bench, tier: bench, keys: ["$3"] }
$(for i in $(seq 1 "${6:-0}"); do echo "  - { id: bench-$i, tier: bench, keys: [\"${3}_$i\"] }"; done)
redis: { url: "$4", keyPrefix: "$5" }
YAML
}

# install_missing COMMAND=PACKAGE…: installs from Debian the packages of the commands not found.
install_missing() {
  local need=() pair
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null || need+=("${pair#*=}")
  done
  ((${#need[@]})) || return 0
  echo "installing ${need[*]}" >&2
  local sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
}
