#!/usr/bin/env bash
# Benchmark: `terraform apply` of N keyshift_key resources vs N built-in
# terraform_data resources, same machine, same run. Prints both wall times,
# the ratio and the provider's peak RSS. Targets (issue 2): ratio <= 1.2 at
# N=1000, provider peak RSS <= 40 MB. Not part of `make test`.
#
# It also applies N keyshift_alias resources (3 attributes, the same
# provider/RPC path as keys): that ratio isolates the provider's own
# per-resource overhead from Terraform core's per-instance state handling,
# which grows with the number of attributes in each instance's state.
set -euo pipefail
N=${1:-1000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/target/release/terraform-provider-keyshift
TF=${TERRAFORM:-terraform}
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The provider runs behind /usr/bin/time so each process's peak RSS is recorded.
mkdir -p "$WORK/bin"
RSS_LOG=$WORK/rss.log
cat > "$WORK/bin/terraform-provider-keyshift" <<SH
#!/bin/sh
exec /usr/bin/time -f %M -a -o "$RSS_LOG" "$BIN" "\$@"
SH
chmod +x "$WORK/bin/terraform-provider-keyshift"
printf 'provider_installation {\n  dev_overrides {\n    "keyshift/keyshift" = "%s"\n  }\n  direct {}\n}\n' "$WORK/bin" > "$WORK/cli.tfrc"
export TF_CLI_CONFIG_FILE=$WORK/cli.tfrc TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

mkdir -p "$WORK/keys" "$WORK/data" "$WORK/aliases"
cat > "$WORK/aliases/main.tf" <<HCL
terraform {
  required_providers {
    keyshift = { source = "keyshift/keyshift" }
  }
}
resource "keyshift_key" "k" {}
resource "keyshift_alias" "a" {
  count  = $N
  name   = "alias/bench-\${count.index}"
  key_id = keyshift_key.k.id
}
HCL
cat > "$WORK/keys/main.tf" <<HCL
terraform {
  required_providers {
    keyshift = { source = "keyshift/keyshift" }
  }
}
resource "keyshift_key" "k" {
  count       = $N
  description = "bench \${count.index}"
}
HCL
cat > "$WORK/data/main.tf" <<HCL
resource "terraform_data" "d" {
  count = $N
  input = "bench \${count.index}"
}
HCL

now() { date +%s.%N; }
apply() { (cd "$1" && "$TF" apply -input=false -no-color -auto-approve >"$WORK/$(basename "$1").log" 2>&1); }

t0=$(now); apply "$WORK/data"; t1=$(now)
t2=$(now); apply "$WORK/keys"; t3=$(now)
t4=$(now); apply "$WORK/aliases"; t5=$(now)
calc() { awk "BEGIN { print $1 }"; }
data_s=$(calc "$t1 - $t0")
keys_s=$(calc "$t3 - $t2")
ratio=$(calc "$keys_s / $data_s")
alias_s=$(calc "$t5 - $t4")
alias_ratio=$(calc "$alias_s / $data_s")
peak_kb=$(sort -n "$RSS_LOG" | tail -1)
printf 'N=%d\n' "$N"
printf 'terraform_data apply: %.2f s\n' "$data_s"
printf 'keyshift_key apply:   %.2f s\n' "$keys_s"
printf 'ratio (keys/data):    %.2f  (target <= 1.20)\n' "$ratio"
printf 'keyshift_alias apply: %.2f s (ratio %.2f: provider overhead alone)\n' "$alias_s" "$alias_ratio"
printf 'provider peak RSS:    %.1f MB (target <= 40 MB)\n' "$(calc "$peak_kb / 1024")"
