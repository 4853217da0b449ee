"""`eval perf` loads the benchmark scripts by path: every script it names must import."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evals import perf_worker

NAMES = sorted(set(re.findall(r'bench_module\("(\w+)"\)', Path(perf_worker.__file__).read_text())))


def test_the_worker_names_its_scripts() -> None:
    assert {"bench_audit", "bench_routing_decisions", "bench_wave"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_benchmark_script_imports(name: str) -> None:
    # Scripts share helpers (benchmarks/_backends.py) that only resolve with the folder on the
    # path, as the worker puts it; a missing helper fails here, not in a 20-minute perf run.
    module = perf_worker.bench_module(name)
    assert callable(getattr(module, "main", None)), name


def test_missing_script_is_named() -> None:
    with pytest.raises(ImportError, match="bench_nope.py is missing"):
        perf_worker.bench_module("bench_nope")
