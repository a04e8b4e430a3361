#!/usr/bin/env bash
# Runs the Move unit tests of k8s_daas:
#   1. `sui move test` when the Sui CLI is on PATH;
#   2. else the offline WASM runner (../shared/tools/movetest.mjs, or $MOVETEST) with the
#      framework sources in $SUI_FRAMEWORK_DIR (see move/README.md), installing the
#      pinned @zktx.io/sui-move-builder into a cache directory if needed;
#   3. else says that it skipped and why, and exits 0.
# Exits non-zero when a test fails or the package does not compile.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if command -v sui >/dev/null 2>&1; then
  echo "move tests: sui move test ($(sui --version))"
  cd "$here" && exec sui move test
fi

if [ -z "${SUI_FRAMEWORK_DIR:-}" ]; then
  echo "move tests: skipped (no sui CLI and SUI_FRAMEWORK_DIR unset; see move/README.md)"
  exit 0
fi
if [ ! -d "$SUI_FRAMEWORK_DIR/sui-framework" ] || [ ! -d "$SUI_FRAMEWORK_DIR/move-stdlib" ]; then
  echo "move tests: SUI_FRAMEWORK_DIR=$SUI_FRAMEWORK_DIR must hold move-stdlib/ and sui-framework/ (see move/README.md)" >&2
  exit 2
fi
runner="${MOVETEST:-$here/../../shared/tools/movetest.mjs}"
if [ ! -f "$runner" ]; then
  echo "move tests: the offline runner $runner is missing: set MOVETEST to movetest.mjs" >&2
  exit 2
fi
if ! command -v node >/dev/null 2>&1; then
  echo "move tests: node is required for the offline runner" >&2
  exit 2
fi
cache="${XDG_CACHE_HOME:-$HOME/.cache}/k8s-daas/move-builder"
builder="$cache/node_modules/@zktx.io/sui-move-builder"
if [ -z "${SUI_MOVE_BUILDER:-}" ]; then
  if [ ! -d "$builder" ]; then
    echo "move tests: installing @zktx.io/sui-move-builder@0.5.1 into $cache"
    npm install --silent --prefix "$cache" @zktx.io/sui-move-builder@0.5.1 >/dev/null
  fi
  export SUI_MOVE_BUILDER="$builder"
fi
echo "move tests: offline WASM runner (Sui 1.71.1 compiler), framework $SUI_FRAMEWORK_DIR"
exec node "$runner" test "$here" "$SUI_FRAMEWORK_DIR" --timeout "${MOVE_TEST_TIMEOUT:-600}"
