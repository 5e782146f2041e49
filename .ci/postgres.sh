#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests on 127.0.0.1:$PGPORT (default 55432)
# and print the DSN the tests read from FILEGATE_TEST_POSTGRES. Reuses a server this
# script already started. Needs Debian's postgresql package.
set -euo pipefail
port=${PGPORT:-55432}
dsn="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
if pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; then echo "$dsn"; exit 0; fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
data=${PGDATA_DIR:-/tmp/filegate-ci-pg}
run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
rm -rf "$data"; mkdir -p "$data"
[ "$(id -u)" = 0 ] && chown postgres "$data"
run "'$bin/initdb' -D '$data' -U postgres --auth=trust -E UTF8 --no-sync >/dev/null"
run "'$bin/pg_ctl' -D '$data' -l '$data/log' -w -o \"-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300\" start >/dev/null"
echo "$dsn"
