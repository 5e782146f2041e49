# shellcheck shell=bash
# bench/lib.sh — shared setup and measurement helpers for bench/run, bench/http.sh and
# bench/protocols.sh. Sourced, never run. Everything listens on 127.0.0.1 and lives in
# one temporary directory under /tmp; the EXIT trap stops every process started here
# and removes that directory.
#
# A script sources this file, calls bench_setup with the servers it needs, then calls
# `figure` once per figure. See bench/README.md.

SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
WRK_SECONDS=${WRK_SECONDS:-10}
SMALL_FILES=1000 # the 4 KiB files of the many-files and listing figures
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SIZE_BYTES=$((SIZE_MIB << 20))
CLK_TCK=$(getconf CLK_TCK)

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# ---- processes, temporary directory, cleanup ---------------------------------------------

work=""
pids=()
RSS_SAMPLER=""
cleanup() {
  local p
  if [ -n "$RSS_SAMPLER" ]; then kill "$RSS_SAMPLER" 2>/dev/null || true; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$work" ] && rm -rf "$work"
}
bench_tmp() {
  work=$(mktemp -d /tmp/filegate-bench.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

# free_port: a TCP port on 127.0.0.1 nothing listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# port_range N: "LOW HIGH", N consecutive ports starting at a random high port (passive FTP).
port_range() { local low=$((20000 + (RANDOM % 400) * 100)); echo "$low $((low + $1 - 1))"; }
# wait_port PORT: wait up to 10 s until something accepts connections on PORT.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
need() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || die "$t is not installed"; done
}

# ---- test data ---------------------------------------------------------------------------

# $work/local/big.bin (SIZE_MIB of random bytes) and $work/local/small/ (1,000 files of 4 KiB).
make_data() {
  mkdir -p "$work/local/small"
  log "writing a ${SIZE_MIB} MiB file and ${SMALL_FILES} files of 4 KiB"
  head -c "$SIZE_BYTES" /dev/urandom >"$work/local/big.bin"
  python3 -c 'import os, sys
for i in range(1, int(sys.argv[2]) + 1):
    with open(os.path.join(sys.argv[1], "f%04d.bin" % i), "wb") as f: f.write(os.urandom(4096))' "$work/local/small" "$SMALL_FILES"
  chmod -R a+rX "$work/local"
}
# seed DIR: hard-link the big file (as DIR/big.bin, for downloads) into a server's root.
seed() { mkdir -p "$1"; ln -f "$work/local/big.bin" "$1/big.bin" 2>/dev/null || cp "$work/local/big.bin" "$1/big.bin"; }
# seed_small DIR: the 1,000 small files as DIR (for listings).
seed_small() { mkdir -p "$1"; cp -al "$work/local/small/." "$1/" 2>/dev/null || cp -a "$work/local/small/." "$1/"; }

# ---- credentials shared by every server ----------------------------------------------------

make_credentials() {
  PW="bench-$(head -c 12 /dev/urandom | base64 | tr -dc a-zA-Z0-9)"
  ssh-keygen -q -t ed25519 -N "" -f "$work/id"
  # A self-signed certificate for FTPS, used by Filegate, vsftpd and SFTPGo alike.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
}

# ---- Filegate ----------------------------------------------------------------------------

# start_filegate: build (or take FILEGATE_BIN), init, serve HTTP, FTP(S) and SFTP, create
# the FTP/SFTP account "bench" (password $PW, key $work/id). FILEGATE_PPROF=ADDR adds --pprof.
start_filegate() {
  local fg_bin=${FILEGATE_BIN:-} keys range
  if [ -z "$fg_bin" ]; then
    log "building filegate"
    (cd "$BENCH_DIR/.." && go build -o "$work/filegate" ./cmd/filegate)
    fg_bin=$work/filegate
  fi
  FG_BIN=$fg_bin
  FG_HTTP_PORT=$(free_port); FG_FTP_PORT=$(free_port); FG_SFTP_PORT=$(free_port)
  range=$(port_range 100)
  mkdir -p "$work/fg"
  cat >"$work/fg/gateway.toml" <<TOML
data_dir = "data"
[http]
listen = "127.0.0.1:$FG_HTTP_PORT"
rate_limit = 0
[ftp]
listen = "127.0.0.1:$FG_FTP_PORT"
passive_ports = "${range% *}-${range#* }"
tls = "explicit"
cert = "$work/tls.crt"
key = "$work/tls.key"
[sftp]
listen = "127.0.0.1:$FG_SFTP_PORT"
TOML
  # FILEGATE_PASSWORD_CACHE=0s: every FTP login derives its argon2id hash; unset: the
  # default cache.
  if [ -n "${FILEGATE_PASSWORD_CACHE:-}" ]; then
    printf '[security]\npassword_cache = "%s"\n' "$FILEGATE_PASSWORD_CACHE" >>"$work/fg/gateway.toml"
  fi
  # FILEGATE_SYNC=none: the local backend's sync = "none" (no flush at commit, like vsftpd
  # and nginx); unset: its durable default. FILEGATE_DIRECT=false: its direct = false
  # (durable uploads through the page cache); unset: O_DIRECT.
  if [ -n "${FILEGATE_SYNC:-}${FILEGATE_DIRECT:-}" ]; then
    cat >>"$work/fg/gateway.toml" <<TOML
[[storage]]
name = "default"
plugin = "local"
config = { root = "$work/fg/data/storage", sync = "${FILEGATE_SYNC:-commit}", direct = ${FILEGATE_DIRECT:-true} }
TOML
  fi
  keys=$("$fg_bin" init --dir "$work/fg" --json)
  FG_ASSOC=$(json_field "$keys" AssociationKey); FG_AK=$(json_field "$keys" AccessKey); FG_SK=$(json_field "$keys" SecretKey)
  FG_STORAGE=$work/fg/data/storage
  local pprof=()
  [ -n "${FILEGATE_PPROF:-}" ] && pprof=(--pprof "$FILEGATE_PPROF")
  "$fg_bin" serve --config "$work/fg/gateway.toml" "${pprof[@]}" 2>"$work/fg.log" &
  FG_PID=$!; pids+=("$FG_PID")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$FG_HTTP_PORT/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$FG_HTTP_PORT/healthz" >/dev/null || { cat "$work/fg.log" >&2; die "filegate did not start"; }
  FG_AUTH_BODY="{\"AssociationKey\":\"$FG_ASSOC\",\"AccessKey\":\"$FG_AK\",\"SecretKey\":\"$FG_SK\"}"
  fg_token
  curl -sf -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FG_HTTP_PORT/ftpaccounts/create" \
    -d "{\"Username\":\"bench\",\"Password\":\"$PW\",\"AccessRights\":\"RW\",\"SSHPublicKeys\":[\"$(cat "$work/id.pub")\"]}" ||
    die "could not create the FTP account"
  mkdir -p "$FG_STORAGE"
}
json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
# fg_token: a fresh bearer token in TOKEN (they live 15 minutes; a full run is longer).
fg_token() {
  TOKEN=$(curl -sf -X POST "http://127.0.0.1:$FG_HTTP_PORT/apiaccess/auth" -d "$FG_AUTH_BODY" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}

# ---- OpenSSH sshd + sftp-server ------------------------------------------------------------

start_sshd() {
  need sftp ssh-keygen sshd
  local f sftp_server=""
  for f in /usr/lib/openssh/sftp-server /usr/libexec/sftp-server /usr/libexec/openssh/sftp-server; do
    [ -x "$f" ] && { sftp_server=$f; break; }
  done
  [ -n "$sftp_server" ] || die "sftp-server is not installed"
  SSHD_PORT=$(free_port)
  SSHD_ROOT=$work/ref
  mkdir -p /run/sshd "$SSHD_ROOT"
  ssh-keygen -q -t ed25519 -N "" -f "$work/sshd_host_key"
  cp "$work/id.pub" "$work/authorized_keys"
  cat >"$work/sshd_config" <<SSHD
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $work/sshd_host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem sftp $sftp_server
SSHD
  /usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
  SSHD_PID=$!; pids+=("$SSHD_PID")
  wait_port "$SSHD_PORT" || { cat "$work/sshd.log" >&2; die "sshd did not start"; }
}

# ---- vsftpd (anonymous, writable pub/, explicit TLS) ----------------------------------------

start_vsftpd() {
  need vsftpd
  VS_PORT=$(free_port)
  VS_ROOT=$work/vs/pub
  mkdir -p "$VS_ROOT" "$work/empty"
  chmod 777 "$VS_ROOT"
  local range; range=$(port_range 100)
  cat >"$work/vsftpd.conf" <<VSFTPD
listen=YES
listen_address=127.0.0.1
listen_port=$VS_PORT
background=NO
run_as_launching_user=YES
seccomp_sandbox=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$work/vs
write_enable=YES
anon_upload_enable=YES
anon_other_write_enable=YES
anon_umask=022
secure_chroot_dir=$work/empty
pasv_min_port=${range% *}
pasv_max_port=${range#* }
xferlog_enable=NO
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=NO
force_anon_data_ssl=NO
rsa_cert_file=$work/tls.crt
rsa_private_key_file=$work/tls.key
ssl_ciphers=HIGH
require_ssl_reuse=NO
VSFTPD
  /usr/sbin/vsftpd "$work/vsftpd.conf" 2>"$work/vsftpd.log" &
  VS_PID=$!; pids+=("$VS_PID")
  wait_port "$VS_PORT" || { cat "$work/vsftpd.log" >&2; die "vsftpd did not start"; }
}

# ---- nginx (static files with sendfile, JSON autoindex, WebDAV PUT) --------------------------

start_nginx() {
  need nginx
  NG_PORT=$(free_port)
  NG_ROOT=$work/nginx/www
  mkdir -p "$NG_ROOT/dav" "$work/nginx/tmp"
  local user=""
  [ "$(id -u)" = 0 ] && user="user root;" # the temporary directory is private to its owner
  cat >"$work/nginx/nginx.conf" <<NGINX
$user
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
    root $NG_ROOT;
    location /list1000/ { autoindex on; autoindex_format json; }
    location /dav/ { dav_methods PUT DELETE; client_max_body_size 0; create_full_put_path on; }
  }
}
NGINX
  /usr/sbin/nginx -c "$work/nginx/nginx.conf" -g "daemon off;" 2>"$work/nginx.log" &
  NG_PID=$!; pids+=("$NG_PID")
  wait_port "$NG_PORT" || { cat "$work/nginx.log" >&2; die "nginx did not start"; }
}

# ---- SFTPGo (optional: SFTPGO_BIN; never built or downloaded here) ---------------------------

SG_ON=""
SG_SFTP_PORT=""; SG_FTP_PORT=""; SG_FTPS=""; SG_DAV_PORT=""
# start_sftpgo [webdav]: portable mode over $work/sg, user bench/$PW with key $work/id; the
# flags are taken from its --help at run time; listening addresses and passive ports come
# from SFTPGO_* environment overrides of its configuration.
start_sftpgo() {
  if [ -z "${SFTPGO_BIN:-}" ]; then log "SFTPGo: skipped (set SFTPGO_BIN)"; return 0; fi
  [ -x "$SFTPGO_BIN" ] || die "SFTPGO_BIN=$SFTPGO_BIN is not executable"
  local help range
  help=$("$SFTPGO_BIN" portable --help 2>&1) || true
  has() { grep -q -e "$1[ =,]" <<<"$help"; }
  if ! has --directory || ! has --sftpd-port; then die "SFTPGo: its portable --help lacks --directory/--sftpd-port"; fi
  SG_ROOT=$work/sg
  mkdir -p "$SG_ROOT" "$work/sgconf"
  SG_SFTP_PORT=$(free_port)
  local args=(portable --directory "$SG_ROOT" --sftpd-port "$SG_SFTP_PORT" --username bench --password "$PW")
  has --permissions && args+=(--permissions '*')
  has --public-key && args+=(--public-key "$(cat "$work/id.pub")")
  if has --ftpd-port; then
    SG_FTP_PORT=$(free_port); args+=(--ftpd-port "$SG_FTP_PORT")
    if has --ftpd-cert && has --ftpd-key; then args+=(--ftpd-cert "$work/tls.crt" --ftpd-key "$work/tls.key"); SG_FTPS=1; fi
  fi
  if [ "${1:-}" = webdav ] && has --webdav-port; then SG_DAV_PORT=$(free_port); args+=(--webdav-port "$SG_DAV_PORT"); fi
  has --log-file-path && args+=(--log-file-path "$work/sgconf/sftpgo.log")
  range=$(port_range 100)
  (
    cd "$work/sgconf" || exit 1 # portable mode keeps its host keys in the configuration directory, "."
    export SFTPGO_SFTPD__BINDINGS__0__ADDRESS=127.0.0.1 SFTPGO_FTPD__BINDINGS__0__ADDRESS=127.0.0.1 \
      SFTPGO_WEBDAVD__BINDINGS__0__ADDRESS=127.0.0.1 SFTPGO_HTTPD__BINDINGS__0__ADDRESS=127.0.0.1 \
      SFTPGO_TELEMETRY__BIND_ADDRESS=127.0.0.1 SFTPGO_TELEMETRY__BIND_PORT=0 \
      SFTPGO_FTPD__PASSIVE_PORT_RANGE__START="${range% *}" SFTPGO_FTPD__PASSIVE_PORT_RANGE__END="${range#* }" \
      SFTPGO_COMMON__MAX_PER_HOST_CONNECTIONS=0 # its default, 20, refuses wrk's 32 connections
    exec "$SFTPGO_BIN" "${args[@]}"
  ) >"$work/sftpgo.out" 2>&1 &
  SG_PID=$!; pids+=("$SG_PID")
  if ! wait_port "$SG_SFTP_PORT" || { [ -n "$SG_FTP_PORT" ] && ! wait_port "$SG_FTP_PORT"; } ||
    { [ -n "$SG_DAV_PORT" ] && ! wait_port "$SG_DAV_PORT"; }; then
    cat "$work/sftpgo.out" >&2
    die "SFTPGo did not start"
  fi
  SG_ON=1
  onoff() { if [ -n "$1" ]; then echo on; else echo off; fi; }
  log "SFTPGo: $("$SFTPGO_BIN" --version 2>/dev/null | head -1) (portable; FTP $(onoff "$SG_FTP_PORT"), FTPS $(onoff "$SG_FTPS"), WebDAV $(onoff "$SG_DAV_PORT"))"
}

# start_sftpgo_api: a second SFTPGo, "serve" mode with only its REST API (portable mode
# turns the REST API off), for the listing and token figures: in-memory users, an admin
# created at start, user bench (home $SG_ROOT) created through the API. "serve" needs
# SFTPGo's templates folder (SFTPGO_TEMPLATES, else templates/ beside the binary or in
# /usr/share/sftpgo); without one these figures have no SFTPGo column.
SGA_PORT=""
start_sftpgo_api() {
  [ -n "$SG_ON" ] || return 0
  local tpl="${SFTPGO_TEMPLATES:-}" d
  if [ -z "$tpl" ]; then
    for d in "$(dirname "$SFTPGO_BIN")/templates" /usr/share/sftpgo/templates; do
      [ -d "$d" ] && { tpl=$d; break; }
    done
  fi
  if [ -z "$tpl" ] || [ ! -d "$tpl" ]; then
    log "SFTPGo: REST API figures skipped (no templates folder; set SFTPGO_TEMPLATES)"; return 0
  fi
  mkdir -p "$work/sgapi"
  ln -sfn "$(cd "$tpl" && pwd)" "$work/sgapi/templates"
  local port; port=$(free_port)
  (
    cd "$work/sgapi" || exit 1
    export SFTPGO_DATA_PROVIDER__DRIVER=memory SFTPGO_DATA_PROVIDER__CREATE_DEFAULT_ADMIN=true \
      SFTPGO_DEFAULT_ADMIN_USERNAME=admin SFTPGO_DEFAULT_ADMIN_PASSWORD="$PW" \
      SFTPGO_HTTPD__BINDINGS__0__ADDRESS=127.0.0.1 SFTPGO_HTTPD__BINDINGS__0__PORT="$port" \
      SFTPGO_HTTPD__BINDINGS__0__ENABLE_WEB_ADMIN=false SFTPGO_HTTPD__BINDINGS__0__ENABLE_WEB_CLIENT=false \
      SFTPGO_SFTPD__BINDINGS__0__PORT=0 SFTPGO_TELEMETRY__BIND_PORT=0 SFTPGO_COMMON__MAX_PER_HOST_CONNECTIONS=0
    exec "$SFTPGO_BIN" serve -c . --log-file-path "$work/sgapi/sftpgo.log"
  ) >"$work/sgapi.out" 2>&1 &
  pids+=("$!")
  wait_port "$port" || { cat "$work/sgapi.out" >&2; die "SFTPGo (serve) did not start"; }
  local admin user
  admin=$(curl -sSf -u "admin:$PW" "http://127.0.0.1:$port/api/v2/token") || die "SFTPGo: no admin token"
  user=$(printf '{"status":1,"username":"bench","password":"%s","home_dir":"%s","permissions":{"/":["*"]}}' "$PW" "$SG_ROOT")
  curl -sSf -o /dev/null -H "Authorization: Bearer $(json_field "$admin" access_token)" \
    -H 'Content-Type: application/json' -d "$user" "http://127.0.0.1:$port/api/v2/users" ||
    die "SFTPGo: creating user bench through its REST API failed"
  SGA_PORT=$port
  log "SFTPGo: REST API (serve mode) on for the listing and token figures"
}
# sg_token: a fresh SFTPGo user token (they expire) in SG_TOKEN.
sg_token() { SG_TOKEN=$(json_field "$(curl -sSf -u "bench:$PW" "http://127.0.0.1:$SGA_PORT/api/v2/user/token")" access_token); }

# ---- peak RSS of the gateway per figure ------------------------------------------------------

# RSS_MODE: "clear_refs" (reset VmHWM by writing 5 to /proc/PID/clear_refs, read VmHWM after
# the figure) when the kernel allows it, else "sample" (VmRSS every 100 ms, the maximum).
# Set RSS_MODE=sample to force sampling.
rss_detect() {
  if [ "${RSS_MODE:-}" != sample ] && { echo 5 >"/proc/$FG_PID/clear_refs"; } 2>/dev/null &&
    grep -q VmHWM "/proc/$FG_PID/status"; then
    RSS_MODE=clear_refs
  else
    RSS_MODE=sample
  fi
  log "peak RSS per figure: $RSS_MODE"
}
rss_start() {
  if [ "$RSS_MODE" = clear_refs ]; then
    echo 5 >"/proc/$FG_PID/clear_refs"
  else
    : >"$work/rss.samples"
    while :; do awk '/^VmRSS/ {print $2}' "/proc/$FG_PID/status" 2>/dev/null; sleep 0.1; done >>"$work/rss.samples" &
    RSS_SAMPLER=$!
  fi
}
rss_stop() { # prints "N MiB"
  local kb
  if [ "$RSS_MODE" = clear_refs ]; then
    kb=$(awk '/^VmHWM/ {print $2}' "/proc/$FG_PID/status")
  else
    kill "$RSS_SAMPLER" 2>/dev/null || true
    wait "$RSS_SAMPLER" 2>/dev/null || true
    RSS_SAMPLER=""
    awk '/^VmRSS/ {print $2}' "/proc/$FG_PID/status" >>"$work/rss.samples"
    kb=$(sort -n "$work/rss.samples" | tail -1)
  fi
  awk -v k="$kb" 'BEGIN {printf "%.0f MiB", k/1024}'
}

# ---- server CPU and in-session timing marks ---------------------------------------------------

# $work/ticks TARGET: the CPU clock ticks the target's server has used so far. Filegate and
# SFTPGo: utime+stime of the process. A reference server (REF_PID: sshd, vsftpd or nginx,
# each forking a process per connection or worker): the listener and every live process
# under it (the session's sshd processes and sftp-server, vsftpd's session processes,
# nginx's workers), each utime+stime+cutime+cstime: a process is either alive (counted
# itself) or reaped (counted in its parent's cutime/cstime), never both.
# $work/mark TARGET start|end: run by the sftp client (a "!" line of the batch) right before
# and right after a transfer; appends "SECONDS TICKS" to $work/marks, so the handshake and
# login before the first mark stay out of both figures.
write_mark() {
  cat >"$work/ticks" <<TICKS
#!/usr/bin/env bash
case \$1 in
  fg) sed 's/.*) //' /proc/$FG_PID/stat | awk '{print \$12 + \$13}' ;;
  sg) sed 's/.*) //' /proc/${SG_PID:-0}/stat | awk '{print \$12 + \$13}' ;;
  ref) cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="\${REF_PID:-0}" '
    { pid = \$1; sub(/.*\) /, ""); ppid[pid] = \$2; t[pid] = \$12 + \$13 + \$14 + \$15 }
    END { for (p in t) { q = p; while (q != "" && q != root && q + 0 > 1) q = ppid[q]; if (q == root) s += t[p] }; print s + 0 }' ;;
esac
TICKS
  cat >"$work/mark" <<MARK
#!/usr/bin/env bash
t0=\$EPOCHREALTIME
ticks=\$(REF_PID=${SSHD_PID:-0} "$work/ticks" "\$1")
if [ "\$2" = start ]; then echo "\$EPOCHREALTIME \$ticks"; else echo "\$t0 \$ticks"; fi >>"$work/marks"
MARK
  chmod +x "$work/ticks" "$work/mark"
}
# ticked REF_PID TARGET COMMAND...: run COMMAND with stdout in VAL and the target server's
# CPU ticks during it in TICKS (REF_PID: the reference server's listener).
ticked() {
  local ref=$1 t=$2 before; shift 2
  before=$(REF_PID=$ref "$work/ticks" "$t")
  VAL=$("$@")
  TICKS=$(($(REF_PID=$ref "$work/ticks" "$t") - before))
}

