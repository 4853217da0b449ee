"""Migration's words: wave questions and the templated failure explanation."""

from __future__ import annotations

from typing import Any

from servers.prompts import prompt_text

APPROVE_WAVE = "Run wave {wave}? Every quality gate passed."
APPROVE_WAVE_FAILED = (
    "Wave {wave} has failed gates: {gates}. Override each with a reason "
    "(override GATE REASON) to run it anyway, or stop."
)
AFTER_WAVE = "Wave {wave} is migrated and reconciled. Continue with wave {next}?"
AFTER_FAILURE = (
    "Wave {wave} did not complete. Retry it (it resumes from its last checkpoint), "
    "roll it back, skip to the next wave, or stop?"
)
SUCCESS = ("completed", "succeeded", "success", "done", "ok", "migrated")


def wave_id_of(wave: dict[str, Any]) -> str:
    return str(wave.get("wave_id") or wave.get("id") or wave.get("number"))


def succeeded(result: dict[str, Any]) -> bool:
    """By the saga's status; ``failed`` counts policies the target refused, not the run."""
    return str(result.get("status", "")).lower() in SUCCESS


def reconciled(result: dict[str, Any]) -> bool:
    for key in ("passed", "ok", "matched", "balanced", "reconciled"):
        if key in result:
            return bool(result[key])
    return str(result.get("status", "ok")).lower() in ("ok", "matched", "balanced", "reconciled")


def steps_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    steps = result.get("steps") or []
    if isinstance(steps, dict):
        steps = [
            {"name": k, **(v if isinstance(v, dict) else {"status": v})} for k, v in steps.items()
        ]
    return [
        {
            "name": s.get("name") or s.get("step"),
            "status": s.get("status"),
            "error": s.get("error") or s.get("message"),
        }
        for s in steps
    ]


def explain_failure(
    wave_id: str, result: dict[str, Any], reconciliation: dict[str, Any] | None
) -> str:
    """What failed, what was compensated (in the order it was undone) and what to do next."""
    steps = steps_of(result)
    failed = next((s for s in steps if str(s["status"]).lower() in ("failed", "error")), None)
    compensated = [
        s["name"]
        for s in steps
        if "compensat" in str(s["status"]).lower() or "rolled" in str(s["status"]).lower()
    ]
    listed = result.get("compensated")
    if isinstance(listed, list) and listed:
        compensated = [
            str(c if isinstance(c, str) else c.get("name") or c.get("step")) for c in listed
        ]
    else:
        compensated.reverse()  # compensation undoes completed steps in reverse order
    if reconciliation is not None and not reconciled(reconciliation):
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
        status=result.get("status", "unknown"),
        migrated=result.get("migrated", 0),
        failed=result.get("failed", 0),
        failed_step=failed["name"] if failed else "none reported",
        error=(failed or {}).get("error") or result.get("error") or "no error message",
        compensated=", ".join(compensated) or "nothing (no step had completed)",
        next_steps=next_steps,
    )


def reconciliation_rows(found: dict[str, Any]) -> list[list[Any]]:
    """Rows of check, source, target, ok: record counts, control totals, then other counts."""
    report = found.get("report") if isinstance(found.get("report"), dict) else found
    if isinstance(report.get("checks"), list):
        return [
            [
                c.get("check") or c.get("name"),
                c.get("source"),
                c.get("target"),
                c.get("ok", c.get("matched")),
            ]
            for c in report["checks"]
        ]
    rows: list[list[Any]] = []
    if "source_count" in report:
        rows.append(
            [
                "records",
                report["source_count"],
                report.get("target_count"),
                report["source_count"] == report.get("target_count"),
            ]
        )
    for name, total in (report.get("totals") or {}).items():
        if isinstance(total, dict):
            rows.append(
                [f"total {name}", total.get("source"), total.get("target"), total.get("matches")]
            )
    skip = {"source_count", "target_count", "passed", "wave_id"}
    rows += [
        [name, value, "", ""]
        for name, value in report.items()
        if name not in skip and isinstance(value, int | float) and value
    ]
    return rows
