"""Runs one wave command in a subprocess, pausing at a chosen point so a test can SIGKILL it.

Usage: python -m tests.tools.waves.integrity_runner SETTINGS_JSON FOLDERS_JSON ACTION WAVE_ID
       [STOP] [FAIL_MILESTONE]

ACTION is ``run`` or ``rollback``; STOP is ``point:milestone:batch`` of a saga hook
(``before_work``, ``after_work``, ``after_commit``, ``compensated_before_commit``); when the hook
reaches it the runner writes HOME/at-point and sleeps until it is killed. FAIL_MILESTONE makes
that milestone raise (so the run compensates automatically). Prints the wave status as JSON and
exits 0, or prints the one-line error and exits 1 (as the CLI would).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from core.errors import DataMashError
from core.settings import Settings
from core.store import open_store
from tests.tools.waves.helpers import make_context
from tests.tools.waves.kill_points import pause_at
from tools.waves import rollback_wave, run_wave, saga
from tools.waves.milestones import default_milestones


def _failing(milestone: str) -> list[saga.Milestone]:
    def boom(_: Any) -> None:
        raise RuntimeError(f"injected failure in {milestone}")

    return [
        dataclasses.replace(m, run=boom) if m.name == milestone else m for m in default_milestones()
    ]


def main() -> None:
    settings = Settings(**json.loads(sys.argv[1]))
    folders = {k: Path(v) for k, v in json.loads(sys.argv[2]).items()}
    action, wave_id = sys.argv[3], sys.argv[4]
    stop = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
    fail = sys.argv[6] if len(sys.argv) > 6 else None
    engine = open_store(settings)
    context = make_context(engine, settings, folders)
    pause_at(stop, settings.home)
    milestones = _failing(fail) if fail else None
    try:
        if action == "run":
            status = run_wave(context, wave_id, milestones=milestones)
        else:
            status = rollback_wave(context, wave_id, milestones=milestones)
    except DataMashError as exc:
        print(exc.message)
        sys.exit(1)
    print(json.dumps({"status": status.status, "migrated": status.migrated, "error": status.error}))


if __name__ == "__main__":
    main()
