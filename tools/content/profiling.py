"""Profiling a staged source, and the profile as `data-mash profile` and the servers show it.

The profile is computed once at ingest from the staged Parquet (one streaming pass) and kept as
``profile.json`` beside the records; see docs/profiling.md for how each figure is defined.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.content.profile import profile_batches
from tools.content.sources import SourceInfo
from tools.content.staging import staged_batches

POLICY_WORDS = ("policy", "contract", "certificate")
ID_WORDS = ("number", "identifier", "reference", "id", "key")
FINGERPRINT_SAMPLE_ROWS = 2000


def guess_key_columns(names: Sequence[str]) -> list[str]:
    """The column that most likely holds the policy id, for naming failing rows.

    Only a guess for reporting (duplicate keys, invalid dates by key); nothing is dropped or
    merged on it. A name like POL_NBR, PolicyNo, policy-ref or CONTRNO wins; none -> no key.
    """
    from knowledge.glossary import expand_name

    best: tuple[int, str] | None = None
    for position, name in enumerate(names):
        if "[]" in name:
            continue
        words = expand_name(name.rsplit(".", 1)[-1]).lower().split()
        raw = name.lower()
        policy = any(w in words for w in POLICY_WORDS) or raw.startswith(("contr", "pol"))
        ident = any(w in words for w in ID_WORDS) or raw.endswith(("no", "nbr", "num", "id"))
        if policy and ident:
            score = position + (0 if "." not in name else 100)
            if best is None or score < best[0]:
                best = (score, name)
    return [best[1]] if best else []


def profile_staged(records_dir: Path, key_columns: Sequence[str] | None = None) -> dict[str, Any]:
    """Profile every staged record of a source, plus its layout fingerprint."""
    from tools.content.staging import staged_dataset

    names = staged_dataset(records_dir).schema.names
    keys = list(key_columns) if key_columns is not None else guess_key_columns(names)
    profile = profile_batches(staged_batches(records_dir), keys)
    data = profile.model_dump(mode="json")
    data["layout_fingerprint"] = _fingerprint(records_dir)
    return data


def _fingerprint(records_dir: Path) -> str | None:
    from knowledge.embeddings.layout import layout_fingerprint

    first = next(staged_batches(records_dir, batch_rows=FINGERPRINT_SAMPLE_ROWS), None)
    if first is None:
        return None
    return layout_fingerprint({name: first.column(i) for i, name in
                               enumerate(first.schema.names)})


def load_profile(info: SourceInfo) -> dict[str, Any]:
    """The profile of a source in the shape of the `profile` contract (computed if missing)."""
    path = info.profile_path
    if path.exists():
        data = json.loads(path.read_text())
    else:
        data = profile_staged(info.records_path)
        path.write_text(json.dumps(data, default=str, indent=1))
    issues = []
    duplicates = data.get("duplicate_keys")
    if duplicates and duplicates.get("count"):
        issues.append({"kind": "duplicate_keys", "column": ",".join(data["key_columns"]),
                       "count": duplicates["count"], "sample_keys": duplicates["sample_keys"]})
    for column in data["columns"]:
        invalid = column.get("invalid_dates")
        if invalid and invalid.get("count"):
            issues.append({"kind": "invalid_dates", "column": column["name"],
                           "count": invalid["count"], "sample_keys": invalid["sample_keys"]})
    return {"source_id": info.source_id, "name": info.name, **data, "issues": issues}
