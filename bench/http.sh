#!/usr/bin/env bash
# bench/http.sh — the HTTP part of bench/run: Filegate's REST API next to nginx (static files
# with sendfile, WebDAV PUT, JSON autoindex), plus requests per second of POST
# /apiaccess/auth and GET /ftpaccounts/list (20 accounts). Each figure is the median of RUNS
# runs, targets alternating; see bench/README.md.
#
# Needs: go, curl, openssl, nginx, wrk.
# Env: SIZE_MIB (1024), RUNS (3), WRK_SECONDS (10), FILEGATE_BIN, FILEGATE_PPROF, RSS_MODE=sample.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup http
fig_accounts() {
  [ "$1" = fg ] || return 0
  fg_token
  VAL=$(wrk_rps -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FG_HTTP_PORT/ftpaccounts/list")
}
fg_token
for i in $(seq -w 1 20); do
  curl -sf -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FG_HTTP_PORT/ftpaccounts/create" \
    -d "{\"Username\":\"user$i\",\"Password\":\"Bench-Password-$i\"}"
done
figure "HTTP download ${SIZE_MIB} MiB (curl)" MB/s fig_http_down cpu
figure "HTTP upload ${SIZE_MIB} MiB (curl; nginx WebDAV PUT)" MB/s fig_http_up cpu
figure "list 1,000-file folder (wrk -t2 -c32; nginx JSON)" req/s fig_list
figure "POST /apiaccess/auth (wrk -t2 -c32)" req/s fig_auth
figure "GET /ftpaccounts/list, 21 accounts (wrk)" req/s fig_accounts
