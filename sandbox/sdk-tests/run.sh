#!/usr/bin/env bash
# Sui's official TypeScript SDK (@mysten/sui, pinned in package-lock.json) against a
# real `daas-sandbox chain` on 127.0.0.1: builds the sandbox, starts it on a free port
# with an --info file, makes the devices' seal tokens with the Rust code
# (examples/sdk_fixture.rs), and runs the tests with Node's built-in test runner.
#
# Without node/npm on a user's machine it prints one `skipped:` line and exits 0; with
# CI=true a missing tool is a failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "error: $1 (CI=true: the SDK tests must run)" >&2
    exit 1
  fi
  echo "skipped: $1"
  exit 0
}

command -v node >/dev/null 2>&1 || skip "node not found (install Node.js 20+ with npm to run Sui's TypeScript SDK against the sandbox)"
command -v npm >/dev/null 2>&1 || skip "npm not found (install npm to run Sui's TypeScript SDK against the sandbox)"
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  skip "node $(node --version) is too old (the SDK needs Node.js 20+; it declares 22+)"
fi

cd "$here"
# the pinned SDK, installed from the lock file (registry access needed the first time)
if ! node -e 'const p=require("./node_modules/@mysten/sui/package.json"); const l=require("./package-lock.json"); if (p.version!==l.packages["node_modules/@mysten/sui"].version) process.exit(1)' 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# Sui's spec files: every request the SDK sends and every answer the sandbox gives are
# checked against them by the conformance checker (`--check-spec`)
spec="${DAAS_SPEC_DIR:-$root/../shared/spec}"
spec="$(cd "$spec" 2>/dev/null && pwd -P || echo "$spec")"
check=()
if [ -f "$spec/openrpc.json" ] && [ -f "$spec/schema.graphql" ]; then
  check=(--check-spec "$spec")
elif [ "${CI:-}" = "true" ]; then
  echo "error: Sui's spec files not found in $spec (set DAAS_SPEC_DIR; CI=true: the answers must be checked)" >&2
  exit 1
fi

# The same workspace and features as the README test command, so nothing is built twice.
cargo build --locked -q --workspace --all-features --bin daas-sandbox \
  --example sdk_fixture --manifest-path "$root/Cargo.toml"
target="$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"

tmp="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$target/debug/daas-sandbox" chain --listen 127.0.0.1:0 --info "$tmp/info.json" \
  --seed 4242 --accounts 4 "${check[@]}" 2>"$tmp/sandbox.log" &
pid=$!

# the info file appears once the sandbox listens; wait for it to be whole
for _ in $(seq 1 300); do
  if [ -s "$tmp/info.json" ] && node -e 'JSON.parse(require("fs").readFileSync(process.argv[1]))' "$tmp/info.json" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "error: daas-sandbox exited before it listened:" >&2
    cat "$tmp/sandbox.log" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s "$tmp/info.json" ] || { echo "error: daas-sandbox wrote no info file within 30 s" >&2; cat "$tmp/sandbox.log" >&2; exit 1; }

"$target/debug/examples/sdk_fixture" "$tmp/info.json" >"$tmp/fixture.json"

status=0
SANDBOX_INFO="$tmp/info.json" SANDBOX_FIXTURE="$tmp/fixture.json" \
  node --test --test-reporter=spec "$here"/*.test.mjs || status=$?
if [ "${#check[@]}" -gt 0 ]; then
  addr="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).rpc_url' "$tmp/info.json")"
  violations="$(node -e '
    fetch(process.argv[1] + "/admin/violations").then((r) => r.json()).then((v) => {
      for (const x of v) console.log(x);
    })' "$addr")"
  if [ -n "$violations" ]; then
    echo "error: the sandbox's answers to the SDK do not match Sui's spec:" >&2
    echo "$violations" >&2
    status=1
  else
    echo "spec check: every request and answer matched $spec"
  fi
else
  echo "skipped: spec check of the sandbox's answers (Sui's spec files not found in $spec; set DAAS_SPEC_DIR)"
fi
if [ "$status" -ne 0 ]; then
  echo "--- daas-sandbox log" >&2
  cat "$tmp/sandbox.log" >&2
fi
exit "$status"
