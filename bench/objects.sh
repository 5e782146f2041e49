#!/usr/bin/env bash
# bench/objects.sh — the figures of issue 7: Filegate whose primary [[storage]] is S3 on
# versitygw (an S3 server over a local directory, .ci/versitygw.sh builds it), next to
# versitygw used directly by rclone (the reference). Transfers over SFTP (OpenSSH sftp -b,
# timed between "!" marks) and HTTP (curl), 4 parallel SFTP uploads with the gateway's peak
# RSS, SFTP listings of a 10,000-object folder with listing = "metadata" and "direct", and
# /api/list/tree over 100,000 objects. Each figure is the median of RUNS runs, targets
# alternating; see bench/README.md.
#
# Needs: go, curl, python3, openssl, openssh-client, rclone, versitygw.
# Env: SIZE_MIB (1024), RUNS (3), LIST_OBJECTS (10000), TREE_OBJECTS (100000), PARALLEL (4),
#      VERSITYGW_BIN (.ci/cache/bin/versitygw), PLUGIN_BENCH (1; 0 skips the in-process
#      reference), FIGURES, FILEGATE_BIN, FILEGATE_PPROF, RSS_MODE=sample.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
LIST_OBJECTS=${LIST_OBJECTS:-10000}
TREE_OBJECTS=${TREE_OBJECTS:-100000}
PARALLEL=${PARALLEL:-4}
VGW_BIN=${VERSITYGW_BIN:-$BENCH_DIR/../.ci/cache/bin/versitygw}
BUCKET=filegate
PREFIX=gw # the gateway's root in the bucket
need curl python3 openssl go sftp ssh-keygen rclone
[ -x "$VGW_BIN" ] || die "versitygw not found at $VGW_BIN (run .ci/versitygw.sh, or set VERSITYGW_BIN)"

bench_tmp
log "SIZE_MIB=$SIZE_MIB RUNS=$RUNS LIST_OBJECTS=$LIST_OBJECTS TREE_OBJECTS=$TREE_OBJECTS PARALLEL=$PARALLEL, work directory $work"
make_credentials
make_data

# ---- versitygw, and the objects written straight into its directory --------------------------

VGW_PORT=$(free_port)
VGW_KEY=bench VGW_SECRET="bench-$PW"
mkdir -p "$work/s3"
"$VGW_BIN" --port "127.0.0.1:$VGW_PORT" --access "$VGW_KEY" --secret "$VGW_SECRET" posix "$work/s3" >"$work/versitygw.log" 2>&1 &
pids+=($!)
wait_port "$VGW_PORT" || { cat "$work/versitygw.log" >&2; die "versitygw did not start"; }

# rclone straight on versitygw: the reference. (rclone refuses AWS_CA_BUNDLE on plain HTTP.)
cat >"$work/rclone-s3.conf" <<CONF
[s3]
type = s3
provider = Other
endpoint = http://127.0.0.1:$VGW_PORT
access_key_id = $VGW_KEY
secret_access_key = $VGW_SECRET
region = us-east-1
force_path_style = true
disable_checksum = true
no_check_bucket = true
CONF
s3rc() { env -u AWS_CA_BUNDLE rclone --config "$work/rclone-s3.conf" -q --retries 1 "$@"; }
s3rc mkdir "s3:$BUCKET" || die "cannot create the bucket"

# An object of the posix backend is a file: seeding files is seeding objects, in seconds.
seed "$work/s3/$BUCKET/$PREFIX"
log "writing $LIST_OBJECTS objects in /list and $TREE_OBJECTS in /tree"
python3 -c 'import os, sys
root, nlist, ntree = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def write(d, names):
    os.makedirs(d, exist_ok=True)
    for n in names:
        with open(os.path.join(d, n), "wb") as f: f.write(n.encode())
