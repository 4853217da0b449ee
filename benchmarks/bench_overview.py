"""Server time of the dashboard overview on a migrated workspace (e.g. 350,000 policies).

The page is rendered in-process, one request at a time (the time a browser waits for the HTML,
without the network), --renders times; reported as median and worst wall time and CPU time per
render. Baseline in the same run: the routing distribution counted over every located policy
(GROUP BY on policy_location, what each render did before the counts were kept).

    DATA_MASH_HOME=... python benchmarks/bench_overview.py [--renders 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.auth import LOOPBACK, Caller, Role
from api.main import create_app
from core.settings import Settings
from core.store import open_store
from core.store.models import PolicyLocation, table_of
from tools.audit import PolicyLocations

LOCATION = table_of(PolicyLocation)


def _timed(work: Any, runs: int) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return {
        "median_ms": statistics.median(walls),
        "worst_ms": max(walls),
        "cpu_median_ms": statistics.median(cpus),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    settings = Settings()
    engine = open_store(settings)
    tenant = settings.tenant
    caller = Caller(tenant=tenant, role=Role.VIEWER, token_id=LOOPBACK)
    app = create_app(settings, open_as=caller)
    results: dict[str, Any] = {"load_average": os.getloadavg()[0]}
    with TestClient(app) as client:

        def render() -> None:
            answer = client.get("/")
            answer.raise_for_status()

        render()  # warm: templates compiled, store opened
        results["overview"] = _timed(render, opts.renders)
    locations = PolicyLocations(engine, tenant=tenant)
    results["located"] = sum(locations.counts_by_system().values())

    def scan() -> None:
        with engine.connect() as conn:
            conn.execute(
                select(LOCATION.c.system, func.count())
                .where(LOCATION.c.tenant == tenant)
                .group_by(LOCATION.c.system)
            ).all()

    results["distribution_kept_counts"] = _timed(locations.counts_by_system, opts.renders)
    results["distribution_group_by_baseline"] = _timed(scan, opts.renders)
    engine.dispose()
    if opts.json:
        print(json.dumps(results, indent=1))
        return
    print(f"{results['located']:,} located policies, load average {results['load_average']:.1f}")
    for name in ("overview", "distribution_kept_counts", "distribution_group_by_baseline"):
        r = results[name]
        print(
            f"{name:32s} median {r['median_ms']:8.1f} ms  worst {r['worst_ms']:8.1f} ms  "
            f"CPU {r['cpu_median_ms']:7.1f} ms"
        )


if __name__ == "__main__":
    main()
