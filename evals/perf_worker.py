"""One perf benchmark in its own process: ``python -m evals.perf_worker NAME SIZE``.

Runs the functions the scripts in benchmarks/ expose (loaded from their files), measures each
figure next to its baseline from the same run, and prints one JSON object: ``figures`` (rows of
benchmark, figure, unit, value, baseline, baseline_value) and ``peak_rss_mb`` of this process
(sampled current RSS: ru_maxrss would start at the forking parent's size, since it survives
exec), one fresh process per benchmark.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from core.statuses import WaveState

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
Row = dict[str, Any]


def bench_module(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (the scripts are not a package)."""
    path = BENCH / f"{name}.py"
    if not path.is_file():
        raise ImportError(f"benchmark script {path} is missing", name=f"benchmarks.{name}")
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    for folder in (str(BENCH), str(ROOT)):  # the scripts' shared helpers, and the package
        if folder not in sys.path:
            sys.path.insert(0, folder)
    spec.loader.exec_module(module)
    return module


def row(
    benchmark: str,
    figure: str,
    unit: str,
    value: float,
    baseline: str,
    baseline_value: float | None,
) -> Row:
    return {
        "benchmark": benchmark,
        "figure": figure,
        "unit": unit,
        "value": round(value, 1),
        "baseline": baseline,
        "baseline_value": None if baseline_value is None else round(baseline_value, 1),
    }


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


def decode(size: int) -> list[Row]:
    mod = bench_module("bench_decode")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policies.dat"
        path.with_suffix(".cpy").write_text(mod.COPYBOOK)
        mod.build_file(path, size)
        mod.vector_decode(path, 1000)  # warm-up
        t_vec, n_vec = timed(lambda: mod.vector_decode(path))
        limit = min(size, 20_000)
        t_naive, n_naive = timed(lambda: mod.naive_decode(path, limit))
    return [
        row(
            "decode",
            "CobolReader vs per-record struct decoder",
            "records/s",
            n_vec / t_vec,
            "naive per-record decoder",
            n_naive / t_naive,
        )
    ]


def audit(size: int) -> list[Row]:
    from core.settings import Settings

    mod = bench_module("bench_audit")
    with tempfile.TemporaryDirectory() as home:
        f = mod._measure(Settings(home=Path(home)), size, 5000, 50)
    return [
        row(
            "audit",
            "group-committed write-ahead log (SQLite)",
            "policies/s",
            f["group_commit_policies_per_s"],
            "one transaction per policy",
            f["per_policy_transactions_policies_per_s"],
        )
    ]


def routing(size: int) -> list[Row]:
    from tools.routing import compile_rule_set, evaluate_policy, load_rule_set

    mod = bench_module("bench_routing")
    rule_set = load_rule_set(mod.RULES)
    table = mod.synthetic_policies(size)
    compiled = compile_rule_set(rule_set, table.schema)
    t_c, _ = timed(lambda: compiled.route_batch(table))
    sample = table.slice(0, min(size, 50_000)).to_pylist()
    t_i, _ = timed(lambda: [evaluate_policy(rule_set, r) for r in sample])
    return [
        row(
            "routing",
            "compiled Arrow engine vs interpreter",
            "policies/s",
            size / t_c,
            "per-policy interpreter",
            len(sample) / t_i,
        )
    ]


def routing_decisions(size: int) -> list[Row]:
    from core.settings import Settings
    from tools.routing.samples import sample_batches

    mod = bench_module("bench_routing_decisions")
    batches = list(sample_batches(size, min(size, 50_000)))
    with tempfile.TemporaryDirectory() as home:
        f = mod._measure(Settings(home=Path(home)), batches)
    return [
        row(
            "routing_decisions",
            "routing with write-ahead recording",
            "policies/s",
            f["evaluation_and_recording_policies_per_s"],
            "evaluation only (dry run)",
            f["evaluation_only_policies_per_s"],
        )
    ]


