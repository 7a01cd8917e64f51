#!/usr/bin/env bash
# Idempotent: make <repo>/.venv-moto with moto's standalone server, the local
# AWS KMS endpoint the integration tests talk to. Does nothing when the
# server is already installed and starts; quiet on success.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv-moto"
server="$venv/bin/moto_server"
spec='moto[server]>=5,<6'

healthy() {
  [[ -x "$server" ]] && "$venv/bin/python" -c 'import moto.server, flask' >/dev/null 2>&1
}

if healthy; then
  exit 0
fi

fail() {
  echo "setup-moto: $*" >&2
  if [[ -n "${log:-}" && -s "$log" ]]; then
    echo "setup-moto: last lines of the pip output:" >&2
    tail -n 20 "$log" >&2
  fi
  exit 1
}

command -v python3 >/dev/null 2>&1 || fail "python3 not found (install python3 and python3-venv)"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# A broken venv (interrupted install, moved python) is rebuilt from scratch.
rm -rf "$venv"
python3 -m venv "$venv" >"$log" 2>&1 \
  || fail "python3 -m venv $venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >>"$log" 2>&1 \
  || fail "pip install '$spec' into $venv failed"
healthy || fail "moto_server is still missing or broken in $venv after install"