# ---- figures -----------------------------------------------------------------------------

median() { sort -g | awk 'NF {a[++n]=$1} END {if (n) print a[int((n+1)/2)]; else print "-"}'; }
# CURL_W: curl's bytes moved, total time and time before the transfer; mb turns that into
# MB/s of the transfer itself (login, TLS handshake and request setup excluded).
CURL_W='%{size_upload} %{size_download} %{time_total} %{time_pretransfer}'
mb() { awk '{printf "%.0f", ($1 + $2) / ($3 - $4) / 1e6}' <<<"$1"; }
now() { date +%s.%N; }

# create_cost DIR: microseconds (wall) per file for creating 200 empty files in a new
# folder under DIR, the way a "put -r" creates its files. The probe files stay: removing
# them would slow the next creations (below).
#
# On this VM (ext4 without a journal, kernel 6.18) creating a file right after many were
# removed costs 0.5-1.1 ms of system time instead of 20-100 us, for minutes: after 20,000
# files were removed, 0.9-1.1 ms at 15-106 s (bench/README.md). The previous bench run's
# cleanup removes thousands, and both servers create one inode per file, so this adds
# to both sides and moves the small-file figures between runs; the line shows how much.
create_cost() {
  python3 - "$1" <<'PY'
import os, sys, tempfile, time
d = tempfile.mkdtemp(prefix=".create-probe.", dir=sys.argv[1])
t = time.perf_counter()
for i in range(200):
    os.close(os.open(os.path.join(d, str(i)), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
print(round((time.perf_counter() - t) / 200 * 1e6))
PY
}
# create_cost_line: a comment line with create_cost of each SFTP server's root, printed
# by figure right before each small-file figure (fig_*_many_before).
create_cost_line() {
  local line="# creating a file (us, see create_cost in lib.sh): Filegate $(create_cost "$FG_STORAGE")"
  [ -n "${SSHD_ROOT:-}" ] && line+=", OpenSSH $(create_cost "$SSHD_ROOT")"
  [ -n "$SG_ON" ] && line+=", SFTPGo $(create_cost "$SG_ROOT")"
  echo "$line"
}

LINE_WIDTH=54
# line NAME UNIT FILEGATE REFERENCE SFTPGO RSS
line() {
  awk -v n="$1" -v u="$2" -v f="$3" -v r="$4" -v s="$5" -v m="$6" -v sg="$SG_ON" -v w="$LINE_WIDTH" 'BEGIN {
    ratio = (f != "-" && r != "-" && r + 0 > 0) ? sprintf("%.2f", f / r) : "-"
    printf "%-" w "s filegate %7s %-5s reference %7s %-5s ratio %5s", n, f, u, r, u, ratio
    if (sg) printf "  sftpgo %7s %-5s", s, u
    printf "  peak RSS %s\n", m
  }'
}

# figure NAME UNIT FN [cpu]
# Runs "FN TARGET RUN" RUNS times for each TARGET of fg (Filegate), ref (the reference
# server) and sg (SFTPGo, when started), rotating which target goes first each run. FN
# stores its value in VAL (and, for "cpu" figures, the server's CPU clock ticks in TICKS),
# or leaves VAL empty when the target has no such figure. Prints the medians on one line
# with Filegate's peak RSS during the figure; with "cpu", a second line with each server's
# CPU seconds per GiB moved.
# An upload FN also names the file it stored in UP_FILE: the figure then fsyncs it right
# after each run, outside the upload's timing, and prints a third line, "durable": the
# MB/s of the upload and that fsync together, what the reference servers take to make
# an upload as safe as Filegate's (which flushes before it commits; see README.md).
# FIGURES=REGEX (extended, matched against NAME) runs only the figures it matches.
selected() { [ -z "${FIGURES:-}" ] || grep -Eq -- "$FIGURES" <<<"$1"; } # NAME: does FIGURES pick it?
figure() {
  local name=$1 unit=$2 fn=$3 cpu=${4:-} run t k
  selected "$name" || return 0
  if declare -F "${fn}_before" >/dev/null; then "${fn}_before"; fi # a comment line of its own
  local -A vals=([fg]="" [ref]="" [sg]="") cpus=([fg]="" [ref]="" [sg]="") durs=([fg]="" [ref]="" [sg]="")
  local targets=(fg ref)
  [ -n "$SG_ON" ] && targets+=(sg)
  rss_start
  for run in $(seq "$RUNS"); do
    for k in $(seq 0 $((${#targets[@]} - 1))); do
      t=${targets[$(((k + run - 1) % ${#targets[@]}))]}
      VAL=""; TICKS=""; UP_FILE=""
      sync # no run inherits another's dirty pages: their write-back would land in its timing
      "$fn" "$t" "$run"
      [ -n "$VAL" ] || continue
      vals[$t]+="$VAL"$'\n'
      [ -n "$UP_FILE" ] && durs[$t]+="$(durable_mb "$VAL" "$UP_FILE")"$'\n'
      [ -n "$TICKS" ] && cpus[$t]+="$(awk -v d="$TICKS" -v hz="$CLK_TCK" -v n="$SIZE_BYTES" \
        'BEGIN {printf "%.2f", d / hz / (n / 2^30)}')"$'\n'
    done
  done
  local rss; rss=$(rss_stop)
  line "$name" "$unit" "$(median <<<"${vals[fg]}")" "$(median <<<"${vals[ref]}")" "$(median <<<"${vals[sg]}")" "$rss"
  if [ -n "$cpu" ]; then
    line "  server CPU per GiB (lower is better)" "s" "$(median <<<"${cpus[fg]}")" "$(median <<<"${cpus[ref]}")" "$(median <<<"${cpus[sg]}")" "$rss"
  fi
  if [ -n "${durs[fg]}${durs[ref]}" ]; then
    line "  durable: the upload, then fsync of the file" "$unit" "$(median <<<"${durs[fg]}")" "$(median <<<"${durs[ref]}")" "$(median <<<"${durs[sg]}")" "$rss"
  fi
}

# durable_mb MBPS FILE: the MB/s of an upload of SIZE_BYTES at MBPS followed by an fsync
# of FILE, the file it stored ("-" when FILE is not there).
durable_mb() {
  local secs
  secs=$(python3 -c 'import os, sys, time
t = time.perf_counter(); fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.close(fd)
print(time.perf_counter() - t)' "$2" 2>/dev/null) || { echo "-"; return; }
  awk -v v="$1" -v n="$SIZE_BYTES" -v s="$secs" 'BEGIN {printf "%.0f", n / (n / (v * 1e6) + s) / 1e6}'
}

# stored TARGET DIR-OF-REFERENCE: the path of up.bin as TARGET stored it (Filegate and
# SFTPGo: found under their storage; the reference: in its DIR).
stored() {
  case $1 in
    fg) find "$FG_STORAGE" -name up.bin -print -quit ;;
    ref) echo "$2/up.bin" ;;
    sg) find "$SG_ROOT" -name up.bin -print -quit ;;
  esac
}

# Uploads start clean: every upload figure first removes the previous up.bin on the server it
# measures, through that server's own protocol and outside the timing, so that each
# server writes into memory the kernel has just freed. On this VM (a balloon device
# with free page reporting) that matters more than anything the servers do: 1 GiB
# written into pages freed just before takes 0.3-0.5 s of system time with dd, into
# pages freed 10 s before (handed back to the host) 2.7-3.0 s. sftp-server truncates
# (and vsftpd's runs deleted) the old file right before writing, while an atomic upload
# frees it only when it commits, so without this step the suite measured that, not
# the servers.

# ---- SFTP figures ------------------------------------------------------------------------

SFTP_CIPHER=() # empty: the client's default; or (-c aes128-gcm@openssh.com)
sftp_target() { # TARGET -> PORT USER ROOT (ROOT: prefix for remote paths)
  case $1 in
    fg) echo "$FG_SFTP_PORT bench " ;;
    ref) echo "$SSHD_PORT $(id -un) $SSHD_ROOT" ;;
    sg) [ -n "$SG_SFTP_PORT" ] && echo "$SG_SFTP_PORT bench " ;;
  esac
}
sftp_batch() { # PORT USER BATCH-COMMANDS (a failed "-rm" of a missing file is not reported)
  local rc=0 err; err=$(mktemp "$work/sftp-err.XXXXXX") # parallel calls (objects.sh) each have one
  printf '%s\n' "$3" | sftp -F /dev/null -q -b - -i "$work/id" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "${SFTP_CIPHER[@]}" -P "$1" "$2@127.0.0.1" \
    >/dev/null 2>"$err" || rc=$?
  grep -v '^remote delete .*: No such file' "$err" >&2 || true
  rm -f "$err"
  return "$rc"
}
default_cipher() { ssh -F /dev/null -G 127.0.0.1 2>/dev/null | awk '/^ciphers / {split($2, c, ","); print c[1]}'; }

# sftp_timed TARGET COMMAND [SETUP]: run COMMAND in one sftp session between two marks,
# after SETUP (untimed); sets ELAPSED (seconds between the marks) and TICKS (server CPU
# ticks between them).
sftp_timed() {
  local port user root
  read -r port user root <<<"$(sftp_target "$1")" || true
  : >"$work/marks"
  local setup=${3:-}
  [ -n "$setup" ] && setup="${setup//@ROOT@/$root}"$'\n'
  sftp_batch "$port" "$user" "$setup!$work/mark $1 start
${2//@ROOT@/$root}
!$work/mark $1 end"
  read -r ELAPSED TICKS < <(awk 'NR == 1 {t = $1; c = $2} NR == 2 {printf "%.6f %d\n", $1 - t, $2 - c}' "$work/marks")
  [ -n "$ELAPSED" ] || die "sftp to $1: no timing marks"
}
has_sftp() { [ -n "$(sftp_target "$1" || true)" ]; }
fig_sftp_up() {
  has_sftp "$1" || return 0
  sftp_timed "$1" "put $work/local/big.bin @ROOT@/up.bin" "-rm @ROOT@/up.bin" # uploads start clean (above)
  VAL=$(awk -v n="$SIZE_BYTES" -v e="$ELAPSED" 'BEGIN {printf "%.0f", n / e / 1e6}')
  UP_FILE=$(stored "$1" "${SSHD_ROOT:-}")
}
fig_sftp_down() {
  has_sftp "$1" || return 0
  sftp_timed "$1" "get @ROOT@/big.bin $work/local/down.bin"
  VAL=$(awk -v n="$SIZE_BYTES" -v e="$ELAPSED" 'BEGIN {printf "%.0f", n / e / 1e6}')
  rm -f "$work/local/down.bin"
}
fig_sftp_many_before() { create_cost_line; }
fig_rclone_many_before() { create_cost_line; }
fig_sftp_many() { # one "put -r" of the 1,000 small files into a new folder
  has_sftp "$1" || return 0
  sftp_timed "$1" "put -r $work/local/small @ROOT@/many-$2"
  VAL=$(awk -v n="$SMALL_FILES" -v e="$ELAPSED" 'BEGIN {printf "%.0f", n / e}'); TICKS=""
}
fig_sftp_login() { # a whole session that only logs in: connect, key exchange, auth, pwd
  local port user root s
  has_sftp "$1" || return 0
  read -r port user root <<<"$(sftp_target "$1")" || true
  s=$(now); sftp_batch "$port" "$user" "pwd"
  VAL=$(awk -v s="$s" -v e="$(now)" 'BEGIN {printf "%.0f", (e - s) * 1000}')
}
fig_rclone_many() { # rclone copy of the 1,000 small files into a new folder
  local port user root s; read -r port user root <<<"$(sftp_target "$1")" || true
  [ -n "$port" ] || return 0
  s=$(now)
  rclone copy --config "$work/rclone.conf" -q "$work/local/small" \
    ":sftp,host=127.0.0.1,port=$port,user=$user,key_file=$work/id,shell_type=none:$root/rclone-$2"
  VAL=$(awk -v n="$SMALL_FILES" -v s="$s" -v e="$(now)" 'BEGIN {printf "%.0f", n / (e - s)}')
}

# ---- FTP figures (curl; FTP_TLS=(--ssl-reqd -k) for FTPS) -----------------------------------

FTP_TLS=()
ftp_url() {
  case $1 in
    fg) echo "ftp://bench:$PW@127.0.0.1:$FG_FTP_PORT" ;;
    ref) echo "ftp://anonymous:x@127.0.0.1:$VS_PORT/pub" ;;
    sg) [ -n "$SG_FTP_PORT" ] && { [ ${#FTP_TLS[@]} = 0 ] || [ -n "$SG_FTPS" ]; } && echo "ftp://bench:$PW@127.0.0.1:$SG_FTP_PORT" ;;
  esac
}
fig_ftp_up() {
  local url; url=$(ftp_url "$1") || true
  [ -n "$url" ] || return 0
  if [ "$1" = ref ]; then
    rm -f "$VS_ROOT/up.bin" # vsftpd's anonymous users can neither overwrite nor delete
  else
    curl -sS "${FTP_TLS[@]}" -o /dev/null -Q "*DELE up.bin" "$url/" # uploads start clean (above)
  fi
  ticked "${VS_PID:-0}" "$1" curl -sSf "${FTP_TLS[@]}" -o /dev/null -w "$CURL_W" -T "$work/local/big.bin" "$url/up.bin"
  VAL=$(mb "$VAL")
  UP_FILE=$(stored "$1" "${VS_ROOT:-}")
}
fig_ftp_down() {
  local url; url=$(ftp_url "$1") || true
  [ -n "$url" ] || return 0
  ticked "${VS_PID:-0}" "$1" curl -sSf "${FTP_TLS[@]}" -o /dev/null -w "$CURL_W" "$url/big.bin"
  VAL=$(mb "$VAL")
}
fig_ftp_login() { # a session without a transfer: connect, log in, SIZE and MDTM (curl -I)
  local url; url=$(ftp_url "$1") || true
  [ -n "$url" ] || return 0
  VAL=$(curl -sSf "${FTP_TLS[@]}" -I -o /dev/null -w '%{time_total}' "$url/big.bin" | awk '{printf "%.1f", $1 * 1000}')
}

# ---- HTTP figures (curl; Filegate REST vs nginx; SFTPGo WebDAV) -----------------------------

fig_http_down() {
  case $1 in
    fg) fg_token; ticked 0 fg curl -sSf -o /dev/null -w "$CURL_W" -H "Authorization: Bearer $TOKEN" \
      "http://127.0.0.1:$FG_HTTP_PORT/api/download/single?path=/big.bin" ;;
    ref) ticked "$NG_PID" ref curl -sSf -o /dev/null -w "$CURL_W" "http://127.0.0.1:$NG_PORT/big.bin" ;;
    sg) [ -n "$SG_DAV_PORT" ] || return 0
      ticked 0 sg curl -sSf -o /dev/null -w "$CURL_W" -u "bench:$PW" "http://127.0.0.1:$SG_DAV_PORT/big.bin" ;;
  esac
  VAL=$(mb "$VAL")
}
fig_http_up() {
  case $1 in # uploads start clean (above): the previous copy goes first
    fg) fg_token; curl -sS -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" \
      "http://127.0.0.1:$FG_HTTP_PORT/api/delete" -d '{"path":"/up.bin"}' ;;
    ref) curl -sS -o /dev/null -X DELETE "http://127.0.0.1:$NG_PORT/dav/up.bin" ;;
    sg) [ -n "$SG_DAV_PORT" ] && curl -sS -o /dev/null -u "bench:$PW" -X DELETE "http://127.0.0.1:$SG_DAV_PORT/up.bin" ;;
  esac
  case $1 in
    fg) ticked 0 fg curl -sSf -o /dev/null -w "$CURL_W" -H "Authorization: Bearer $TOKEN" \
      -F 'meta={"overwrite":true}' -F "f=@$work/local/big.bin;filename=up.bin" "http://127.0.0.1:$FG_HTTP_PORT/api/upload" ;;
    ref) ticked "$NG_PID" ref curl -sSf -o /dev/null -w "$CURL_W" -T "$work/local/big.bin" "http://127.0.0.1:$NG_PORT/dav/up.bin" ;;
    sg) [ -n "$SG_DAV_PORT" ] || return 0
      ticked 0 sg curl -sSf -o /dev/null -w "$CURL_W" -u "bench:$PW" -T "$work/local/big.bin" "http://127.0.0.1:$SG_DAV_PORT/up.bin" ;;
  esac
  VAL=$(mb "$VAL")
  UP_FILE=$(stored "$1" "${NG_ROOT:-}/dav")
}

