#!/usr/bin/env bash
# Benchmark of keyshift (not a timed test). Run from anywhere:
#   hcl-tool/bench.sh            (the lead wires `make bench-hcl` to it)
# (a) rewrite: >= 20 MB of .tf (the dev corpus replicated) with
#     `keyshift rewrite --insert-everywhere ... --check` vs
#     `terraform fmt -check -recursive`; target ratio <= 0.25.
# (b) plan-check over a generated 50,000-resource plan vs an equivalent jq
#     filter; target >= 3x faster than jq and peak RSS < 2x the file size.
# (c) plan-check --suggest-moves on that plan and on a worst case of pairs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CORPUS="${CORPUS:-$ROOT/../shared/corpus-dev}"
TERRAFORM="${TERRAFORM:-$(command -v terraform || echo /usr/local/bin/terraform)}"
JQ="${JQ:-$(command -v jq || echo /usr/bin/jq)}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export TF_CLI_CONFIG_FILE="$WORK/empty.tfrc"
: >"$TF_CLI_CONFIG_FILE"

(cd "$ROOT" && cargo build --release -p keyshift --quiet)
KS="${KEYSHIFT_RELEASE_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}/keyshift"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

# ---- (a) rewrite vs terraform fmt -------------------------------------------
TREE="$WORK/tree"
mkdir -p "$TREE"
i=0
tf_bytes() { find "$TREE" -name '*.tf' -print0 | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1; }
while [ "$(tf_bytes)" -lt $((20 * 1024 * 1024)) ]; do
  cp -r "$CORPUS" "$TREE/copy$i"
  i=$((i + 1))
done
BYTES=$(tf_bytes)
FILES=$(find "$TREE" -name '*.tf' | wc -l)
echo "rewrite: $FILES .tf files, $((BYTES / 1024 / 1024)) MB ($i copies of the corpus)"

t0=$(now)
"$TERRAFORM" fmt -check -recursive "$TREE" >/dev/null || true
t1=$(now)
"$KS" rewrite "$TREE" --insert-everywhere 'keyshift_instance_id="kst-bench"' --attr '*.keyshift_instance_id' --check --format json >"$WORK/ks.json" || true
t2=$(now)
FMT=$(elapsed "$t0" "$t1")
KST=$(elapsed "$t1" "$t2")
CHANGED=$("$JQ" '.changed_files | length' "$WORK/ks.json")
printf 'rewrite: terraform fmt -check %.2fs, keyshift %.2fs (%s files need edits), ratio %.3f (target <= 0.25)\n' \
  "$FMT" "$KST" "$CHANGED" "$(echo "$KST / $FMT" | bc -l)"

# ---- (b) plan-check vs jq ---------------------------------------------------
PLAN="$WORK/plan.json"
python3 - "$PLAN" <<'PY'
import json, sys
types = ["keyshift_key", "keyshift_secret", "aws_kms_key", "aws_s3_bucket", "terraform_data"]
acts = [["no-op"], ["update"], ["no-op"], ["delete", "create"], ["no-op"], ["create"], ["delete"]]
with open(sys.argv[1], "w") as f:
    f.write('{"format_version":"1.2","terraform_version":"1.11.4","planned_values":{},"complete":true,"errored":false,"resource_changes":[')
    for i in range(50000):
        t = types[i % len(types)]
        a = acts[i % len(acts)]
        before = {"id": f"id-{i}", "instance_id": f"kst-{i % 7}", "name": f"res-{i}",
                  "description": "x" * 200, "tags": {"env": "prod", "team": "sec", "n": str(i)}}
        after = dict(before)
        if a == ["update"] and i % 3 == 0:
            after["instance_id"] = None
        rc = {"address": f"{t}.r{i}", "mode": "managed", "type": t, "name": f"r{i}",
              "provider_name": "registry.terraform.io/x/y",
              "change": {"actions": a, "before": before, "after": after, "after_unknown": {},
                         "before_sensitive": {"tags": {}}, "after_sensitive": {"tags": {}}}}
        if i: f.write(",")
        f.write(json.dumps(rc))
    f.write("]}")
PY
PSIZE=$(stat -c %s "$PLAN")
echo "plan-check: 50000 resource changes, $((PSIZE / 1024 / 1024)) MB"
FILTER='[.resource_changes[] | select(.mode == "managed")
  | select(.type as $t | ["keyshift_key","keyshift_secret","keyshift_ekms_config","aws_kms_key","alicloud_kms_key","google_kms_crypto_key","azurerm_key_vault_key","vault_transit_secret_backend_key"] | index($t))
  | select((.change.actions | index("delete")) or (.change.actions == ["forget"])
      or ((.type == "keyshift_key" or .type == "keyshift_secret") and (.change.actions | index("update"))
          and .change.before.instance_id != null and .change.after.instance_id == null))
  | {address, actions: .change.actions}] | length'