def mapping(size: int) -> list[Row]:
    from evals.estate import generate_estate
    from evals.matching_estate import estate_sources, read_source_columns
    from evals.matching_eval import name_rank
    from knowledge.canonical import fields
    from tools.canonical.matching.canonical import suggest_matches

    targets = [f.path for f in fields("policy_v1")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "estate"
        generate_estate(out, policies=min(size, 2000), seed=7)
        sources = [(e, read_source_columns(out, e)) for e in estate_sources(out)]
    columns = sum(len(c) for _, c in sources)
    t_ours, _ = timed(lambda: [suggest_matches(c, source_name=e["name"]) for e, c in sources])
    t_base, _ = timed(lambda: [name_rank(list(c), targets, leaf=True) for _, c in sources])
    return [
        row(
            "mapping",
            "suggest_matches on the estate's sources",
            "columns/s",
            columns / t_ours,
            "name similarity only (rapidfuzz)",
            columns / t_base,
        )
    ]


def estate(size: int) -> list[Row]:
    from evals.estate import generate_estate

    with tempfile.TemporaryDirectory() as tmp:
        t, manifest = timed(lambda: generate_estate(Path(tmp) / "e", policies=size, seed=7))
    return [
        row("estate", "sample-estate generation", "policies/s", manifest.policies / t, "none", None)
    ]


def demo(size: int) -> list[Row]:
    """End to end (`data-mash demo`: generate, ingest and profile every source, map, route, run
    and reconcile wave 0) in a fresh home."""
    import os
    import subprocess

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DATA_MASH_HOME": home, "DATA_MASH_EMBEDDING_PROVIDER": "none"}
        t, done = timed(
            lambda: subprocess.run(
                [sys.executable, "-m", "cli.main", "demo", "--policies", str(size), "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
                cwd=ROOT,
            )
        )
        if done.returncode:
            raise RuntimeError((done.stderr.strip().splitlines() or ["demo failed"])[-1])
        child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out = row(
        "demo",
        "demo end to end (estate, ingest, profile, map, route, wave 0, reconcile)",
        "policies/s",
        size / t,
        "none",
        None,
    )
    out["child_peak_rss_mb"] = round(child_peak, 1)
    return [out]


def wave(size: int) -> list[Row]:
    """One wave saga (ingest, map, route, migrate, validate) into new_platform on SQLite, in a
    child process (``benchmarks/bench_wave.py``)."""
    mod = bench_module("bench_wave")
    figures = mod.measure(size, min(10_000, size), crash=False)
    if figures["status"] != WaveState.COMPLETED:
        raise RuntimeError(f"wave ended {figures['status']}: {figures['error']}")
    out = row(
        "wave", "wave saga into new_platform", "policies/s", size / figures["wall_s"], "none", None
    )
    out["child_peak_rss_mb"] = float(figures["peak_rss_mib"])
    return [out]


BENCHMARKS: dict[str, Callable[[int], list[Row]]] = {
    "decode": decode,
    "audit": audit,
    "routing": routing,
    "routing_decisions": routing_decisions,
    "mapping": mapping,
    "estate": estate,
    "demo": demo,
    "wave": wave,
}


def _sample_peak(stop: Any, peak: list[float]) -> None:
    import psutil

    proc = psutil.Process()
    while not stop.wait(0.05):
        peak[0] = max(peak[0], proc.memory_info().rss / 2**20)


def main(argv: list[str]) -> int:
    import threading

    name, size = argv[0], int(argv[1])
    stop, peak_box = threading.Event(), [0.0]
    sampler = threading.Thread(target=_sample_peak, args=(stop, peak_box), daemon=True)
    sampler.start()
    try:
        figures = BENCHMARKS[name](size)
    except ImportError as exc:
        print(json.dumps({"unavailable": f"{exc}"}))
        return 0
    finally:
        stop.set()
        sampler.join()
    peak = peak_box[0]
    # The end-to-end figure runs in a child process: its peak is the one that matters.
    peak = max([peak, *(f.get("child_peak_rss_mb", 0) for f in figures)])
    print(json.dumps({"figures": figures, "peak_rss_mb": round(peak, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
