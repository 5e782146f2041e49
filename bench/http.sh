#!/usr/bin/env bash
# bench/http.sh — Filegate's HTTP API next to nginx, on loopback, in one run.
#
# Measures (each the median of RUNS runs, targets alternating):
#   - download of a SIZE_MIB file with curl: Filegate /api/download/single vs nginx static (sendfile)
#   - upload of the same file with curl: Filegate multipart /api/upload vs nginx WebDAV PUT
#   - requests/s listing a 1,000-file folder with wrk: /api/list/files vs nginx JSON autoindex
#   - requests/s of POST /apiaccess/auth and GET /ftpaccounts/list (20 accounts) with wrk
#   - the gateway's peak RSS (VmHWM)
# and prints one line per figure: Filegate, reference, ratio.
#
# Needs: go, curl, nginx, wrk (Debian: apt-get install curl nginx wrk).
# Env: SIZE_MIB (default 1024), RUNS (3), WRK_SECONDS (10).
set -euo pipefail
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
WRK_SECONDS=${WRK_SECONDS:-10}
here=$(cd "$(dirname "$0")" && pwd)
for tool in curl nginx wrk; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "bench: $tool is not installed" >&2; exit 1; }
done
work=$(mktemp -d /tmp/filegate-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FG_PORT=$(port); NG_PORT=$(port)

echo "bench: building filegate" >&2
(cd "$here/.." && go build -o "$work/filegate" ./cmd/filegate)
mkdir -p "$work/fg"
cat > "$work/fg/gateway.toml" <<TOML
data_dir = "data"
[http]
listen = "127.0.0.1:$FG_PORT"
rate_limit = 0
[ftp]
listen = "off"
[sftp]
listen = "off"
TOML
keys=$("$work/filegate" init --dir "$work/fg" --json)
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$keys" "$1"; }
ASSOC=$(field AssociationKey); AK=$(field AccessKey); SK=$(field SecretKey)
"$work/filegate" serve --config "$work/fg/gateway.toml" 2>"$work/fg.log" &
FG_PID=$!; pids+=("$FG_PID")

storage="$work/fg/data/storage"
mkdir -p "$storage/list1000" "$work/nginx/dav" "$work/nginx/tmp"
echo "bench: writing a ${SIZE_MIB} MiB file and 1,000 small files" >&2
head -c $((SIZE_MIB << 20)) /dev/urandom > "$storage/big.bin"
for i in $(seq -w 1 1000); do head -c 4096 /dev/urandom > "$storage/list1000/f$i.bin"; done

nginx_user=""
[ "$(id -u)" = 0 ] && nginx_user="user root;" # the data directory is private to its owner
cat > "$work/nginx/nginx.conf" <<NGINX
$nginx_user
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$NG_PORT;
    root $storage;
    location /list1000/ { autoindex on; autoindex_format json; }
    location /dav/ { root $work/nginx; dav_methods PUT; client_max_body_size 0; create_full_put_path on; }
  }
}
NGINX
/usr/sbin/nginx -c "$work/nginx/nginx.conf" -g "daemon off;" &
pids+=($!)

for i in $(seq 100); do
  curl -sf "http://127.0.0.1:$FG_PORT/healthz" >/dev/null && curl -s -o /dev/null "http://127.0.0.1:$NG_PORT/" && break
  sleep 0.1
done
auth_body="{\"AssociationKey\":\"$ASSOC\",\"AccessKey\":\"$AK\",\"SecretKey\":\"$SK\"}"
TOKEN=$(curl -sf -X POST "http://127.0.0.1:$FG_PORT/apiaccess/auth" -d "$auth_body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mbps() { awk -v b="$1" 'BEGIN {printf "%.0f", b/1e6}'; }
line() { # name unit filegate reference
  awk -v n="$1" -v u="$2" -v f="$3" -v r="$4" 'BEGIN {printf "%-44s filegate %8.0f %-5s reference %8.0f %-5s ratio %.2f\n", n, f, u, r, u, (r > 0 ? f/r : 0)}'
}

fg_down=(); ng_down=(); fg_up=(); ng_up=()
for run in $(seq "$RUNS"); do
  fg_down+=("$(curl -sf -o /dev/null -w '%{speed_download}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FG_PORT/api/download/single?path=/big.bin")")
  ng_down+=("$(curl -sf -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$NG_PORT/big.bin")")
  fg_up+=("$(curl -sf -o /dev/null -w '%{speed_upload}' -H "Authorization: Bearer $TOKEN" -F 'meta={"overwrite":true}' -F "f=@$storage/big.bin;filename=up.bin" "http://127.0.0.1:$FG_PORT/api/upload")")
  ng_up+=("$(curl -sf -o /dev/null -w '%{speed_upload}' -T "$storage/big.bin" "http://127.0.0.1:$NG_PORT/dav/up.bin")")
done
line "HTTP download ${SIZE_MIB} MiB (curl)" "MB/s" "$(mbps "$(printf '%s\n' "${fg_down[@]}" | median)")" "$(mbps "$(printf '%s\n' "${ng_down[@]}" | median)")"
line "HTTP upload ${SIZE_MIB} MiB (curl; nginx WebDAV PUT)" "MB/s" "$(mbps "$(printf '%s\n' "${fg_up[@]}" | median)")" "$(mbps "$(printf '%s\n' "${ng_up[@]}" | median)")"

rps() { awk '/Requests\/sec/ {print $2}'; }
cat > "$work/auth.lua" <<LUA
wrk.method = "POST"
wrk.body = '$auth_body'
wrk.headers["Content-Type"] = "application/json"
LUA
for i in $(seq -w 1 20); do
  curl -sf -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FG_PORT/ftpaccounts/create" \
    -d "{\"Username\":\"user$i\",\"Password\":\"Bench-Password-$i\"}"
done
fg_list=(); ng_list=(); fg_auth=(); fg_accts=()
for run in $(seq "$RUNS"); do
  fg_list+=("$(wrk -t2 -c32 -d"${WRK_SECONDS}s" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FG_PORT/api/list/files?path=/list1000" | rps)")
  ng_list+=("$(wrk -t2 -c32 -d"${WRK_SECONDS}s" "http://127.0.0.1:$NG_PORT/list1000/" | rps)")
  fg_auth+=("$(wrk -t2 -c32 -d"${WRK_SECONDS}s" -s "$work/auth.lua" "http://127.0.0.1:$FG_PORT/apiaccess/auth" | rps)")
  fg_accts+=("$(wrk -t2 -c32 -d"${WRK_SECONDS}s" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FG_PORT/ftpaccounts/list" | rps)")
done
line "list 1,000-file folder (wrk -t2 -c32)" "req/s" "$(printf '%s\n' "${fg_list[@]}" | median)" "$(printf '%s\n' "${ng_list[@]}" | median)"
line "POST /apiaccess/auth (wrk -t2 -c32)" "req/s" "$(printf '%s\n' "${fg_auth[@]}" | median)" 0
line "GET /ftpaccounts/list, 20 accounts (wrk)" "req/s" "$(printf '%s\n' "${fg_accts[@]}" | median)" 0
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$FG_PID/status")
echo "gateway peak RSS over the whole run: $((hwm / 1024)) MiB"
