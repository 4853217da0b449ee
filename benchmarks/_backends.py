"""What the store benchmarks share: the same measurement on SQLite, then on PostgreSQL.

``python benchmarks/bench_x.py`` puts this folder on ``sys.path``; ``evals/perf_worker.py``
does the same when it loads a benchmark script.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

from core.settings import Settings

Figures = dict[str, float]


def per_backend(measure: Callable[[Settings], Figures], pg_url: str | None) -> dict[str, Figures]:
    """``measure`` on a fresh SQLite workspace, then, with ``pg_url``, on a fresh PostgreSQL
    database created for the run and dropped after it."""
    results: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory() as home:
        results["sqlite"] = measure(Settings(home=Path(home)))
    if pg_url:
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        name = f"dm_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = admin.url.set(database=name).render_as_string(hide_password=False)
            with tempfile.TemporaryDirectory() as home:
                results["postgresql"] = measure(Settings(home=Path(home), db_url=url))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return results


def print_results(results: dict[str, Figures], as_json: bool) -> None:
    """One JSON object, or a block of figures per backend."""
    if as_json:
        print(json.dumps(results))
        return
    for backend, figures in results.items():
        print(f"[{backend}]")
        for key, value in figures.items():
            print(f"  {key:42s} {value}")
