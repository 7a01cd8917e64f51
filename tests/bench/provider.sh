#!/usr/bin/env bash
# Benchmark: `terraform apply` of N keyshift_key resources against controls
# on the same machine in the same run. Not part of `make test`.
#
# Headline targets (printed first, each with PASS/MISS):
# - keys / padded terraform_data <= 1.10 at N=1000. Terraform rewrites (and
#   deep-copies) the whole state after every resource it applies, so an
#   apply costs about N x (state bytes per instance) for any resource type;
#   the control is therefore built-in terraform_data padded so each
#   instance's state file entry is as large as a key's. The ratio is the
#   provider's own overhead at equal state size, and it stays meaningful as
#   keys gain attributes (the padding follows the key's measured size).
# - provider CPU (user + sys of every provider process) <= 1 ms per key.
# - provider peak RSS <= 40 MB.
# For context it also prints plain terraform_data and N keyshift_alias
# resources (3 attributes, the same gRPC/TLS/msgpack path).
# STORE=postgres (`make bench-provider STORE=postgres`, which starts a
# throwaway server with scripts/with-postgres.sh): the keys are also applied
# on the shared PostgreSQL store (a fresh database in KEYSHIFT_TEST_PG_URL
# each round, master key in a file) and the headline PostgreSQL / SQLite
# ratio of the keys apply is printed (target <= 1.10).
# Shared machines are noisy: each case runs ROUNDS times (default 3),
# interleaved, and the medians are compared.
set -euo pipefail
N=${1:-1000}
ROUNDS=${ROUNDS:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${KEYSHIFT_RELEASE_DIR:-$ROOT/target/release}/terraform-provider-keyshift
TF=${TERRAFORM:-terraform}
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 2; }
STORE=${STORE:-sqlite}
case "$STORE" in
sqlite) ;;
postgres)
  [ -n "${KEYSHIFT_TEST_PG_URL:-}" ] || {
    echo "STORE=postgres needs KEYSHIFT_TEST_PG_URL: run under scripts/with-postgres.sh (make bench-provider STORE=postgres does)" >&2
    exit 2
  }
  ;;
*) echo "STORE must be sqlite or postgres, not $STORE" >&2; exit 2 ;;
esac
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The provider runs behind /usr/bin/time so each process's peak RSS and CPU
# time are recorded (one line per provider process: KB user sys).
mkdir -p "$WORK/bin"
RSS_LOG=$WORK/rss.log
cat > "$WORK/bin/terraform-provider-keyshift" <<SH
#!/bin/sh
exec /usr/bin/time -f '%M %U %S' -a -o "$RSS_LOG" "$BIN" "\$@"
SH
chmod +x "$WORK/bin/terraform-provider-keyshift"
printf 'provider_installation {\n  dev_overrides {\n    "keyshift/keyshift" = "%s"\n  }\n  direct {}\n}\n' "$WORK/bin" > "$WORK/cli.tfrc"
export TF_CLI_CONFIG_FILE=$WORK/cli.tfrc TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

