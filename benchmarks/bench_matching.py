"""Schema-matching measurements: the sample estate, GDC and Valentine, plus peers if installed.

Run: ``.venv/bin/python benchmarks/bench_matching.py [--no-semantic] [--skip-estate]
[--skip-public] [--policies N] [--json OUT]``

Prints, for our matcher:
  1. estate (calibrated on seed 11, reported on seed 7): per system precision / recall / F1 of
     auto-accepted fields, top-1 / top-3, and ECE of the top-1 confidences;
  2. GDC (10 studies) and Valentine (82 pairs): MRR / top-1 / Recall@GT as the corpus MANIFEST
     defines them, generic mode (no insurance knowledge), ECE of the top-1 scores;
  3. peers side by side when ``/tmp/peers-venv`` (valentine matchers, infermap) and
     ``/tmp/magneto-venv`` (Magneto via bdi-kit) exist (``benchmarks/peers/setup_peers.sh``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evals.matching_eval import to_arrow  # noqa: E402
from evals.public_corpus import Case, gdc_cases, read_columns, valentine_cases  # noqa: E402
from tools.canonical.matching.generic import rank_targets  # noqa: E402
from tools.canonical.matching.metrics import (  # noqa: E402
    expected_calibration_error,
    mrr,
    recall_at_gt,
    top_k_accuracy,
)
from tools.canonical.matching.types import full_ranking  # noqa: E402

_CACHE: dict[Path, dict[str, pa.Array]] = {}


def load(path: Path) -> dict[str, pa.Array]:
    """A CSV as Arrow columns (cached: the GDC target is shared by all studies)."""
    if path not in _CACHE:
        _CACHE[path] = {k: to_arrow(v) for k, v in read_columns(path).items()}
    return _CACHE[path]


def run_case(case: Case, embedder: object | None) -> dict[str, object]:
    """Our matcher on one public case: MRR / top-1 / Recall@GT and (conf, correct) pairs."""
    start = time.perf_counter()
    result = rank_targets(load(case.source), load(case.target), embedder=embedder)  # type: ignore[arg-type]
    rankings = {s: full_ranking(result, s) for s in case.gold if s in result.sources}
    pairs = [(s, t) for s, t, _ in result.ordered_pairs()]
    conf = [(result.rankings[s][0].score, rankings[s][0] in case.gold[s]) for s in rankings]
    return {
        "mrr": mrr(rankings, case.gold),
        "top1": top_k_accuracy(rankings, case.gold, 1),
        "recall_at_gt": recall_at_gt(pairs, case.gold_pairs),
        "seconds": time.perf_counter() - start,
        "conf": conf,
    }


def run_public(embedder: object | None, which: str) -> dict[str, dict[str, float]]:
    """Mean metrics per benchmark (and per Valentine family)."""
    cases = list(gdc_cases()) if which == "gdc" else list(valentine_cases())
    rows = [(c, run_case(c, embedder)) for c in cases]
    groups: dict[str, list[dict[str, object]]] = {which: [r for _, r in rows]}
    if which == "valentine":
        for c, r in rows:
            groups.setdefault(f"valentine/{c.family}", []).append(r)
    out: dict[str, dict[str, float]] = {}
    for name, rs in groups.items():
        confs = [x for r in rs for x in r["conf"]]  # type: ignore[attr-defined]
        out[name] = {
            "cases": len(rs),
            "mrr": sum(r["mrr"] for r in rs) / len(rs),  # type: ignore[misc]
            "top1": sum(r["top1"] for r in rs) / len(rs),  # type: ignore[misc]
            "recall_at_gt": sum(r["recall_at_gt"] for r in rs) / len(rs),  # type: ignore[misc]
            "s_per_case": sum(r["seconds"] for r in rs) / len(rs),  # type: ignore[misc]
            "ece_top1_score": expected_calibration_error(
                [c for c, _ in confs], [ok for _, ok in confs]
            ),
        }
    return out


def make_local_embedder() -> object | None:
    """Cached local MiniLM, or None (with a note) when it cannot load."""
    from knowledge.embeddings.semantic import CachedEmbedder, LocalMiniLMEmbedder

    cache = Path(os.environ.get("DATA_MASH_BENCH_CACHE", tempfile.gettempdir())) / "dm-bench-emb"
    try:
        embedder = CachedEmbedder(LocalMiniLMEmbedder(), cache)
        embedder.embed(["warm up"])
        return embedder
    except Exception as exc:  # report, then measure without the semantic signal
        print(f"semantic embedder unavailable, running without it: {exc}", file=sys.stderr)
        return None


def print_table(title: str, rows: dict[str, dict[str, float]], keys: list[str]) -> None:
    """A plain fixed-width table."""
    print(f"\n{title}")
    print(f"{'':28}" + "".join(f"{k:>14}" for k in keys))
    for name, row in rows.items():
        cells = "".join(
            f"{row[k]:>14.3f}" if isinstance(row.get(k), float) else f"{row.get(k, ''):>14}"
            for k in keys
        )
        print(f"{name:28}{cells}")


def main() -> None:
    """Run everything requested and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-semantic", action="store_true", help="run without MiniLM")
    parser.add_argument("--skip-estate", action="store_true")
    parser.add_argument("--skip-public", action="store_true")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--policies", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="also write all figures to this file")
    parser.add_argument(
        "--fit-calibration",
        action="store_true",
        help="refit the packaged calibration on estate seed 11 and unseen-generator seeds "
        "101-103 (both modes), print the leave-one-system-out check, and exit",
    )
    args = parser.parse_args()
    embedder = None if args.no_semantic else make_local_embedder()
    if args.fit_calibration:
        from evals.matching_calibration import FIT_SEEDS, collect, fit, report
        from evals.matching_estate import CALIBRATION_SEED, write_calibration

        data: dict[str, object] = {}
        for mode, emb in (("lexical", None), ("semantic", embedder)):
            if mode == "semantic" and emb is None:
                continue
            rows = collect(embedder=emb, estate_seed=CALIBRATION_SEED, policies=args.policies)  # type: ignore[arg-type]
            data[mode] = fit(rows).to_dict()
            held = report(rows)
            print(f"{mode}: {len(rows)} observations, leave-one-system-out ECE {held['ece']:.3f}")
            for point in held["curve"]:
                print(
                    f"  >= {point['threshold']:.2f}: precision {point['precision']:.3f}, "
                    f"recall {point['recall']:.3f} ({point['accepted']} accepted)"
                )
        data["_fitted_on"] = {
            "estate_seed": CALIBRATION_SEED,
            "policies": args.policies,
            "unseen_seeds": list(FIT_SEEDS),
            "input": "evidence(score, margin)",
        }
        print(f"wrote {write_calibration(data)}")
        return
    report: dict[str, object] = {"semantic": embedder is not None}
    if not args.skip_estate:
        from evals.matching_estate import evaluate_on_estate, write_estate

        with tempfile.TemporaryDirectory() as tmp:
            out_dir = write_estate(Path(tmp) / "estate", policies=args.policies, seed=7)
            metrics = evaluate_on_estate(out_dir, embedder=embedder)  # type: ignore[arg-type]
        report["estate"] = metrics
        print_table(
            f"estate seed 7, {args.policies} policies (threshold {metrics['threshold']})",
            metrics["systems"],  # type: ignore[arg-type]
            ["columns", "precision", "recall", "f1", "top1", "top3", "ece"],
        )
    if not args.skip_public:
        public = {**run_public(embedder, "gdc"), **run_public(embedder, "valentine")}
        report["public"] = public
        print_table(
            "public benchmarks, ours (generic mode)",
            public,
            ["cases", "mrr", "top1", "recall_at_gt", "ece_top1_score", "s_per_case"],
        )
    script = ROOT / "benchmarks" / "peers" / "run_peers.py"
    venvs = [
        (os.environ.get("PEERS_VENV", "/tmp/peers-venv"), []),
        (os.environ.get("MAGNETO_VENV", "/tmp/magneto-venv"), ["--matchers", "magneto"]),
    ]
    for venv, extra in venvs:
        python = Path(venv) / "bin" / "python"
        if not args.skip_peers and python.exists():
            print(f"\npeers ({venv}):", flush=True)
            out = ["--json", str(Path(tempfile.gettempdir()) / f"peers-{Path(venv).name}.json")]
            subprocess.run([str(python), str(script), *extra, *out], check=False)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
