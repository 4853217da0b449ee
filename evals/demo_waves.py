"""The demo's own waves: which waves earlier demo runs migrated, so a re-run can undo them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import NotFoundError
from core.ids import tenant_path
from core.settings import Settings
from tools.waves import WaveState, get_wave_status, rollback_wave

EXAMPLE_RULES = Path(__file__).resolve().parents[1] / "knowledge" / "rules" / "example_rules.yaml"


def _demo_waves_file(settings: Settings) -> Path:

    return tenant_path(settings.path("demo"), settings.tenant, "waves.json")


def remember_demo_wave(settings: Settings, wave_id: str) -> None:

    path = _demo_waves_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps([*known, wave_id]))


def roll_back_previous_demo(context: Any, settings: Settings) -> list[str]:
    """Roll back the waves earlier demo runs migrated in this workspace (audited compensation).

    A second run proposes new mappings and plans a new wave 0 over the same policies; the target
    refuses policies another wave already put there. Undoing the demo's own earlier waves makes
    the re-run work like the first, and says so.
    """

    path = _demo_waves_file(settings)
    if not path.exists():
        return []
    undone = []
    for wave_id in json.loads(path.read_text()):
        try:
            status = get_wave_status(context, wave_id)
        except NotFoundError:
            continue
        if status.status in (WaveState.PENDING, WaveState.COMPENSATED):
            continue
        rollback_wave(context, wave_id)  # a dead holder's lease is taken over
        undone.append(wave_id)
    path.unlink()
    return undone