t0=$(now)
JQN=$("$JQ" "$FILTER" "$PLAN")
t1=$(now)
if [ -x /usr/bin/time ]; then
  /usr/bin/time -v "$KS" plan-check "$PLAN" --format json >"$WORK/pc.json" 2>"$WORK/time.txt" || true
  RSS_KB=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/time.txt")
else
  "$KS" plan-check "$PLAN" --format json >"$WORK/pc.json" &
  pid=$!; RSS_KB=0
  while kill -0 "$pid" 2>/dev/null; do
    r=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${r:-0}" -gt "$RSS_KB" ] && RSS_KB=$r
  done
  wait "$pid" || true
fi
t2=$(now)
"$KS" plan-check "$PLAN" --format json >/dev/null || true
t3=$(now)
JQT=$(elapsed "$t0" "$t1")
KST=$(elapsed "$t2" "$t3")
KSN=$("$JQ" '.summary.errors + .summary.warnings' "$WORK/pc.json")
printf 'plan-check: jq %.3fs (%s matches), keyshift %.3fs (%s findings), speedup %.1fx (target >= 3)\n' \
  "$JQT" "$JQN" "$KST" "$KSN" "$(echo "$JQT / $KST" | bc -l)"
printf 'plan-check: peak RSS %d KB = %.2fx the plan size (target < 2)\n' \
  "$RSS_KB" "$(echo "$RSS_KB * 1024 / $PSIZE" | bc -l)"

# ---- (c) plan-check --suggest-moves ------------------------------------------
# On (b)'s plan (target: at most 2x plain plan-check, peak RSS < 2x the file),
# and on a worst case for the pairing, reported only: every change of a
# 50,000-resource plan is a candidate (25,000 renamed keys, a delete and a
# create of the same configuration each).
MPLAN="$WORK/moves.json"
python3 - "$MPLAN" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write('{"format_version":"1.2","terraform_version":"1.11.4","planned_values":{},"complete":true,"errored":false,"resource_changes":[')
    for i in range(25000):
        cfg = {"description": f"key {i}", "spec": "AES_256", "usage": "ENCRYPT/DECRYPT",
               "enabled": True, "tags": {"env": "prod", "n": str(i)}, "instance_id": None}
        before = dict(cfg, id=f"key-{i}", creation_date="2026-01-01T00:00:00Z", current_version=f"v-{i}")
        dele = {"address": f"keyshift_key.old{i}", "mode": "managed", "type": "keyshift_key", "name": f"old{i}",
                "change": {"actions": ["delete"], "before": before, "after": None, "after_unknown": {}}}
        crea = {"address": f"keyshift_key.new{i}", "mode": "managed", "type": "keyshift_key", "name": f"new{i}",
                "change": {"actions": ["create"], "before": None, "after": cfg,
                           "after_unknown": {"id": True, "creation_date": True, "current_version": True}}}
        f.write(("," if i else "") + json.dumps(dele) + "," + json.dumps(crea))
    f.write("]}")
PY
MSIZE=$(stat -c %s "$MPLAN")
rss_of() { # peak RSS in KB of the command (0 without /usr/bin/time)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$@" >/dev/null 2>"$WORK/rss.txt" || true
    awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/rss.txt"
  else
    echo 0
  fi
}
SRSS_KB=$(rss_of "$KS" plan-check "$PLAN" --suggest-moves --format json)
t4=$(now)
"$KS" plan-check "$PLAN" --suggest-moves --format json >/dev/null || true
t5=$(now)
printf 'plan-check --suggest-moves on (b): %.3fs = %.2fx plain plan-check (target <= 2), peak RSS %.2fx the plan size (target < 2)\n' \
  "$(elapsed "$t4" "$t5")" "$(echo "$(elapsed "$t4" "$t5") / $KST" | bc -l)" "$(echo "$SRSS_KB * 1024 / $PSIZE" | bc -l)"
MRSS_KB=$(rss_of "$KS" plan-check "$MPLAN" --suggest-moves --format json)
t6=$(now)
"$KS" plan-check "$MPLAN" --suggest-moves --format json >"$WORK/mv.json" || true
t7=$(now)
printf 'plan-check --suggest-moves, worst case (%d MB, 25000 pairs): %.3fs, %s moves, peak RSS %.2fx the plan size\n' \
  "$((MSIZE / 1024 / 1024))" "$(elapsed "$t6" "$t7")" "$("$JQ" '.moves.moves | length' "$WORK/mv.json")" \
  "$(echo "$MRSS_KB * 1024 / $MSIZE" | bc -l)"
