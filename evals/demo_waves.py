"""The demo's own waves: which waves earlier demo runs migrated, so a re-run can undo them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.errors import InputError, NotFoundError
from core.ids import tenant_path
from core.settings import Settings
from tools.waves import (
    PlanCriteria,
    WaveContext,
    WaveState,
    check_gates,
    generate_plan,
    get_wave_status,
    rollback_wave,
    run_wave,
)
from tools.waves.contracts import Plan, WaveStatus

StepProgress = Callable[[str, int, int], None]  # (step label, done, total)
#: What a demo adds to its wave report once wave 0 ran: top-level keys, and "wave0" keys.
WaveExtras = Callable[[WaveContext, Plan, PlanCriteria, WaveStatus], dict[str, Any]]

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


def plan_and_run_wave0(
    engine: Engine,
    settings: Settings,
    *,
    source_ids: list[str] | None = None,
    assembly_ids: list[str] | None = None,
    progress: StepProgress | None = None,
    extras: WaveExtras | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Roll back the previous demo's wave 0, plan waves and run the new wave 0 end to end.

    Plans from sources or from assemblies (whichever is given). Returns the wave report and
    wave 0's reconciliation; "nothing to migrate" is a result of the journey, not a failure.
    """

    started = time.perf_counter()
    context = WaveContext.default(engine, settings, settings.tenant)
    rolled_back = roll_back_previous_demo(context, settings)

    def nothing(reason: str) -> tuple[dict[str, Any], dict[str, Any]]:
        result = {"status": "nothing to migrate", "reason": reason}
        seconds = round(time.perf_counter() - started, 2)
        return {**result, "rolled_back": rolled_back, "seconds": seconds}, result

    # The route milestone re-applies the example rules with each policy's wave, so wave 0's
    # clean candidates go to the new platform (rule wave0_clean_candidates).
    criteria = PlanCriteria(rule_set="example_rules")
    try:
        plan = generate_plan(
            context,
            source_ids=source_ids,
            assembly_ids=assembly_ids,
            target="new_platform",
            criteria=criteria,
        )
    except InputError as exc:
        return nothing(exc.message)  # every policy stays on legacy or awaits data fixes
    wave0 = next((w for w in plan.waves if w.number == 0), None)
    if wave0 is None:
        return nothing("no clean candidate for wave 0")  # an earlier run migrated them
    remember_demo_wave(settings, wave0.wave_id)
    gates = check_gates(context, wave0.wave_id)
    status = run_wave(
        context,
        wave0.wave_id,
        progress=(lambda m, d, t: progress(f"wave 0: {m}", d, t or 0)) if progress else None,
    )
    waves: dict[str, Any] = {
        "plan_id": plan.plan_id,
        "waves": [w.model_dump(mode="json") for w in plan.waves],
        "wave0": {
            "wave_id": wave0.wave_id,
            "status": status.status,
            "gates": gates.model_dump(mode="json"),
            "steps": {k: v.status for k, v in status.steps.items()},
            "migrated": status.migrated,
            "failed": status.failed,
            "routed_elsewhere": int(status.steps["migrate"].outcome.get("skipped", 0)),
            "error": status.error,
            "step_errors": {k: v.error for k, v in status.steps.items() if v.error},
        },
        "rolled_back": rolled_back,
    }
    if extras is not None:
        added = extras(context, plan, criteria, status)
        waves["wave0"].update(added.pop("wave0", {}))
        waves.update(added)
    waves["seconds"] = round(time.perf_counter() - started, 2)
    return waves, status.validation or {"status": "not run"}
