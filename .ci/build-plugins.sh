#!/usr/bin/env bash
# Builds the example plugins and the first-party rule plugins (webhook, retention,
# mirror) to .wasm modules and go-plugin executables, and the first-party storage
# backends as plugins (memory as .wasm and executable; local, s3, azureblob as
# executables: they need a filesystem or a network, which wasm plugins lack), under
# .ci/cache/plugins/, where the conformance tests (conformance/plugintest,
# plugins/rules) and `filegate plugin test` find them.
# Safe to run again: go's build cache makes it quick.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.ci/cache/plugins
mkdir -p "$out"
for name in route sidecar chat uploadpolicy; do
  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$out/$name.wasm" "./examples/$name/plugin"
  go build -o "$out/$name" "./examples/$name/plugin"
done
for name in webhook retention mirror; do
  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$out/$name.wasm" "./plugins/rules/$name/plugin"
  go build -o "$out/$name" "./plugins/rules/$name/plugin"
done
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$out/memory.wasm" ./plugins/storage/memory/plugin
for name in memory local s3 azureblob; do
  go build -o "$out/$name" "./plugins/storage/$name/plugin"
done
echo "ci: example, first-party rule and storage plugins built in $out"
