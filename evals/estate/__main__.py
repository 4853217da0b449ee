"""``python -m evals.estate OUT_DIR [--policies N] [--seed S]``: generate a sample estate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import DataMashError
from evals.estate.generator import generate_estate


def main(argv: list[str] | None = None) -> int:
    """Generate an estate and print its manifest as JSON; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m evals.estate", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--policies", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        manifest = generate_estate(args.out_dir, policies=args.policies, seed=args.seed)
    except DataMashError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(manifest.model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