write(os.path.join(root, "list"), ("f%06d.txt" % i for i in range(nlist)))
for d in range((ntree + 999) // 1000):
    write(os.path.join(root, "tree", "d%03d" % d), ("f%06d.txt" % i for i in range(d * 1000, min(ntree, d * 1000 + 1000))))
' "$work/s3/$BUCKET/$PREFIX" "$LIST_OBJECTS" "$TREE_OBJECTS"

# ---- Filegate on S3 ----------------------------------------------------------------------------

# lib.sh starts Filegate on local storage and creates the account "bench"; its primary
# storage then moves to the bucket, and a second gateway, a copy of the first but for
# listing = "direct" and its ports, serves the listing comparison.
start_filegate
FG_BIN=${FILEGATE_BIN:-$work/filegate}
kill "$FG_PID"; wait "$FG_PID" 2>/dev/null || true
FG_PID=""
cat >>"$work/fg/gateway.toml" <<TOML

[[storage]]
name = "default"
plugin = "s3"
listing = "metadata"
config = { bucket = "$BUCKET", prefix = "$PREFIX", endpoint = "http://127.0.0.1:$VGW_PORT", path_style = true, region = "us-east-1", access_key = "$VGW_KEY", secret_key = "$VGW_SECRET" }
TOML
s=$(now)
"$FG_BIN" reindex --config "$work/fg/gateway.toml" 2>>"$work/fg.log" >&2
REINDEX_S=$(awk -v s="$s" -v e="$(now)" 'BEGIN {printf "%.1f", e - s}')
cp -a "$work/fg" "$work/fg2"
FG2_HTTP_PORT=$(free_port); FG2_SFTP_PORT=$(free_port)
sed -i -e "s/127.0.0.1:$FG_HTTP_PORT/127.0.0.1:$FG2_HTTP_PORT/" -e "s/\"127.0.0.1:$FG_FTP_PORT\"/\"off\"/" \
  -e "s/127.0.0.1:$FG_SFTP_PORT/127.0.0.1:$FG2_SFTP_PORT/" -e 's/listing = "metadata"/listing = "direct"/' "$work/fg2/gateway.toml"

# serve DIR HTTP_PORT: run filegate serve on DIR/gateway.toml; sets SERVED_PID.
serve() {
  local pprof=()
  [ "$1" = fg ] && [ -n "${FILEGATE_PPROF:-}" ] && pprof=(--pprof "$FILEGATE_PPROF")
  "$FG_BIN" serve --config "$work/$1/gateway.toml" "${pprof[@]}" 2>>"$work/$1.log" &
  SERVED_PID=$!; pids+=("$SERVED_PID")
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return 0; sleep 0.1; done
  cat "$work/$1.log" >&2; die "filegate ($1) did not start"
}
# restart_fg: a fresh gateway process, so that a figure's peak RSS is its own and not
# what an earlier figure left in the Go heap.
restart_fg() {
  if [ -n "${FG_PID:-}" ]; then kill "$FG_PID"; wait "$FG_PID" 2>/dev/null || true; fi
  serve fg "$FG_HTTP_PORT"; FG_PID=$SERVED_PID
  write_mark # the marks read FG_PID
}
restart_fg
serve fg2 "$FG2_HTTP_PORT"
rss_detect

# ---- figures (fg: Filegate, ref: rclone on versitygw) ------------------------------------------

mbs() { awk -v n="$1" -v e="$2" 'BEGIN {printf "%.0f", n / e / 1e6}'; }
ms() { awk -v s="$1" -v e="$2" 'BEGIN {printf "%.0f", (e - s) * 1000}'; }
ref_up() { local s; s=$(now); s3rc copyto --ignore-times "$work/local/big.bin" "s3:$BUCKET/ref/up-$1.bin"; VAL=$(mbs "$SIZE_BYTES" "$(awk -v s="$s" -v e="$(now)" 'BEGIN {print e - s}')"); }
ref_down() { local s; s=$(now); s3rc cat "s3:$BUCKET/$PREFIX/big.bin" >/dev/null; VAL=$(mbs "$SIZE_BYTES" "$(awk -v s="$s" -v e="$(now)" 'BEGIN {print e - s}')"); }

fig_s3_sftp_up() { if [ "$1" = fg ]; then fig_sftp_up fg; TICKS=""; else ref_up "$2"; fi; }
fig_s3_sftp_down() { if [ "$1" = fg ]; then fig_sftp_down fg; TICKS=""; else ref_down; fi; }
fig_s3_http_up() { if [ "$1" = fg ]; then fig_http_up fg; else ref_up "$2"; fi; }
fig_s3_http_down() { if [ "$1" = fg ]; then fig_http_down fg; else ref_down; fi; }
# parallel_up TARGET HOW: PARALLEL uploads of the big file at once, over SFTP or HTTP
# (fg), or by rclone processes (ref); VAL is their total MB/s.
parallel_up() {
  local s i p=()
  [ "$1" = fg ] && [ "$2" = http ] && fg_token
  s=$(now)
  for i in $(seq "$PARALLEL"); do
    if [ "$1" = ref ]; then
      s3rc copyto --ignore-times "$work/local/big.bin" "s3:$BUCKET/ref/par-$i.bin" &
    elif [ "$2" = sftp ]; then
      sftp_batch "$FG_SFTP_PORT" bench "put $work/local/big.bin /par-$i.bin" &
    else
      curl -sSf -o /dev/null -H "Authorization: Bearer $TOKEN" -F 'meta={"overwrite":true}' \
        -F "f=@$work/local/big.bin;filename=par-$i.bin" "http://127.0.0.1:$FG_HTTP_PORT/api/upload" &
    fi
    p+=($!)
  done
  for i in "${p[@]}"; do wait "$i" || die "a parallel upload failed"; done
  VAL=$(mbs $((PARALLEL * SIZE_BYTES)) "$(awk -v s="$s" -v e="$(now)" 'BEGIN {print e - s}')")
}
fig_parallel_sftp() { parallel_up "$1" sftp; }
fig_parallel_http() { parallel_up "$1" http; }
fig_ls() { # fg: listing = "metadata"; ref: the same gateway but listing = "direct"
  local port=$FG_SFTP_PORT
  [ "$1" = ref ] && port=$FG2_SFTP_PORT
  FG_SFTP_PORT=$port sftp_timed fg "ls -l /list"
  VAL=$(awk -v e="$ELAPSED" 'BEGIN {printf "%.0f", e * 1000}')
}
fig_ls_direct() { # fg: listing = "direct"; ref: rclone lsf on the bucket
  local s
  if [ "$1" = fg ]; then
    FG_SFTP_PORT=$FG2_SFTP_PORT sftp_timed fg "ls -l /list"
    VAL=$(awk -v e="$ELAPSED" 'BEGIN {printf "%.0f", e * 1000}')
  else
    s=$(now); s3rc lsf "s3:$BUCKET/$PREFIX/list/" >/dev/null; VAL=$(ms "$s" "$(now)")
  fi
}
fig_tree() { # fg: /api/list/tree from the metadata engine; ref: rclone lsf -R on the bucket
  local s n
  [ "$1" = fg ] && fg_token
  s=$(now)
  if [ "$1" = fg ]; then
    n=$(curl -sSf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FG_HTTP_PORT/api/list/tree?path=/tree" | grep -o '"path"' | wc -l)
  else
    n=$(s3rc lsf -R "s3:$BUCKET/$PREFIX/tree/" | wc -l)
  fi
  VAL=$(ms "$s" "$(now)")
  [ "$n" -ge "$TREE_OBJECTS" ] || die "$1: the tree listed $n entries, want $TREE_OBJECTS or more"
}

started=$(date +%s)
echo "# Filegate $(git -C "$BENCH_DIR/.." describe --always --dirty 2>/dev/null || echo '?') on S3 (versitygw $(cat "$BENCH_DIR/../.ci/cache/bin/versitygw.version" 2>/dev/null || echo '?'), posix, loopback), $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# SIZE_MIB=$SIZE_MIB RUNS=$RUNS; reference: rclone straight on versitygw; part_size 8 MiB, concurrency 2; peak RSS: $RSS_MODE"
echo "# filegate reindex of $((LIST_OBJECTS + TREE_OBJECTS + 1)) objects: $REINDEX_S s"
figure "S3: SFTP upload ${SIZE_MIB} MiB (ref: rclone)" MB/s fig_s3_sftp_up
figure "S3: SFTP download ${SIZE_MIB} MiB (ref: rclone)" MB/s fig_s3_sftp_down
figure "S3: HTTP upload ${SIZE_MIB} MiB (ref: rclone)" MB/s fig_s3_http_up
figure "S3: HTTP download ${SIZE_MIB} MiB (ref: rclone)" MB/s fig_s3_http_down
restart_fg
figure "S3: $PARALLEL parallel SFTP uploads of ${SIZE_MIB} MiB" MB/s fig_parallel_sftp
restart_fg
figure "S3: $PARALLEL parallel HTTP uploads of ${SIZE_MIB} MiB" MB/s fig_parallel_http
figure "S3: SFTP ls ${LIST_OBJECTS} objects, metadata (ref: direct), ms" ms fig_ls
figure "S3: SFTP ls ${LIST_OBJECTS} objects, direct (ref: rclone), ms" ms fig_ls_direct
figure "S3: /api/list/tree ${TREE_OBJECTS} objects (ref: rclone -R), ms" ms fig_tree
# A second reference: the s3 plugin alone, in process (aws-sdk-go-v2 on a versitygw of
# its own, 1 GiB, no protocol front end): what the gateway could reach at best.
if [ "${PLUGIN_BENCH:-1}" = 1 ]; then
  (cd "$BENCH_DIR/.." && FILEGATE_VERSITYGW=$VGW_BIN go test -run '^$' -bench 'Versitygw1GiB' -benchtime 1x ./plugins/storage/s3/) |
    awk '/^Benchmark/ {for (i = 1; i <= NF; i++) if ($i ~ /MB\/s$/) printf "# s3 plugin in process, 1 GiB: %s %s\n", $i, $(i - 1)}'
fi
echo "# done in $(($(date +%s) - started)) s (setup not included); load $(cut -d' ' -f1-3 /proc/loadavg)"
