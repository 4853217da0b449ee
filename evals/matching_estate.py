"""Evaluate and calibrate the canonical matcher on the synthetic sample estate.

Definitions (per source column with a ground-truth entry; ``ground_truth/mapping.json``):

- a ground-truth target ``L[]`` (a list component without a leaf) is matched by any field
  under it (``L[].x``); otherwise the target must be equal;
- auto-accepted = proposed target with calibrated confidence >= threshold;
  precision = right accepted / accepted; recall = right accepted / columns whose ground truth
  is a target; F1 their harmonic mean;
- top-1: for a column with a target, the proposal (first candidate of a mapped column) is right;
  for a column whose ground truth is null, the column is unmapped or its best confidence is
  below the threshold. top-3: the same with the first three candidates (unmapped columns
  still show candidates to a reviewer, and count for top-3).
- ECE: of the proposal's confidence against being right (null ground truth: never right).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from core.errors import InputError
from evals.estate import generate_estate
from knowledge.embeddings.semantic import Embedder
from tools.canonical import matching
from tools.canonical.matching.calibration import (
    CALIBRATION_FILE,
    DEFAULT_THRESHOLD,
)
from tools.canonical.matching.canonical import suggest_matches
from tools.canonical.matching.metrics import expected_calibration_error
from tools.canonical.matching.types import MatchResult
from tools.content.cobol.reader import CobolReader
from tools.content.readers.registry import reader_for

READ_ROWS = 2000
CALIBRATION_SEED = 11
EVALUATION_SEED = 7


def write_estate(out_dir: Path, *, policies: int, seed: int) -> Path:
    """Generate a sample estate (``evals.estate.generate_estate``) and return its folder."""

    generate_estate(out_dir, policies=policies, seed=seed)
    return Path(out_dir)


def _reader(fmt: str) -> Any:

    try:
        return reader_for(fmt)
    except InputError:
        if fmt == "cobol":  # not registered as an entry point yet: use the built-in class
            return CobolReader
        raise


def read_source_columns(
    out_dir: Path, entry: Mapping[str, Any], rows: int = READ_ROWS
) -> dict[str, pa.Array]:
    """The first ``rows`` records of one source of ``sources.yaml``, as Arrow columns."""
    options = dict(entry.get("options") or {})
    for key in ("copybook", "layout_file"):
        if isinstance(options.get(key), str):
            options[key] = str(out_dir / options[key])
    cls = _reader(entry["format"])
    try:
        reader = cls(out_dir / entry["path"], options)
    except InputError:
        # Some readers do not take every option the estate writes (xml: encoding); retry
        # without it rather than fail the evaluation.
        options.pop("encoding", None)
        reader = cls(out_dir / entry["path"], options)
    batches: list[pa.RecordBatch] = []
    got = 0
    for batch in reader.batches(rows):
        batches.append(batch.records)
        got += batch.records.num_rows
        if got >= rows:
            break
    table = pa.Table.from_batches(batches).slice(0, rows)
    return {name: table.column(name).combine_chunks() for name in table.column_names}


def estate_sources(out_dir: Path) -> list[dict[str, Any]]:
    """The source entries of an estate's ``sources.yaml``."""
    return list(yaml.safe_load((out_dir / "sources.yaml").read_text(encoding="utf-8"))["sources"])


def is_right(predicted: str | None, truth: str | None) -> bool:
    """Ground-truth comparison (``L[]`` accepts any field of list ``L``)."""
    if truth is None or predicted is None:
        return predicted is None and truth is None
    if truth.endswith("[]"):
        return predicted.startswith(truth + ".")
    return predicted == truth


def top1_right(proposed: str | None, truth: str | None, accepted: bool) -> bool:
    """Top-1 of one column (module docstring): the proposal is the ground truth's target, or,
    for a column whose ground truth is null, nothing was auto-accepted."""
    return not accepted if truth is None else is_right(proposed, truth)


