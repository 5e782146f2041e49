#!/usr/bin/env bash
# Installs Azurite (Microsoft's Azure Storage emulator) with npm once into
# .ci/cache/node for the Azure Blob storage tests (plugins/storage/azureblob), and
# reuses it when present. Prints the path of azurite-blob.
set -euo pipefail
cd "$(dirname "$0")/.."
version=3.37.0
prefix=.ci/cache/node
bin=$prefix/node_modules/.bin/azurite-blob
if [ -x "$bin" ] && grep -q "\"version\": \"$version\"" "$prefix/node_modules/azurite/package.json" 2>/dev/null; then
  echo "$PWD/$bin"; exit 0
fi
if ! command -v npm >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "ci: installing nodejs and npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$prefix"
echo "ci: installing azurite $version" >&2
start=$SECONDS
npm install --silent --no-audit --no-fund --prefix "$prefix" "azurite@$version" >&2
echo "ci: azurite installed in $((SECONDS - start))s" >&2
echo "$PWD/$bin"
