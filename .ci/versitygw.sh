#!/usr/bin/env bash
# Builds versitygw (an S3 server over a directory) once into .ci/cache/bin/versitygw for
# the S3 storage tests (plugins/storage/s3), and reuses it when present. A cold build
# takes ~5 minutes on a 2-core machine. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
version=v1.8.0
bin=.ci/cache/bin/versitygw
stamp=.ci/cache/bin/versitygw.version
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "$PWD/$bin"; exit 0
fi
mkdir -p .ci/cache/bin
echo "ci: building versitygw $version (one time, ~5 min)" >&2
start=$SECONDS
GOBIN="$PWD/.ci/cache/bin" go install "github.com/versity/versitygw/cmd/versitygw@$version" >&2
echo "$version" >"$stamp"
echo "ci: versitygw built in $((SECONDS - start))s" >&2
echo "$PWD/$bin"