def match_estate(
    out_dir: Path, *, embedder: Embedder | None = None, calibrator: Any = None
) -> Iterable[tuple[dict[str, Any], MatchResult]]:
    """Run :func:`suggest_matches` on every source of an estate."""
    for entry in estate_sources(out_dir):
        columns = read_source_columns(out_dir, entry)
        kwargs = {"calibrator": calibrator} if calibrator is not None else {}
        yield (
            entry,
            suggest_matches(columns, embedder=embedder, source_name=entry["name"], **kwargs),
        )


def column_outcomes(
    result: MatchResult, truth: Mapping[str, str | None], threshold: float
) -> list[dict[str, Any]]:
    """Per ground-truth column: proposal, confidence and right/wrong flags."""
    rows = []
    for column, target in truth.items():
        try:
            match = result.column(column)
        except KeyError:
            match = None
        best = match.best if match else None
        ranked = [c.target for c in match.candidates] if match else []
        runner_up = match.candidates[1].score if match and len(match.candidates) > 1 else 0.0
        conf = best.confidence if best else 0.0
        accepted = best is not None and conf >= threshold
        top1 = top1_right(best.target if best else None, target, accepted)
        top3 = not accepted if target is None else any(is_right(t, target) for t in ranked[:3])
        rows.append(
            {
                "column": column,
                "truth": target,
                "proposed": best.target if best else None,
                "score": best.score if best else 0.0,
                "margin": (best.score - runner_up) if best else 0.0,
                "confidence": conf,
                "accepted": accepted,
                "right": best is not None and is_right(best.target, target),
                "top1": top1,
                "top3": top3,
                "keyless": result.keyless,
            }
        )
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Precision / recall / F1 of accepted fields, top-1 / top-3 and ECE over rows."""
    accepted = [r for r in rows if r["accepted"]]
    right = sum(1 for r in accepted if r["right"])
    positives = sum(1 for r in rows if r["truth"] is not None)
    precision = right / len(accepted) if accepted else 1.0
    recall = right / positives if positives else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "columns": len(rows),
        "accepted": len(accepted),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "top1": sum(r["top1"] for r in rows) / len(rows) if rows else 0.0,
        "top3": sum(r["top3"] for r in rows) / len(rows) if rows else 0.0,
        "ece": expected_calibration_error(
            [r["confidence"] for r in rows if r["proposed"]],
            [r["right"] for r in rows if r["proposed"]],
        ),
    }


def evaluate_on_estate(
    out_dir: Path,
    *,
    embedder: Embedder | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    calibrator: Any = None,
) -> dict[str, Any]:
    """Score the matcher against an estate's ground truth, per system and overall.

    Args:
        out_dir: a folder written by ``generate_estate``.
        embedder: optional semantic embedder.
        threshold: auto-accept confidence.
        calibrator: override of the packaged calibration.

    Returns:
        ``{"threshold", "systems": {system: metrics, ..., "overall": metrics}, "columns": rows}``
        with metrics as in the module docstring.
    """
    out_dir = Path(out_dir)
    truth = json.loads((out_dir / "ground_truth" / "mapping.json").read_text(encoding="utf-8"))
    by_system: dict[str, list[dict[str, Any]]] = {}
    for entry, result in match_estate(out_dir, embedder=embedder, calibrator=calibrator):
        rows = column_outcomes(result, truth.get(entry["name"], {}), threshold)
        for r in rows:
            r["source"] = entry["name"]
        by_system.setdefault(entry["system"], []).extend(rows)
    systems = {name: summarize(rows) for name, rows in sorted(by_system.items())}
    every = [r for rows in by_system.values() for r in rows]
    systems["overall"] = summarize(every)
    return {"threshold": threshold, "systems": systems, "columns": every}


def write_calibration(data: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write ``{mode: {x, y}}`` where the matcher loads it (or to ``path``)."""

    target = path or Path(matching.__file__).with_name(CALIBRATION_FILE)
    target.write_text(json.dumps(dict(data), indent=1) + "\n", encoding="utf-8")
    return target
