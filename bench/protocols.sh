#!/usr/bin/env bash
# bench/protocols.sh — the SFTP and FTP(S) part of bench/run: Filegate's SFTP and FTP front
# ends next to OpenSSH (sshd + sftp-server on a spare port, own config and host key, key
# authentication) and vsftpd (anonymous, explicit TLS), and SFTPGo when SFTPGO_BIN is set.
# Each figure is the median of RUNS runs, targets alternating; see bench/README.md.
#
# Needs: go, curl, openssl, openssh-client, openssh-server, openssh-sftp-server, vsftpd, rclone.
# Env: SIZE_MIB (1024), RUNS (3), SFTPGO_BIN, FILEGATE_BIN, FILEGATE_PPROF, RSS_MODE=sample.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup sftp ftp
[ -n "$SG_ON" ] || echo "# SFTPGo: skipped (set SFTPGO_BIN)"
SFTP_CIPHER=(-c aes128-gcm@openssh.com)
figure "SFTP upload ${SIZE_MIB} MiB, aes128-gcm" MB/s fig_sftp_up cpu
figure "SFTP download ${SIZE_MIB} MiB, aes128-gcm" MB/s fig_sftp_down cpu
SFTP_CIPHER=()
figure "SFTP 1,000 x 4 KiB, sftp put -r" files/s fig_sftp_many
figure "FTP upload ${SIZE_MIB} MiB (curl)" MB/s fig_ftp_up cpu
figure "FTP download ${SIZE_MIB} MiB (curl)" MB/s fig_ftp_down cpu
FTP_TLS=(--ssl-reqd -k)
figure "FTPS upload ${SIZE_MIB} MiB (curl, explicit TLS)" MB/s fig_ftp_up cpu
figure "FTPS download ${SIZE_MIB} MiB (curl, explicit TLS)" MB/s fig_ftp_down cpu