# ---- requests per second (wrk -t2 -c32) ---------------------------------------------------

# wrk_rps ARGS...: requests per second, or nothing (and a message) when any response was
# not a success: a server that refuses fast must not look fast.
wrk_rps() {
  wrk -t2 -c32 -d"${WRK_SECONDS}s" "$@" | awk -v url="${*: -1}" '
    /Non-2xx or 3xx responses/ { bad = $NF }
    /Requests\/sec/ { rps = $2 }
    END {
      if (bad) { printf "bench: %s: %s responses were not 2xx or 3xx; no figure\n", url, bad > "/dev/stderr"; exit }
      if (rps != "") printf "%.0f", rps
    }'
}
fig_list() {
  case $1 in
    fg) fg_token; VAL=$(wrk_rps -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FG_HTTP_PORT/api/list/files?path=/list1000") ;;
    ref) VAL=$(wrk_rps "http://127.0.0.1:$NG_PORT/list1000/") ;;
    sg) [ -n "$SGA_PORT" ] || return 0
      sg_token; VAL=$(wrk_rps -H "Authorization: Bearer $SG_TOKEN" "http://127.0.0.1:$SGA_PORT/api/v2/user/dirs?path=/list1000") ;;
  esac
}
fig_auth() { # SFTPGo's counterpart: GET /api/v2/user/token with the password (HTTP basic auth)
  case $1 in
    fg) cat >"$work/auth.lua" <<LUA
