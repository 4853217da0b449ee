"""Relationship discovery on a small estate of its own, which nothing in tools/assembly was tuned
to: other names, other key formats (``lp_00123``, ``LP-123``, ``00000123``), a second book with
its own numbering and a conversion table, brokers, and orphans of known count."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from core.store import open_store
from tools.assembly import propose_relationships
from tools.content.ingest import ingest_file

POLICIES = 800
CSV = {"delimiter": ",", "header": True, "encoding": "utf-8"}


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)


def make_book(folder: Path, seed: int) -> dict[str, int]:
    """Write the book; return the injected orphan counts per child file."""
    rng = np.random.default_rng(seed)
    numbers = np.arange(1, POLICIES + 1)
    legacy = rng.random(POLICIES) < 0.3  # policies still kept in the old book
    brokers = [f"BR{b:04d}" for b in range(1, 61)]
    _write_csv(
        folder / "brokers.csv",
        ["broker_id", "broker_name"],
        [[b, f"Broker {i}"] for i, b in enumerate(brokers)],
    )
    _write_csv(
        folder / "contracts.csv",
        ["contract_ref", "holder", "broker", "start_date"],
        [
            [f"lp_{n:05d}", f"Holder {n}", brokers[n % 60], f"2020-01-{n % 28 + 1:02d}"]
            for n in numbers[~legacy].tolist()
        ],
    )
    old = {n: f"OB{n * 7 + 30011:07d}" for n in numbers[legacy].tolist()}
    _write_csv(
        folder / "old_book.csv",
        ["old_ref", "holder", "opened"],
        [[ref, f"Holder {n}", "2001-05-01"] for n, ref in old.items()],
    )
    _write_csv(
        folder / "conversion.csv",
        ["OLD_REF", "NEW_REF"],
        [[ref, f"lp_{n:05d}"] for n, ref in old.items()],
    )
    rows, orphans = [], 0
    for n in numbers.tolist():
        for line in range(1, int(rng.integers(1, 4)) + 1):
            ref = n
            if rng.random() < 0.01:
                ref, orphans = n + 50_000, orphans + 1
            rows.append([f"LP-{ref}", line, f"{rng.integers(50, 900)}.00"])
    _write_csv(folder / "instalments.csv", ["ContractRef", "line_no", "amount"], rows)
    note_orphans = 0
    with (folder / "notes.jsonl").open("w", encoding="utf-8") as f:
        note = 0
        for n in numbers.tolist():
            for _ in range(int(rng.integers(0, 3))):
                note += 1
                ref = n
                if rng.random() < 0.02:
                    ref, note_orphans = n + 70_000, note_orphans + 1
                body = {"note_id": f"N{note:07d}", "contract": f"{ref:08d}", "text": "call back"}
                f.write(json.dumps(body) + "\n")
    return {"instalments": orphans, "notes": note_orphans}


@pytest.mark.parametrize("seed", [21, 22])
def test_every_relationship_of_an_unseen_book(tmp_path: Path, seed: int) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    orphans = make_book(folder, seed)
    settings = Settings(home=tmp_path / "ws", embedding_provider="none")
    engine = open_store(settings)
    ids = {}
    for path in sorted(folder.iterdir()):
        fmt = "jsonl" if path.suffix == ".jsonl" else "csv"
        options = {"encoding": "utf-8"} if fmt == "jsonl" else CSV
        ids[path.stem] = ingest_file(
            engine, settings, path, fmt=fmt, options=options, name=path.stem
        ).source_id
    result = propose_relationships(engine, settings, list(ids.values()), tenant="default")
    found = {
        (r.parent_name, r.parent_key, r.child_name, r.child_key): r for r in result.relationships
    }
    kinds = {e: (r.key_transform.kind if r.key_transform else "identity") for e, r in found.items()}
    assert kinds == {
        ("brokers", "broker_id", "contracts", "broker"): "identity",
        ("old_book", "old_ref", "conversion", "OLD_REF"): "identity",
        ("contracts", "contract_ref", "instalments", "ContractRef"): "number",
        ("old_book", "old_ref", "instalments", "ContractRef"): "crosswalk",
        ("contracts", "contract_ref", "notes", "contract"): "number",
        ("old_book", "old_ref", "notes", "contract"): "crosswalk",
    }
    for child, count in orphans.items():
        reported = {r.orphans for r in result.relationships if r.child_name == child}
        assert reported == {count}, child
