#!/usr/bin/env bash
# Benchmark: `keyshift migrate --to kst-… --all` of N keys from the shared
# KMS into an instance (container move, one store). Prints keys/s and the
# peak RSS of the migrate process for each N. Not part of `make test`.
# Floor: >= 2,000 keys/s with memory flat in N; keys/s within 20% from
# 1,000 to 50,000 keys (NS="1000 10000 50000", the default).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REL=${KEYSHIFT_RELEASE_DIR:-$ROOT/target/release}
BIN=$REL/keyshift
SEED=$REL/examples/seed_migration_bench
[ -x "$BIN" ] && [ -x "$SEED" ] || { echo "build first: make build and cargo build --release --example seed_migration_bench -p keyshift" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
printf '%-8s %-12s %-10s %s\n' N seconds keys/s peak_RSS_MB
for N in ${NS:-1000 10000 50000}; do
  STORE=$WORK/store-$N
  KST=$("$SEED" "$STORE" "$N")
  START=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" --store "$STORE" migrate --to "$KST" --all > "$WORK/out"
  END=$(date +%s.%N)
  tail -n 1 "$WORK/out" | grep -q "$N migrated" || { tail -n 1 "$WORK/out"; exit 1; }
  awk -v n="$N" -v s="$START" -v e="$END" -v rss="$(cat "$WORK/rss")" \
    'BEGIN { t = e - s; printf "%-8d %-12.3f %-10.0f %.1f\n", n, t, n / t, rss / 1024 }'
done