wrk.method = "POST"
wrk.body = '$FG_AUTH_BODY'
wrk.headers["Content-Type"] = "application/json"
LUA
      VAL=$(wrk_rps -s "$work/auth.lua" "http://127.0.0.1:$FG_HTTP_PORT/apiaccess/auth") ;;
    sg) [ -n "$SGA_PORT" ] || return 0
      VAL=$(wrk_rps -H "Authorization: Basic $(printf '%s' "bench:$PW" | base64 -w0)" "http://127.0.0.1:$SGA_PORT/api/v2/user/token") ;;
  esac
}

# ---- setup -------------------------------------------------------------------------------

# bench_setup [sftp] [ftp] [http]: start Filegate and the reference servers those figures need
# (and SFTPGo when SFTPGO_BIN is set), write the test data, pick the RSS method.
bench_setup() {
  local want=" $* "
  need curl python3 openssl go
  [[ $want == *" http "* ]] && need nginx wrk
  [[ $want == *" sftp "* ]] && need rclone
  bench_tmp
  log "SIZE_MIB=$SIZE_MIB RUNS=$RUNS WRK_SECONDS=$WRK_SECONDS, work directory $work"
  make_credentials
  make_data
  start_filegate
  seed "$FG_STORAGE"
  seed_small "$FG_STORAGE/list1000"
  # The metadata tree learns the seeded files as it learns every upload: a download of
  # a file it knows takes its event's SHA-256 from there instead of hashing the bytes.
  "$FG_BIN" reindex --config "$work/fg/gateway.toml" >/dev/null 2>>"$work/fg.log" || die "filegate reindex failed"
  : >"$work/rclone.conf"
  if [[ $want == *" sftp "* ]]; then start_sshd; seed "$SSHD_ROOT"; fi
  if [[ $want == *" ftp "* ]]; then start_vsftpd; seed "$VS_ROOT"; fi
  if [[ $want == *" http "* ]]; then start_nginx; seed "$NG_ROOT"; seed_small "$NG_ROOT/list1000"; fi
  if [[ $want == *" sftp "* || $want == *" ftp "* ]]; then
    if [[ $want == *" http "* ]]; then start_sftpgo webdav; else start_sftpgo; fi
    [ -n "$SG_ON" ] && seed "$SG_ROOT"
    if [[ $want == *" http "* ]] && [ -n "$SG_ON" ]; then seed_small "$SG_ROOT/list1000"; start_sftpgo_api; fi
  else
    log "SFTPGo: not compared by this script"
  fi
  write_mark
  rss_detect
}
