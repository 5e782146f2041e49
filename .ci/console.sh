#!/usr/bin/env bash
# Installs what the web console's browser test (core/console/browser_test.go, which
# runs console/test/e2e.mjs) needs: playwright-core from console/package-lock.json into
# console/node_modules. Debian's chromium comes from .ci/run's package list; no browser
# is downloaded. Safe to run again: an up-to-date install is kept.
set -euo pipefail
cd "$(dirname "$0")/../console"
if ! command -v npm >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "ci: installing nodejs and npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
fi
want=$(node -p 'require("./package.json").devDependencies["playwright-core"]')
have=$(node -p 'try { require("./node_modules/playwright-core/package.json").version } catch { "" }')
if [ "$have" != "$want" ]; then
  echo "ci: installing playwright-core $want for the console's browser test" >&2
  npm ci --silent --no-audit --no-fund >&2
fi
[ -x /usr/bin/chromium ] || { echo "ci: /usr/bin/chromium is missing: add chromium to .ci/run's packages" >&2; exit 1; }
