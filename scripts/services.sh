#!/usr/bin/env bash
# Makes sure a PostgreSQL and a Redis answer for the tests, and prints their URLs as shell exports:
#   eval "$(scripts/services.sh)"
# Uses the ones on 127.0.0.1:5432 / 127.0.0.1:6379 when they answer; otherwise starts throwaway
# servers from the Debian packages (data under ${FLOWFORGE_SERVICES_DIR:-/tmp/flowforge-services}).
# A service that cannot be had is an error: tests never skip silently.
set -euo pipefail

pg_port="${FLOWFORGE_TEST_PG_PORT:-5432}"
redis_port="${FLOWFORGE_TEST_REDIS_PORT:-6379}"
state_dir="${FLOWFORGE_SERVICES_DIR:-/tmp/flowforge-services}"
log() { echo "services: $*" >&2; }

postgres_answers() { pg_isready -q -h 127.0.0.1 -p "$pg_port" 2>/dev/null; }
redis_answers() { [[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" == "PONG" ]]; }

start_postgres() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [[ -n "$bin" ]] || { log "PostgreSQL is not installed; run scripts/install-deps.sh"; return 1; }
  local data="$state_dir/postgres"
  mkdir -p "$state_dir"
  local run_as=()
  if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres: "$state_dir" 2>/dev/null || true
    run_as=(runuser -u postgres --)
  fi
  if [[ ! -f "$data/PG_VERSION" ]]; then
    "${run_as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust >/dev/null
  fi
  "${run_as[@]}" "$bin/pg_ctl" -D "$data" -l "$state_dir/postgres.log" -w \
    -o "-h 127.0.0.1 -p $pg_port -k $state_dir" start >/dev/null
}

start_redis() {
  command -v redis-server >/dev/null || { log "Redis is not installed; run scripts/install-deps.sh"; return 1; }
  mkdir -p "$state_dir"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --dir "$state_dir" --logfile "$state_dir/redis.log" >/dev/null
}

wait_for() {
  local name="$1" check="$2"
  for _ in $(seq 1 50); do
    "$check" && return 0
    sleep 0.2
  done
  log "$name did not come up"
  return 1
}

if ! postgres_answers; then
  log "no PostgreSQL on 127.0.0.1:$pg_port; starting one"
  start_postgres
  wait_for PostgreSQL postgres_answers
fi
if ! redis_answers; then
  log "no Redis on 127.0.0.1:$redis_port; starting one"
  start_redis
  wait_for Redis redis_answers
fi

echo "export FLOWFORGE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/postgres"
echo "export FLOWFORGE_TEST_REDIS_URL=redis://127.0.0.1:$redis_port"
