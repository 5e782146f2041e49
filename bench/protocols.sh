#!/usr/bin/env bash
# bench/protocols.sh — Filegate's SFTP and FTP front ends next to OpenSSH and vsftpd,
# on loopback, in one run.
#
# Measures (each the median of RUNS runs, targets alternating):
#   - SFTP upload and download of a SIZE_MIB file with OpenSSH's sftp client
#     (-c aes128-gcm@openssh.com): Filegate vs sshd + sftp-server on a spare port
#     (own config and host key, key authentication)
#   - FTP upload and download of the same file with curl: Filegate vs vsftpd
#     (anonymous, run as the launching user)
# and prints one line per figure: Filegate, reference, ratio.
#
# Needs: go, curl, openssh-client, openssh-server, openssh-sftp-server, vsftpd
# (Debian: apt-get install curl openssh-client openssh-server vsftpd).
# Env: SIZE_MIB (default 1024), RUNS (3).
set -euo pipefail
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
for tool in curl sftp ssh-keygen /usr/sbin/sshd /usr/sbin/vsftpd; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
sftp_server=""
for f in /usr/lib/openssh/sftp-server /usr/libexec/sftp-server; do [ -x "$f" ] && { sftp_server=$f; break; }; done
[ -n "$sftp_server" ] || { echo "bench: sftp-server is not installed" >&2; exit 1; }
work=$(mktemp -d /tmp/filegate-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP_PORT=$(port); FTP_PORT=$(port); SFTP_PORT=$(port); SSHD_PORT=$(port); VS_PORT=$(port)

echo "bench: building filegate" >&2
(cd "$here/.." && go build -o "$work/filegate" ./cmd/filegate)
mkdir -p "$work/fg"
cat > "$work/fg/gateway.toml" <<TOML
data_dir = "data"
[http]
listen = "127.0.0.1:$HTTP_PORT"
rate_limit = 0
[ftp]
listen = "127.0.0.1:$FTP_PORT"
passive_ports = "51000-51099"
[sftp]
listen = "127.0.0.1:$SFTP_PORT"
TOML
keys=$("$work/filegate" init --dir "$work/fg" --json)
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$keys" "$1"; }
ASSOC=$(field AssociationKey); AK=$(field AccessKey); SK=$(field SecretKey)
"$work/filegate" serve --config "$work/fg/gateway.toml" 2>"$work/fg.log" &
FG_PID=$!; pids+=("$FG_PID")

ssh-keygen -q -t ed25519 -N "" -f "$work/id"
ssh-keygen -q -t ed25519 -N "" -f "$work/sshd_host_key"
cp "$work/id.pub" "$work/authorized_keys"
mkdir -p /run/sshd "$work/ref" "$work/vs/pub" "$work/empty" "$work/local"
chmod 777 "$work/vs/pub"
cat > "$work/sshd_config" <<SSHD
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $work/sshd_host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
StrictModes no
PasswordAuthentication no
UsePAM no
Subsystem sftp $sftp_server
SSHD
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
pids+=($!)
cat > "$work/vsftpd.conf" <<VSFTPD
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
pasv_min_port=51100
pasv_max_port=51199
xferlog_enable=NO
VSFTPD
/usr/sbin/vsftpd "$work/vsftpd.conf" &
pids+=($!)

for i in $(seq 100); do
  curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break
  sleep 0.1
done
TOKEN=$(curl -sf -X POST "http://127.0.0.1:$HTTP_PORT/apiaccess/auth" \
  -d "{\"AssociationKey\":\"$ASSOC\",\"AccessKey\":\"$AK\",\"SecretKey\":\"$SK\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
PW="bench-$(head -c 12 /dev/urandom | base64 | tr -dc a-zA-Z0-9)"
curl -sf -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT/ftpaccounts/create" \
  -d "{\"Username\":\"bench\",\"Password\":\"$PW\",\"AccessRights\":\"RW\",\"SSHPublicKeys\":[\"$(cat "$work/id.pub")\"]}"

echo "bench: writing a ${SIZE_MIB} MiB file" >&2
head -c $((SIZE_MIB << 20)) /dev/urandom > "$work/local/big.bin"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
line() { # name unit filegate reference
  awk -v n="$1" -v u="$2" -v f="$3" -v r="$4" 'BEGIN {printf "%-44s filegate %8.0f %-5s reference %8.0f %-5s ratio %.2f\n", n, f, u, r, u, (r > 0 ? f/r : 0)}'
}
# sftp_mbps PORT USER COMMAND: MB/s of one sftp batch command moving the big file.
sftp_mbps() {
  local start end
  start=$(date +%s.%N)
  echo "$3" | sftp -q -b - -i "$work/id" -c aes128-gcm@openssh.com -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -P "$1" "$2@127.0.0.1" >/dev/null
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v b=$((SIZE_MIB << 20)) 'BEGIN {printf "%.0f", b/(e-s)/1e6}'
}
mbps() { awk -v b="$1" 'BEGIN {printf "%.0f", b/1e6}'; }

fg_sup=(); ref_sup=(); fg_sdown=(); ref_sdown=(); fg_fup=(); ref_fup=(); fg_fdown=(); ref_fdown=()
cd "$work/local"
for run in $(seq "$RUNS"); do
  fg_sup+=("$(sftp_mbps "$SFTP_PORT" bench "put big.bin /big.bin")")
  ref_sup+=("$(sftp_mbps "$SSHD_PORT" "$(id -un)" "put big.bin $work/ref/big.bin")")
  fg_sdown+=("$(sftp_mbps "$SFTP_PORT" bench "get /big.bin down.bin")")
  ref_sdown+=("$(sftp_mbps "$SSHD_PORT" "$(id -un)" "get $work/ref/big.bin down.bin")")
  fg_fup+=("$(curl -sf -o /dev/null -w '%{speed_upload}' -T big.bin "ftp://bench:$PW@127.0.0.1:$FTP_PORT/big.bin")")
  ref_fup+=("$(curl -sf -o /dev/null -w '%{speed_upload}' -T big.bin "ftp://anonymous:x@127.0.0.1:$VS_PORT/pub/big-$run.bin")")
  fg_fdown+=("$(curl -sf -o /dev/null -w '%{speed_download}' "ftp://bench:$PW@127.0.0.1:$FTP_PORT/big.bin")")
  ref_fdown+=("$(curl -sf -o /dev/null -w '%{speed_download}' "ftp://anonymous:x@127.0.0.1:$VS_PORT/pub/big-$run.bin")")
done
line "SFTP upload ${SIZE_MIB} MiB (sftp; sshd)" "MB/s" "$(printf '%s\n' "${fg_sup[@]}" | median)" "$(printf '%s\n' "${ref_sup[@]}" | median)"
line "SFTP download ${SIZE_MIB} MiB (sftp; sshd)" "MB/s" "$(printf '%s\n' "${fg_sdown[@]}" | median)" "$(printf '%s\n' "${ref_sdown[@]}" | median)"
line "FTP upload ${SIZE_MIB} MiB (curl; vsftpd)" "MB/s" "$(mbps "$(printf '%s\n' "${fg_fup[@]}" | median)")" "$(mbps "$(printf '%s\n' "${ref_fup[@]}" | median)")"
line "FTP download ${SIZE_MIB} MiB (curl; vsftpd)" "MB/s" "$(mbps "$(printf '%s\n' "${fg_fdown[@]}" | median)")" "$(mbps "$(printf '%s\n' "${ref_fdown[@]}" | median)")"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$FG_PID/status")
echo "gateway peak RSS over the whole run: $((hwm / 1024)) MiB"
