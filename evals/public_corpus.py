"""Loaders for the public schema-matching corpus: GDC and the sampled Valentine pairs.

Stdlib only: the mapping eval suite, ``benchmarks/bench_matching.py`` and the peer matchers'
own venvs (``benchmarks/peers/run_peers.py``, no data-mash installed) all read cases here.
Read in place from ``/work/shared/corpus/schema_matching`` (override with
``DATA_MASH_SCHEMA_CORPUS``). Each case yields the CSV paths and the gold correspondences.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path(
    os.environ.get("DATA_MASH_SCHEMA_CORPUS", "/work/shared/corpus/schema_matching")
)


@dataclass(frozen=True)
class Case:
    """One source -> target pair with its ground truth."""

    benchmark: str
    """``gdc`` or ``valentine``."""
    family: str
    name: str
    source: Path
    target: Path
    gold: dict[str, set[str]]

    @property
    def gold_pairs(self) -> set[tuple[str, str]]:
        """Every (source, target) correspondence."""
        return {(s, t) for s, ts in self.gold.items() for t in ts}


def gdc_cases(root: Path = DEFAULT_ROOT) -> Iterator[Case]:
    """The 10 GDC studies against the shared 736-column target."""
    base = root / "gdc"
    if not base.is_dir():
        return
    for study in sorted(p for p in base.iterdir() if p.is_dir()):
        gold: dict[str, set[str]] = {}
        with (study / "groundtruth.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                gold.setdefault(row["source"], set()).add(row["target"])
        yield Case("gdc", "gdc", study.name, study / "source.csv", base / "target.csv", gold)


def valentine_cases(root: Path = DEFAULT_ROOT) -> Iterator[Case]:
    """The 82 sampled Valentine pairs."""
    base = root / "valentine_sampled"
    if not base.is_dir():
        return
    for family in sorted(p for p in base.iterdir() if p.is_dir()):
        for case in sorted(p for p in family.iterdir() if p.is_dir()):
            expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
            gold: dict[str, set[str]] = {}
            for m in expected.get("mappings", []):
                gold.setdefault(m["source"], set()).add(m["target"])
            source, target = case / "source.csv", case / "target.csv"
            yield Case("valentine", family.name, case.name, source, target, gold)


def public_cases(root: Path = DEFAULT_ROOT) -> Iterator[Case]:
    """GDC studies, then Valentine pairs (a benchmark whose folder is missing yields none)."""
    yield from gdc_cases(root)
    yield from valentine_cases(root)


def read_columns(path: Path) -> dict[str, list[str | None]]:
    """A CSV as column name -> list of text values (empty cells are None)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        cols: list[list[str | None]] = [[] for _ in header]
        for row in reader:
            for k in range(len(header)):
                v = row[k] if k < len(row) else ""
                cols[k].append(v if v != "" else None)
    out: dict[str, list[str | None]] = {}
    for name, values in zip(header, cols, strict=True):
        key = name
        n = 1
        while key in out:  # duplicate headers exist in some exports
            n += 1
            key = f"{name}.{n}"
        out[key] = values
    return out
