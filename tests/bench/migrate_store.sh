#!/usr/bin/env bash
# Benchmark: store move. `keyshift migrate --from-store A --to-store B --all`
# of N keys from a seeded store into a new, empty store (every version
# unsealed and resealed under B's root key, each batch read back and
# verified). Prints keys/s and the peak RSS of the migrate process for each
# N. Not part of `make test`. Floor: >= 2,000 keys/s with memory flat in N.
# Under scripts/with-postgres.sh (as `make bench-migrate` runs it) the same
# stores also move into a fresh PostgreSQL database each (target: >= 1,000
# keys/s into PostgreSQL).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REL=${KEYSHIFT_RELEASE_DIR:-$ROOT/target/release}
BIN=$REL/keyshift
SEED=$REL/examples/seed_migration_bench
[ -x "$BIN" ] && [ -x "$SEED" ] || { echo "build first: make build and cargo build --release --example seed_migration_bench -p keyshift" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# One timed move of the seeded store $1 (N keys) into target $2; extra
# migrate arguments follow.
move() {
  local n=$1 src=$2 dst=$3
  shift 3
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" migrate --from-store "$src" --to-store "$dst" --all "$@" > "$WORK/out"
  end=$(date +%s.%N)
  # N keys and the seed's empty instance (--all takes the whole store).
  tail -n 1 "$WORK/out" | grep -q ": $((n + 1)) migrated" || { tail -n 1 "$WORK/out"; exit 1; }
  awk -v n="$n" -v s="$start" -v e="$end" -v rss="$(cat "$WORK/rss")" \
    'BEGIN { t = e - s; printf "%-8d %-12.3f %-10.0f %.1f\n", n, t, n / t, rss / 1024 }'
}

PG=${KEYSHIFT_TEST_PG_URL:-}
echo "store move (--from-store A --to-store B --all), into a new embedded store:"
printf '%-8s %-12s %-10s %s\n' N seconds keys/s peak_RSS_MB
for N in ${NS:-1000 10000 50000}; do
  "$SEED" "$WORK/src-$N" "$N" > /dev/null
  move "$N" "$WORK/src-$N" "$WORK/dst-$N"
done
if [ -n "$PG" ]; then
  echo "store move into PostgreSQL (a fresh database each):"
  printf '%-8s %-12s %-10s %s\n' N seconds keys/s peak_RSS_MB
  for N in ${NS:-1000 10000}; do
    db=ks_bench_move_${N}_$$
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -d "$PG" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >&2
    url=$(sed -E "s#^([a-z]+://[^/?]*)(/[^?]*)?#\1/$db#" <<<"$PG")
    move "$N" "$WORK/src-$N" "$url" --to-master-key-file "$WORK/pg-$N.key"
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -d "$PG" -c "DROP DATABASE IF EXISTS $db" >&2
  done
else
  echo "(no KEYSHIFT_TEST_PG_URL: run under scripts/with-postgres.sh for the PostgreSQL case)"
fi
