"""Runs one wave in a subprocess, pausing at a chosen saga point so the test can SIGKILL it.

Usage: python -m tests.tools.waves.crash_runner HOME FOLDERS_JSON WAVE_ID [POINT:MILESTONE:BATCH]
When the hook reaches the point it writes HOME/at-point and sleeps until it is killed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.settings import Settings
from core.store import open_store
from tests.tools.waves.helpers import make_context
from tests.tools.waves.kill_points import pause_at
from tools.waves import run_wave


def main() -> None:
    home, folders, wave_id = Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
    stop = sys.argv[4] if len(sys.argv) > 4 else None
    settings = Settings(home=home, batch_size=100)
    engine = open_store(settings)
    wave_context = make_context(engine, settings, {k: Path(v) for k, v in folders.items()})
    pause_at(stop, home)
    status = run_wave(wave_context, wave_id)
    print(json.dumps({"status": status.status, "migrated": status.migrated, "error": status.error}))


if __name__ == "__main__":
    main()
