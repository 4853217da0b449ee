"""Migration's words: wave questions and the templated failure explanation."""

from __future__ import annotations

from typing import Any

from servers.prompts import prompt_text
from tools.sync.contracts import SyncStatus, WaveAdoption
from tools.waves.contracts import WaveReconciliation, WaveStatus, WaveSummary
from tools.waves.statuses import WaveState

APPROVE_WAVE = "Run wave {wave}? Every quality gate passed."
APPROVE_WAVE_FAILED = (
    "Wave {wave} has failed gates: {gates}. Override each with a reason "
    "(override GATE REASON) to run it anyway, or stop."
)
AFTER_WAVE = "Wave {wave} is migrated and reconciled. Continue with wave {next}?"
KEEP_IN_STEP_SKIPPED = (
    "Wave {wave} is not kept in step with legacy: {why}. Run later: data-mash sync adopt {wave}"
)
AFTER_FAILURE = (
    "Wave {wave} did not complete. Retry it (it resumes from its last checkpoint), "
    "roll it back, skip to the next wave, or stop?"
)


def planned_waves(waves: list[dict[str, Any]]) -> list[WaveSummary]:
    """The plan's waves as kept in the journey state (plan_waves' WaveSummary, as JSON)."""
    return [WaveSummary.model_validate(w) for w in waves]


def succeeded(result: WaveStatus) -> bool:
    """By the saga's status; ``failed`` counts policies the target refused, not the run."""
    return result.status == WaveState.COMPLETED


def steps_of(result: WaveStatus) -> list[dict[str, Any]]:
    """The saga's milestones in order: name, status, error."""
    return [
        {"name": name, "status": step.status.value, "error": step.error}
        for name, step in result.steps.items()
    ]


def explain_failure(
    wave_id: str, result: WaveStatus, reconciliation: WaveReconciliation | None
) -> str:
    """What failed, what was compensated (in the order it was undone) and what to do next."""
    steps = steps_of(result)
    failed = next((s for s in steps if s["status"] == WaveState.FAILED), None)
    # Compensation undoes completed steps in reverse order.
    compensated = [s["name"] for s in reversed(steps) if s["status"] == WaveState.COMPENSATED]
    if reconciliation is not None and not reconciliation.passed:
        next_steps = (
            "the run completed but source and target do not reconcile; look at the "
            "differences above (counts, control totals), fix the mapping or the "
            "target, then roll the wave back and run it again"
        )
    elif failed:
        next_steps = (
            f"fix the cause of the '{failed['name']}' failure, then retry: the wave "
            "resumes from its last committed batch; or roll it back to undo what it "
            "did"
        )
    else:
        next_steps = "check wave_status for details, then retry or roll the wave back"
    return prompt_text(
        "explain_wave_failure",
        wave_id=wave_id,
        status=result.status.value,
        migrated=result.migrated,
        failed=result.failed,
        failed_step=failed["name"] if failed else "none reported",
        error=(failed or {}).get("error") or result.error or "no error message",
        compensated=", ".join(compensated) or "nothing (no step had completed)",
        next_steps=next_steps,
    )


#: Counts of the reconciliation report shown when they are not zero.
COUNTS = (
    "matched",
    "missing_in_target",
    "unexpected_in_target",
    "different",
    "duplicates_in_source",
    "duplicates_in_target",
    "rows_without_id",
    "groups_compared",
)


def reconciliation_rows(found: WaveReconciliation) -> list[list[Any]]:
    """Rows of check, source, target, ok: record counts, control totals, then other counts."""
    report = found.report
    rows: list[list[Any]] = [
        [
            "records",
            report.source_count,
            report.target_count,
            report.source_count == report.target_count,
        ]
    ]
    for name, total in report.totals.items():
        rows.append([f"total {name}", str(total.source), str(total.target), total.matches])
    rows += [[name, getattr(report, name), "", ""] for name in COUNTS if getattr(report, name)]
    return rows


def keep_in_step_title(wave: str, adopted: WaveAdoption) -> str:
    """The note heading after a wave: who owns its policies now, what sync follows."""
    ledger = adopted.ledger
    text = f"Wave {wave} kept in step: {ledger.changed} policies now owned by {ledger.owner.value}"
    if adopted.adopted is not None:
        text += (
            f"; sync follows {adopted.adopted.policies} policies as {adopted.adopted.target} "
            "holds them"
        )
    return text


def keep_in_step_next(status: SyncStatus) -> str:
    """What the person does next to keep legacy and new in step."""
    return (
        f"Legacy and new: {status.backlog} changes waiting, {status.conflicts} conflicts open. "
        "Capture each later legacy extract with data-mash sync capture, then data-mash sync run."
    )
