"""A migration target that keeps each wave's policies in one JSON-lines file.

Registered as ``jsonl_folder`` in ``data_mash.targets``; configure it with
``target_config: {folder: /path/to/outbox}`` in the plan criteria.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from core.errors import InputError
from tools.waves.targets.base import POLICY_ID, TargetHealth


class JsonlFolderTarget:
    """Upserts by policy id per wave, so a retried batch leaves one copy of each policy."""

    name: ClassVar[str] = "jsonl_folder"

    def __init__(self, config: Mapping[str, Any]) -> None:
        folder = config.get("folder")
        if not folder:
            raise InputError(
                "the jsonl_folder target needs a folder",
                where="target_config.folder",
                fix="set target_config: {folder: PATH}",
            )
        self.folder = Path(folder)

    def health(self) -> TargetHealth:
        # Never raises: the target-readiness gate shows ok=False with the reason.
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return TargetHealth(ok=False, detail=f"{self.folder}: {exc.strerror}")
        if not os.access(self.folder, os.W_OK):
            return TargetHealth(ok=False, detail=f"{self.folder} is not writable")
        return TargetHealth(ok=True, detail=f"writing to {self.folder}")

    def write(self, wave_id: str, records: pa.Table) -> int:
        held = self._load(wave_id)
        for row in records.to_pylist():
            held[str(row[POLICY_ID])] = row
        self._save(wave_id, held)
        return records.num_rows

    def delete(self, wave_id: str, policy_ids: Sequence[str] | None = None) -> int:
        held = self._load(wave_id)
        gone = list(held) if policy_ids is None else [p for p in policy_ids if p in held]
        for policy_id in gone:
            del held[policy_id]
        self._save(wave_id, held)
        return len(gone)

    def read_back(self, wave_id: str, *, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
        rows = list(self._load(wave_id).values())
        for start in range(0, len(rows), batch_rows):
            yield pa.RecordBatch.from_pylist(rows[start : start + batch_rows])

    def count(self, wave_id: str) -> int:
        return len(self._load(wave_id))

    def _file(self, wave_id: str) -> Path:
        return self.folder / f"{wave_id}.jsonl"

    def _load(self, wave_id: str) -> dict[str, dict[str, Any]]:
        path = self._file(wave_id)
        if not path.exists():
            return {}
        rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
        return {str(row[POLICY_ID]): row for row in rows}

    def _save(self, wave_id: str, held: dict[str, dict[str, Any]]) -> None:
        # Write then rename: a crash leaves the old file or the new one, never half of one.
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self._file(wave_id).with_suffix(".partial")
        text = "".join(json.dumps(row, default=str, sort_keys=True) + "\n" for row in held.values())
        partial.write_text(text, encoding="utf-8")
        partial.replace(self._file(wave_id))
