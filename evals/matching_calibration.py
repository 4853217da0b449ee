"""Fit the matcher's confidence on held-out sources and check it on sources the fit never saw.

Observations are (system, raw score, right) for every ground-truth column with a proposal
(``evals.matching_estate.evaluate_on_estate`` with the identity calibrator; keyless sources
left out, their confidence is scaled separately). They come from the estate's calibration seed
(11, never the evaluation seed 7) and from the unseen-source generator's fit seeds
(:data:`FIT_SEEDS`, never the evaluation seeds the tests and benchmark use).

- :func:`fit` pools every observation into one isotonic calibrator (the packaged one);
- :func:`leave_one_system_out` refits without each system (an estate system or a naming
  convention, all seeds) and predicts that system's columns: the held-out confidences give the
  ECE and the auto-accept precision/recall curve that no fit has seen;
- :func:`threshold_for` is the lowest threshold whose held-out auto-accept precision is at
  least the target (0.98) at every higher threshold too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from evals.matching_estate import estate_sources, evaluate_on_estate, write_estate
from evals.unseen import generate_unseen
from knowledge.embeddings.semantic import Embedder
from tools.canonical.matching.calibration import Calibrator, evidence, fit_isotonic
from tools.canonical.matching.metrics import expected_calibration_error

FIT_SEEDS = (101, 102, 103)
"""Unseen-generator seeds the calibration is fitted on (evaluation uses others, e.g. 1-5)."""
UNSEEN_POLICIES = 150
PRECISION_TARGET = 0.98
CURVE = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)

Row = dict[str, Any]


def observations(out_dir: Path, *, embedder: Embedder | None = None) -> list[Row]:
    """(system, source, column, score, right) of every proposed ground-truth column."""

    identity = Calibrator((), ())
    result = evaluate_on_estate(out_dir, embedder=embedder, calibrator=identity)
    systems = _systems(out_dir)
    return [
        {
            "system": systems[r["source"]],
            "source": r["source"],
            "column": r["column"],
            "score": r["score"],
            "margin": r["margin"],
            "right": r["right"],
        }
        for r in result["columns"]
        if r["proposed"] and not r["keyless"]
    ]


def _systems(out_dir: Path) -> dict[str, str]:

    return {e["name"]: e["system"] for e in estate_sources(out_dir)}


def collect(
    *,
    embedder: Embedder | None = None,
    estate_seed: int = 11,
    policies: int = 2000,
    unseen_seeds: Sequence[int] = FIT_SEEDS,
    work: Path | None = None,
) -> list[Row]:
    """Observations from the estate's calibration seed and the unseen generator's fit seeds."""

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        rows = observations(
            write_estate(Path(tmp) / "estate", policies=policies, seed=estate_seed),
            embedder=embedder,
        )
        for seed in unseen_seeds:
            out = generate_unseen(Path(tmp) / f"unseen{seed}", seed=seed, policies=UNSEEN_POLICIES)
            rows += [
                {**r, "system": f"unseen:{r['system']}"}
                for r in observations(out, embedder=embedder)
            ]
    return rows


def fit(rows: Iterable[Row]) -> Calibrator:
    """One isotonic calibrator over every observation."""
    rows = list(rows)
    return fit_isotonic(
        [evidence(r["score"], r["margin"]) for r in rows], [r["right"] for r in rows]
    )


def leave_one_system_out(rows: Sequence[Row]) -> list[Row]:
    """Each row with ``confidence`` from a fit that never saw its system."""
    out = []
    for system in sorted({r["system"] for r in rows}):
        cal = fit(r for r in rows if r["system"] != system)
        out += [
            {**r, "confidence": cal(evidence(r["score"], r["margin"]))}
            for r in rows
            if r["system"] == system
        ]
    return out


def curve(rows: Sequence[Row], thresholds: Sequence[float] = CURVE) -> list[Row]:
    """Auto-accept precision and recall (of proposed columns) per threshold."""
    total = sum(1 for r in rows if r["right"])
    points = []
    for t in thresholds:
        accepted = [r for r in rows if r["confidence"] >= t]
        right = sum(1 for r in accepted if r["right"])
        points.append(
            {
                "threshold": t,
                "accepted": len(accepted),
                "precision": right / len(accepted) if accepted else 1.0,
                "recall": right / total if total else 0.0,
            }
        )
    return points


def threshold_for(rows: Sequence[Row], target: float = PRECISION_TARGET) -> float:
    """Lowest confidence from which every higher threshold keeps precision >= ``target``."""
    ordered = sorted(rows, key=lambda r: -r["confidence"])
    best = 1.0
    right = 0
    for k, r in enumerate(ordered, start=1):
        right += bool(r["right"])
        if right / k < target:
            break
        best = r["confidence"]
    return best


def report(rows: Sequence[Row]) -> dict[str, Any]:
    """Held-out ECE, curve and the threshold the held-out folds support."""
    held = leave_one_system_out(rows)
    return {
        "observations": len(rows),
        "ece": expected_calibration_error(
            [r["confidence"] for r in held], [bool(r["right"]) for r in held]
        ),
        "curve": curve(held),
        "threshold_for_precision": threshold_for(held),
        "by_system": {
            s: expected_calibration_error(
                [r["confidence"] for r in held if r["system"] == s],
                [bool(r["right"]) for r in held if r["system"] == s],
            )
            for s in sorted({r["system"] for r in held})
        },
    }
