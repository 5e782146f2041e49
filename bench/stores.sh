#!/usr/bin/env bash
# bench/stores.sh — API requests per second of one Filegate node on the SQLite store and on
# the PostgreSQL store: wrk on GET /ftpaccounts/list (21 accounts) and GET /api/list/files
# (a folder of 100 files), the same node configuration otherwise.
#
# Needs: go, curl, python3, wrk, and a PostgreSQL server the script may create a database on.
# Env: FILEGATE_TEST_POSTGRES (postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable;
#      .ci/postgres.sh starts one), WRK_SECONDS (10), FILEGATE_BIN (skip the build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -f "$here/lib.sh" ]; then
  # shellcheck source-path=SCRIPTDIR source=lib.sh
  . "$here/lib.sh" # log, die, need, free_port, json_field, wrk_rps, bench_tmp (work, pids, cleanup)
else
  WRK_SECONDS=${WRK_SECONDS:-10}
  work="" pids=()
  log() { echo "bench: $*" >&2; }
  die() { log "$*"; exit 1; }
  need() { local t; for t in "$@"; do command -v "$t" >/dev/null || die "$t is not installed"; done; }
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
  wrk_rps() { wrk -t2 -c32 -d"${WRK_SECONDS}s" "$@" | awk '/Requests\/sec/ {printf "%.0f", $2}'; }
  cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "$work" ] && rm -rf "$work"
  }
  bench_tmp() {
    work=$(mktemp -d /tmp/filegate-bench.XXXXXX)
    trap cleanup EXIT
    trap 'exit 130' INT TERM
  }
fi
PG=${FILEGATE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable}
need go curl python3 wrk psql
bench_tmp
bin=${FILEGATE_BIN:-}
if [ -z "$bin" ]; then
  log "building filegate"
  (cd "$here/.." && go build -o "$work/filegate" ./cmd/filegate)
  bin=$work/filegate
fi
db="filegate_bench_$$"
psql -q "$PG" -c "CREATE DATABASE $db" || die "cannot create a database on $PG"
dropdb() { psql -q "$PG" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap 'cleanup; dropdb' EXIT # the servers first: they hold connections to the database
pg_dsn=$(python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/" + sys.argv[2])))' "$PG" "$db")

# run_store DRIVER: start a node on that store, seed it, print its two figures.
run_store() {
  local driver=$1 dir=$work/$1 port pid keys token store="" i
  port=$(free_port)
  mkdir -p "$dir/files/list100"
  [ "$driver" = postgres ] && store=$'[store]\ndriver = "postgres"\ndsn = "'"$pg_dsn"$'"\n'
  cat >"$dir/gateway.toml" <<TOML
data_dir = "data"
$store
[[storage]]
name = "default"
plugin = "local"
config = { root = "files" }
[http]
listen = "127.0.0.1:$port"
rate_limit = 0
[ftp]
listen = "off"
[sftp]
listen = "off"
TOML
  for i in $(seq -w 1 100); do head -c 1024 /dev/urandom >"$dir/files/list100/f$i.bin"; done
  keys=$("$bin" init --dir "$dir" --json)
  "$bin" serve --config "$dir/gateway.toml" 2>"$dir/serve.log" &
  pid=$!; pids+=("$pid")
  for i in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$dir/serve.log" >&2; die "filegate ($driver) did not start"; }
  token=$(curl -sf -X POST "http://127.0.0.1:$port/apiaccess/auth" \
    -d "{\"AssociationKey\":\"$(json_field "$keys" AssociationKey)\",\"AccessKey\":\"$(json_field "$keys" AccessKey)\",\"SecretKey\":\"$(json_field "$keys" SecretKey)\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  for i in $(seq -w 1 21); do
    curl -sf -o /dev/null -X POST -H "Authorization: Bearer $token" "http://127.0.0.1:$port/ftpaccounts/create" \
      -d "{\"Username\":\"user$i\",\"Password\":\"Bench-Password-$i\"}"
  done
  printf '%-9s GET /ftpaccounts/list (21 accounts)  %6s req/s\n' "$driver" \
    "$(wrk_rps -H "Authorization: Bearer $token" "http://127.0.0.1:$port/ftpaccounts/list")"
  printf '%-9s GET /api/list/files (100 files)      %6s req/s\n' "$driver" \
    "$(wrk_rps -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/list/files?path=/list100")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "# Filegate API on one node, wrk -t2 -c32 -d${WRK_SECONDS}s, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
run_store sqlite
run_store postgres
