"""Mapping suite: our schema matcher vs baselines on the estate and the public benchmarks.

Our matcher is ``tools/canonical/matching`` (``suggest_matches`` for the canonical model on the
estate's eight systems, ``rank_targets`` for the public pairs). In the same run, the plain
name-similarity baseline (rapidfuzz token-set ratio, :func:`evals.matching_eval.name_rank`) and
Valentine's matchers (when ``valentine`` is importable) are scored with the same functions.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from evals.matching_estate import estate_sources, match_estate
from evals.matching_eval import ColumnOutcome, calibration, name_rank, score, to_arrow
from evals.public_corpus import Case, public_cases, read_columns
from evals.result import EvalConfig, SuiteResult
from evals.unseen import generate_unseen
from evals.workspace import estate_for
from knowledge.canonical import fields
from tools.canonical.matching.calibration import DEFAULT_THRESHOLD
from tools.canonical.matching.generic import rank_targets
from tools.canonical.matching.types import full_ranking

BASELINE_THRESHOLD = 0.8
KEYS = ("precision", "recall", "f1", "top1", "top3", "mrr", "recall_at_gt", "ece")


def run(config: EvalConfig) -> SuiteResult:
    """Estate part, then public part; the matcher missing makes the suite unavailable."""

    result = SuiteResult(suite="mapping")
    embedder = _embedder(config, result)
    ours: dict[str, list[ColumnOutcome]] = defaultdict(list)
    base: dict[str, list[ColumnOutcome]] = defaultdict(list)

    estate, _ = estate_for(config)
    truth = json.loads((estate / "ground_truth" / "mapping.json").read_text("utf-8"))
    systems = {e["name"]: e["system"] for e in estate_sources(estate)}

    targets = [f.path for f in fields("policy_v1")]
    for n, (entry, match) in enumerate(match_estate(estate, embedder=embedder)):
        config.note("mapping: estate", n, len(systems))
        gold_map = truth.get(entry["name"], {})
        names = list(gold_map)
        baseline = name_rank(names, targets, leaf=True)
        for column, target in gold_map.items():
            gold = {target} if target else set()
            try:
                cm = match.column(column)
                ranked = [(c.target, c.confidence) for c in cm.candidates]
                conf = cm.best.confidence if cm.best else 0.0
            except KeyError:
                ranked, conf = [], 0.0
            system = systems.get(entry["name"], entry["name"])
            ours[system].append(ColumnOutcome(column, gold, ranked, conf))
            b = baseline[column]
            base[system].append(ColumnOutcome(column, gold, b, b[0][1] if b else 0.0))
    _record(result, "estate", ours, base, DEFAULT_THRESHOLD)
    result.charts["calibration"] = {
        "data-mash (estate)": calibration([o for rows in ours.values() for o in rows]),
        "name similarity (estate)": calibration([o for rows in base.values() for o in rows]),
    }
    unseen_part(config, result, embedder, targets)
    public_part(config, result, embedder)
    result.lower_is_better(*[k for k in result.metrics if k.endswith(".ece")])
    return result


UNSEEN_SEEDS = (1, 2)
"""Generator seeds the suite scores (the calibration is fitted on 101-103, never these)."""


def unseen_part(config: EvalConfig, result: SuiteResult, embedder: Any, targets: list[str]) -> None:
    """Sources of naming conventions the matcher was not fitted on (``evals.unseen``)."""

    ours: dict[str, list[ColumnOutcome]] = defaultdict(list)
    base: dict[str, list[ColumnOutcome]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for seed in UNSEEN_SEEDS:
            out = generate_unseen(Path(tmp) / f"u{seed}", seed=seed)
            truth = json.loads((out / "ground_truth" / "mapping.json").read_text("utf-8"))
            systems = {e["name"]: e["system"] for e in estate_sources(out)}
            for n, (entry, match) in enumerate(match_estate(out, embedder=embedder)):
                config.note(f"mapping: unseen seed {seed}", n, len(systems))
                gold_map = truth.get(entry["name"], {})
                baseline = name_rank(list(gold_map), targets, leaf=True)
                for column, target in gold_map.items():
                    cm = match.column(column)
                    ranked = [(c.target, c.confidence) for c in cm.candidates]
                    conf = cm.best.confidence if cm.best else 0.0
                    gold = {target} if target else set()
                    ours[systems[entry["name"]]].append(ColumnOutcome(column, gold, ranked, conf))
                    b = baseline[column]
                    base[systems[entry["name"]]].append(
                        ColumnOutcome(column, gold, b, b[0][1] if b else 0.0)
                    )
    _record(result, "unseen", ours, base, DEFAULT_THRESHOLD)
    result.charts["calibration"]["data-mash (unseen)"] = calibration(
        [o for rows in ours.values() for o in rows]
    )


def _embedder(config: EvalConfig, result: SuiteResult) -> Any:
    if not config.semantic:
        result.notes.append("semantic embedder off (lexical mode); --semantic turns MiniLM on")
        return None
    # Imported here: torch loads only when semantic embeddings are used.
    from knowledge.embeddings.semantic import LocalMiniLMEmbedder  # noqa: PLC0415

    return LocalMiniLMEmbedder()


def _record(
    result: SuiteResult,
    part: str,
    ours: dict[str, list[ColumnOutcome]],
    base: dict[str, list[ColumnOutcome]],
    threshold: float,
) -> None:
    """Per group and overall metrics for ours, the baseline's beside them, a case per group."""
    every_ours = [o for rows in ours.values() for o in rows]
    every_base = [o for rows in base.values() for o in rows]
    overall, overall_base = score(every_ours, threshold), score(every_base, BASELINE_THRESHOLD)
    result.metrics.update({f"{part}.overall.{k}": overall[k] for k in KEYS})
    result.baselines.setdefault("name_similarity", {"status": "ok", "metrics": {}})
    result.baselines["name_similarity"]["metrics"].update(
        {f"{part}.overall.{k}": overall_base[k] for k in KEYS}
    )
    for group in sorted(ours):
        m, b = score(ours[group], threshold), score(base[group], BASELINE_THRESHOLD)
        result.metrics.update({f"{part}.{group}.{k}": m[k] for k in ("f1", "top1", "mrr")})
        result.cases.append(
            {
                "group": f"mapping_{part}",
                "id": group,
                "columns": m["columns"],
                **{k: round(m[k], 4) for k in KEYS},
                **{f"baseline_{k}": round(b[k], 4) for k in ("f1", "top1", "mrr")},
            }
        )