REQ='terraform {
  required_providers {
    keyshift = { source = "keyshift/keyshift" }
  }
}'
CFG=$WORK/cfg
mkdir -p "$CFG"
cat > "$CFG/aliases.tf" <<HCL
$REQ
resource "keyshift_key" "k" {}
resource "keyshift_alias" "a" {
  count  = $N
  name   = "alias/bench-\${count.index}"
  key_id = keyshift_key.k.id
}
HCL
cat > "$CFG/keys.tf" <<HCL
$REQ
resource "keyshift_key" "k" {
  count       = $N
  description = "bench \${count.index}"
}
HCL
cat > "$CFG/data.tf" <<HCL
resource "terraform_data" "d" {
  count = $N
  input = "bench \${count.index}"
}
HCL

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
# apply CASE ROUND [FILE]: applies $CFG/FILE.tf (default CASE.tf) in a
# fresh directory (fresh state and store); prints the wall time of
# `terraform apply`. Case pgkeys uses a fresh PostgreSQL database.
apply() {
  local dir=$WORK/$1-$2 t0 t1
  mkdir -p "$dir" && cp "$CFG/${3:-$1}.tf" "$dir/main.tf"
  local env=()
  if [ "$1" = pgkeys ]; then
    local db=ks_bench_$2_$$
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -d "$KEYSHIFT_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >&2
    # The server's URL with the database replaced (query parameters kept).
    local url
    url=$(sed -E "s#^([a-z]+://[^/?]*)(/[^?]*)?#\1/$db#" <<<"$KEYSHIFT_TEST_PG_URL")
    env=(KEYSHIFT_STORE="$url" KEYSHIFT_MASTER_KEY_FILE="$dir/master.key")
  fi
  t0=$(now)
  (cd "$dir" && env -u KEYSHIFT_STORE -u KEYSHIFT_MASTER_KEY_FILE "${env[@]}" "$TF" apply -input=false -no-color -auto-approve >"$dir/apply.log" 2>&1) ||
    { echo "apply $1 failed:" >&2; tail -20 "$dir/apply.log" >&2; exit 1; }
  t1=$(now)
  calc "$t1 - $t0"
}
per_instance() { calc "int($(wc -c <"$WORK/$1-1/terraform.tfstate") / $N)"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A T
for r in $(seq 1 "$ROUNDS"); do
  T[data]+="$(apply data "$r") "
  : >"$RSS_LOG"
  T[keys]+="$(apply keys "$r") "
  CPU+="$(awk '{ s += $2 + $3 } END { print s }' "$RSS_LOG") "
  if [ "$r" = 1 ]; then
    # Pad terraform_data's input (stored twice: input and output) so its
    # state file is as large as the keys' one.
    pad=$(calc "int(($(wc -c <"$WORK/keys-1/terraform.tfstate") - $(wc -c <"$WORK/data-1/terraform.tfstate")) / (2 * $N))")
    [ "$pad" -gt 0 ] || pad=0
    sed "s/input = \"bench \${count.index}\"/input = \"bench \${count.index} $(head -c "$pad" /dev/zero | tr '\0' x)\"/" \
      "$CFG/data.tf" >"$CFG/padded.tf"
  fi
  T[padded]+="$(apply padded "$r") "
  T[aliases]+="$(apply aliases "$r") "
  if [ "$STORE" = postgres ]; then
    cp "$RSS_LOG" "$WORK/rss.keep" && : >"$RSS_LOG"
    T[pgkeys]+="$(apply pgkeys "$r" keys) "
    PGCPU+="$(awk '{ s += $2 + $3 } END { print s }' "$RSS_LOG") "
    PGRSS+="$(sort -n "$RSS_LOG" | tail -1 | cut -d' ' -f1) "
    cp "$WORK/rss.keep" "$RSS_LOG"
    psql -X -q -d "$KEYSHIFT_TEST_PG_URL" -c "DROP DATABASE IF EXISTS ks_bench_${r}_$$" >&2
  fi
  rm -rf "$WORK"/*-"$r"/.keyshift
done
med() { tr ' ' '\n' <<<"${T[$1]}" | grep . | median; }
data_s=$(med data) keys_s=$(med keys) padded_s=$(med padded) alias_s=$(med aliases)
peak_kb=$(sort -n "$RSS_LOG" | tail -1 | cut -d' ' -f1)

cpu_s=$(tr ' ' '\n' <<<"$CPU" | grep . | median)
ratio=$(calc "$keys_s / $padded_s")
cpu_ms=$(calc "$cpu_s * 1000 / $N")
peak_mb=$(calc "$peak_kb / 1024")
verdict() { awk "BEGIN { print ($1) ? \"PASS\" : \"MISS\" }"; }

printf 'N=%d, median of %d rounds (all rounds: see below)\n' "$N" "$ROUNDS"
printf 'HEADLINE keys/padded terraform_data: %5.2f  (target <= 1.10) %s\n' "$ratio" "$(verdict "$ratio <= 1.10")"
printf 'HEADLINE provider CPU per key:       %5.2f ms (target <= 1 ms) %s\n' "$cpu_ms" "$(verdict "$cpu_ms <= 1")"
printf 'HEADLINE provider peak RSS:          %5.1f MB (target <= 40 MB) %s\n' "$peak_mb" "$(verdict "$peak_mb <= 40")"
printf 'keyshift_key apply:   %6.2f s  (%d state bytes per instance)\n' "$keys_s" "$(per_instance keys)"
printf 'padded terraform_data apply: %6.2f s  (%d state bytes per instance)\n' "$padded_s" "$(per_instance padded)"
printf 'terraform_data apply: %6.2f s  (%d state bytes per instance; keys/data %.2f, context only)\n' \
  "$data_s" "$(per_instance data)" "$(calc "$keys_s / $data_s")"
printf 'keyshift_alias apply: %6.2f s  (ratio to data %.2f)\n' "$alias_s" "$(calc "$alias_s / $data_s")"
printf 'provider CPU during a keys apply: %s s (user + sys, per round)\n' "$CPU"
if [ "$STORE" = postgres ]; then
  pg_s=$(med pgkeys)
  pg_ratio=$(calc "$pg_s / $keys_s")
  pg_cpu_ms=$(calc "$(tr ' ' '\n' <<<"$PGCPU" | grep . | median) * 1000 / $N")
  printf 'HEADLINE keys on PostgreSQL/SQLite:  %5.2f  (target <= 1.10) %s\n' "$pg_ratio" "$(verdict "$pg_ratio <= 1.10")"
  pg_rss_mb=$(calc "$(tr ' ' '\n' <<<"$PGRSS" | grep . | sort -n | tail -1) / 1024")
  printf 'keyshift_key apply on PostgreSQL: %6.2f s  (provider CPU %.2f ms per key, peak RSS %.1f MB)\n' "$pg_s" "$pg_cpu_ms" "$pg_rss_mb"
fi
cases="data keys padded aliases"
[ "$STORE" = postgres ] && cases+=" pgkeys"
for c in $cases; do printf '  %-8s %s\n' "$c" "${T[$c]}"; done
