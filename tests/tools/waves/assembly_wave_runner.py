"""Runs one wave of an assembly plan in a subprocess, pausing at a saga point to be SIGKILLed.

Usage: python -m tests.tools.waves.assembly_wave_runner HOME WAVE_ID [POINT:MILESTONE:BATCH]
When the hook reaches the point it writes HOME/at-point and sleeps until it is killed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.settings import Settings
from core.store import open_store
from tests.tools.waves.kill_points import pause_at
from tools.waves import WaveContext, run_wave


def main() -> None:
    home, wave_id = Path(sys.argv[1]), sys.argv[2]
    stop = sys.argv[3] if len(sys.argv) > 3 else None
    settings = Settings(home=home, embedding_provider="none")
    engine = open_store(settings)
    pause_at(stop, home)
    status = run_wave(WaveContext.default(engine, settings), wave_id)
    print(json.dumps({"status": status.status, "migrated": status.migrated}))


if __name__ == "__main__":
    main()