def public_part(config: EvalConfig, result: SuiteResult, embedder: Any) -> None:
    """GDC and Valentine pairs with ``rank_targets``; the name baseline beside it."""

    if not config.schema_corpus.is_dir():
        result.notes.append(
            f"schema-matching corpus not found at {config.schema_corpus}: public part skipped"
        )
        return
    cache: dict[str, dict[str, pa.Array]] = {}

    def load(path: Any) -> dict[str, pa.Array]:
        if str(path) not in cache:
            cache[str(path)] = {k: to_arrow(v) for k, v in read_columns(path).items()}
        return cache[str(path)]

    ours: dict[str, list[ColumnOutcome]] = defaultdict(list)
    base: dict[str, list[ColumnOutcome]] = defaultdict(list)
    per_bench: dict[str, int] = defaultdict(int)
    cases: list[Case] = []
    for case in public_cases(config.schema_corpus):
        if config.public_cases is None or per_bench[case.benchmark] < config.public_cases:
            per_bench[case.benchmark] += 1
            cases.append(case)
    for n, case in enumerate(cases):
        config.note("mapping: public", n, len(cases))
        src, tgt = load(case.source), load(case.target)
        ranked = rank_targets(src, tgt, embedder=embedder)
        baseline = name_rank(list(case.gold), list(tgt))
        for column, gold in case.gold.items():
            if column not in ranked.sources:
                continue
            i = ranked.sources.index(column)
            order = full_ranking(ranked, column)[:20]
            scores = [(t, float(ranked.scores[i, ranked.targets.index(t)])) for t in order]
            ours[case.benchmark].append(ColumnOutcome(column, gold, scores, scores[0][1]))
            b = baseline[column]
            base[case.benchmark].append(ColumnOutcome(column, gold, b, b[0][1] if b else 0.0))
    # Generic mode has no calibration: scores are the confidences, accepted from 0.5.
    _record(result, "public", ours, base, 0.5)
    result.metrics.update({f"public.{b}.cases": c for b, c in per_bench.items()})
    _valentine(result)


def _valentine(result: SuiteResult) -> None:
    try:
        # Imported here: an optional peer matcher (a baseline), absent in most installs.
        import valentine  # noqa: F401, PLC0415
    except ImportError as exc:
        result.baselines["valentine"] = {
            "status": "unavailable",
            "reason": f"{exc} (valentine installs into a separate venv: "
            "benchmarks/peers/setup_peers.sh; see benchmarks/bench_matching.py)",
        }
        return
    result.baselines["valentine"] = {
        "status": "unavailable",
        "reason": "valentine is importable but not wired in yet",
    }
