"""Longer fuzz run of the routing YAML loader, the gate expression parser and the source-config
loader: the suite's hypothesis properties with many more inputs (default 5,000 each).

    .venv/bin/python benchmarks/fuzz_loaders.py [--examples 5000]

Exit status is pytest's: 0 when every input gave a result or a DataMashError.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    args = parser.parse_args(argv)
    env = {**os.environ, "DATA_MASH_FUZZ_EXAMPLES": str(args.examples), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/core/test_fuzz_loaders.py"],
        cwd=ROOT,
        env=env,
        check=False,
    )
    print(
        f"fuzz_loaders: {args.examples} inputs per property, {time.perf_counter() - started:.0f}s"
    )
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
