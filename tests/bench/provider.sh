#!/usr/bin/env bash
# Benchmark: `terraform apply` of N keyshift_key resources against controls
# on the same machine in the same run. Not part of `make test`.
#
# Every case is applied, refreshed (a plan that finds nothing to do) and
# destroyed in a fresh directory. Headline targets (printed first, each with
# PASS/MISS):
# - keys / padded terraform_data apply <= 1.05 at N=1000 (<= 1.02 from
#   N=3000). Terraform rewrites (and
#   deep-copies) the whole state after every resource it applies, so an
#   apply costs about N x (state bytes per instance) for any resource type;
#   the control is therefore built-in terraform_data padded so each
#   instance's state file entry is as large as a key's. The ratio is the
#   provider's own overhead at equal state size, and it stays meaningful as
#   keys gain attributes (the padding follows the key's measured size).
# - keys / padded terraform_data refresh <= 1.20 (destroy: context).
# - provider CPU (user + sys of every provider process) <= 1 ms per key, on
#   apply and on destroy (refresh: context).
# - provider peak RSS <= 20 MB.
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
# tf DIR LOG ARGS...: one timed terraform command in DIR; prints its wall time.
tf() {
  local dir=$1 log=$2 t0 t1
  shift 2
  t0=$(now)
  (cd "$dir" && env -u KEYSHIFT_STORE -u KEYSHIFT_MASTER_KEY_FILE "${ENVS[@]}" "$TF" "$@" -input=false -no-color >"$dir/$log.log" 2>&1) ||
    { echo "terraform $* in $dir failed:" >&2; tail -20 "$dir/$log.log" >&2; exit 1; }
  t1=$(now)
  calc "$t1 - $t0"
}
# provider_cpu: user + sys seconds of the provider processes logged since
# the last call (the log is emptied).
provider_cpu() { awk '{ s += $2 + $3 } END { print s + 0 }' "$RSS_LOG"; cat "$RSS_LOG" >>"$RSS_ALL"; : >"$RSS_LOG"; }
RSS_ALL=$WORK/rss.all
: >"$RSS_ALL"
# run CASE ROUND [FILE]: in a fresh directory (fresh state and store),
# applies $CFG/FILE.tf (default CASE.tf), then refreshes (a plan that finds
# nothing to do) and destroys; records each wall time in T[CASE.apply],
# T[CASE.refresh], T[CASE.destroy] and the provider CPU of each phase in
# C[CASE.phase]. Case pgkeys uses a fresh PostgreSQL database.
run() {
  local dir=$WORK/$1-$2 phase
  mkdir -p "$dir" && cp "$CFG/${3:-$1}.tf" "$dir/main.tf"
  ENVS=()
  if [ "$1" = pgkeys ]; then
    local db=ks_bench_$2_$$
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -d "$KEYSHIFT_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >&2
    # The server's URL with the database replaced (query parameters kept).
    local url
    url=$(sed -E "s#^([a-z]+://[^/?]*)(/[^?]*)?#\1/$db#" <<<"$KEYSHIFT_TEST_PG_URL")
    ENVS=(KEYSHIFT_STORE="$url" KEYSHIFT_MASTER_KEY_FILE="$dir/master.key")
  fi
  : >"$RSS_LOG"
  T[$1.apply]+="$(tf "$dir" apply apply -auto-approve) "
  C[$1.apply]+="$(provider_cpu) "
  [ "$1" = pgkeys ] || cp "$dir/terraform.tfstate" "$dir/applied.tfstate"
  T[$1.refresh]+="$(tf "$dir" refresh plan -detailed-exitcode) "
  C[$1.refresh]+="$(provider_cpu) "
  T[$1.destroy]+="$(tf "$dir" destroy destroy -auto-approve) "
  C[$1.destroy]+="$(provider_cpu) "
}
per_instance() { calc "int($(wc -c <"$WORK/$1-1/applied.tfstate") / $N)"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A T C
for r in $(seq 1 "$ROUNDS"); do
  run data "$r"
  run keys "$r"
  if [ "$r" = 1 ]; then
    # Pad terraform_data's input (stored twice: input and output) so its
    # state file is as large as the keys' one.
    pad=$(calc "int(($(wc -c <"$WORK/keys-1/applied.tfstate") - $(wc -c <"$WORK/data-1/applied.tfstate")) / (2 * $N))")
    [ "$pad" -gt 0 ] || pad=0
    sed "s/input = \"bench \${count.index}\"/input = \"bench \${count.index} $(head -c "$pad" /dev/zero | tr '\0' x)\"/" \
      "$CFG/data.tf" >"$CFG/padded.tf"
  fi
  run padded "$r"
  run aliases "$r"
  if [ "$STORE" = postgres ]; then
    run pgkeys "$r" keys
    psql -X -q -d "$KEYSHIFT_TEST_PG_URL" -c "DROP DATABASE IF EXISTS ks_bench_${r}_$$" >&2
  fi
  rm -rf "$WORK"/*-"$r"/.keyshift
done
med() { tr ' ' '\n' <<<"${T[$1]}" | grep . | median; }
cpu_ms() { calc "$(tr ' ' '\n' <<<"${C[$1]}" | grep . | median) * 1000 / $N"; }
verdict() { awk "BEGIN { print ($1) ? \"PASS\" : \"MISS\" }"; }
peak_mb=$(calc "$(sort -n "$RSS_ALL" | tail -1 | cut -d' ' -f1) / 1024")
ratio=$(calc "$(med keys.apply) / $(med padded.apply)")
refresh_ratio=$(calc "$(med keys.refresh) / $(med padded.refresh)")
destroy_ratio=$(calc "$(med keys.destroy) / $(med padded.destroy)")
apply_cpu=$(cpu_ms keys.apply) destroy_cpu=$(cpu_ms keys.destroy) refresh_cpu=$(cpu_ms keys.refresh)
# The apply ratio's target tightens with N: the provider's fixed costs
# (process starts, store open) weigh less the more keys there are.
target=$(awk "BEGIN { print ($N >= 3000) ? 1.02 : 1.05 }")

printf 'N=%d, median of %d rounds (all rounds: see below); load average: %s\n' "$N" "$ROUNDS" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'HEADLINE keys/padded terraform_data apply:   %5.2f  (target <= %s) %s\n' "$ratio" "$target" "$(verdict "$ratio <= $target")"
printf 'HEADLINE keys/padded terraform_data refresh: %5.2f  (target <= 1.20) %s\n' "$refresh_ratio" "$(verdict "$refresh_ratio <= 1.2")"
printf 'HEADLINE keys/padded terraform_data destroy: %5.2f  (context)\n' "$destroy_ratio"
printf 'HEADLINE provider CPU per key, apply:        %5.2f ms (target <= 1 ms) %s\n' "$apply_cpu" "$(verdict "$apply_cpu <= 1")"
printf 'HEADLINE provider CPU per key, destroy:      %5.2f ms (target <= 1 ms) %s\n' "$destroy_cpu" "$(verdict "$destroy_cpu <= 1")"
printf 'HEADLINE provider CPU per key, refresh:      %5.2f ms (context)\n' "$refresh_cpu"
printf 'HEADLINE provider peak RSS:                  %5.1f MB (target <= 20 MB) %s\n' "$peak_mb" "$(verdict "$peak_mb <= 20")"
printf 'keyshift_key apply:   %6.2f s  (%d state bytes per instance)\n' "$(med keys.apply)" "$(per_instance keys)"
printf 'padded terraform_data apply: %6.2f s  (%d state bytes per instance)\n' "$(med padded.apply)" "$(per_instance padded)"
printf 'terraform_data apply: %6.2f s  (%d state bytes per instance; keys/data %.2f, context only)\n' \
  "$(med data.apply)" "$(per_instance data)" "$(calc "$(med keys.apply) / $(med data.apply)")"
printf 'keyshift_alias apply: %6.2f s  (ratio to data %.2f)\n' "$(med aliases.apply)" "$(calc "$(med aliases.apply) / $(med data.apply)")"
if [ "$STORE" = postgres ]; then
  pg_ratio=$(calc "$(med pgkeys.apply) / $(med keys.apply)")
  printf 'HEADLINE keys on PostgreSQL/SQLite:  %5.2f  (target <= 1.10) %s\n' "$pg_ratio" "$(verdict "$pg_ratio <= 1.10")"
  printf 'keyshift_key apply on PostgreSQL: %6.2f s  (provider CPU %.2f ms per key)\n' "$(med pgkeys.apply)" "$(cpu_ms pgkeys.apply)"
fi
cases="data keys padded aliases"
[ "$STORE" = postgres ] && cases+=" pgkeys"
for c in $cases; do
  for ph in apply refresh destroy; do printf '  %-8s %-8s %s  (provider CPU s: %s)\n' "$c" "$ph" "${T[$c.$ph]}" "${C[$c.$ph]}"; done
done
