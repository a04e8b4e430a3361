#!/usr/bin/env bash
# Measures what daas-protocol adds to a stripped, size-tuned (profile `agent`) binary:
# examples/envelope_roundtrip (seal + open one envelope, certificate, seal token)
# minus examples/size_baseline (same std plumbing, no daas-protocol).
# Prints one line per target. Usage: cross/protocol-size.sh [target ...]
# (default: x86_64-unknown-linux-musl aarch64-unknown-linux-musl; installs the rustup targets).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
for t in "${targets[@]}"; do
  rustup target list --installed | grep -qx "$t" || rustup target add "$t" >/dev/null
  cargo build -q --profile agent --locked -p daas-protocol --target "$t" \
    --example envelope_roundtrip --example size_baseline
  dir="target/$t/agent/examples"
  full=$(stat -c %s "$dir/envelope_roundtrip")
  base=$(stat -c %s "$dir/size_baseline")
  printf '%-28s envelope_roundtrip %8d B  baseline %8d B  daas-protocol adds %8d B (%.1f KiB)\n' \
    "$t" "$full" "$base" $((full - base)) "$(awk "BEGIN{print ($full - $base) / 1024}")"
done
