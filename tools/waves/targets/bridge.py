"""Coexistence bridge: a JSONL outbox that the bridge process consumes to sync old and new systems.

Folder layout (config `dir`):

* `outbox/`   pending message files, `<seq>-wave-<id>-<op>-<sha16>.jsonl`, each written atomically;
  the bridge reads them in name order and, once a file is applied, moves it to
* `consumed/` (the bridge's side of the contract). Both folders together are the ledger this
  target reads to stay idempotent, so consumed files must be kept (archive them, don't delete).

A message is one JSON line: `message_id` (sha256 of policy id + wave id for upserts, of policy id
+ wave id + "delete" for deletes), `op` (upsert | delete), `wave_id`, `policy_id`,
`canonical_version`, `content_sha`, `written_at` and, for upserts, `record`: the canonical record as
the pydantic model serialises it to JSON (validated on the way out).

Semantics: writing a policy whose latest message in the wave is an upsert of identical content
writes nothing (a retry never sends a message twice); changed content sends a new upsert under the
same message id (the bridge applies upserts by message id, last one wins). `delete` first commits
a file of compensating `op=delete` messages for every live policy (the bridge may already have
picked up a pending upsert, so the delete is always sent), then removes the wave's still-pending
upserts for those policies from `outbox/`. read_back returns the net upserted records: each
policy whose latest message is an upsert, with that upsert's record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import ValidationError

from core.errors import InputError
from knowledge.canonical import arrow_to_records, get_model, records_to_arrow
from tools.waves.targets import files
from tools.waves.targets.base import TargetHealth
from tools.waves.targets.codec import check_wave_id, conform
from tools.waves.targets.new_platform import _refuse_duplicates

_NAME = re.compile(
    r"^(?P<seq>\d{8})-wave-(?P<wave>.+)-(?P<op>upsert|delete)-(?P<hash>[0-9a-f]{16})\.jsonl$"
)


def message_id(policy_id: str, wave_id: str, op: str = "upsert") -> str:
    """The id of the message for this policy in this wave (hex sha256)."""
    key = f"{policy_id}\x1f{wave_id}" + ("" if op == "upsert" else f"\x1f{op}")
    return hashlib.sha256(key.encode()).hexdigest()


class CoexistenceBridgeTarget:
    """Writes one JSON message per policy to an outbox a bridge process consumes.

    Config:
        dir: folder holding `outbox/` and `consumed/` (required; created on first write).
        canonical_version: default `policy_v1`.
    """

    name: ClassVar[str] = "coexistence_bridge"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.dir = files.target_dir(config, self.name)
        self.outbox = self.dir / "outbox"
        self.consumed = self.dir / "consumed"
        self.version = str(config.get("canonical_version", "policy_v1"))
        self._model = get_model(self.version)
        # file name + size -> [(policy_id, op, content_sha)]: consumed files never change, and a
        # pruned pending file changes size, so parsed summaries are reused across calls.
        self._summaries: dict[tuple[str, int], list[tuple[str, str, str]]] = {}

    # -- ledger ---------------------------------------------------------------------------------
    def _files(self, wave_id: str | None = None) -> list[Path]:
        found = []
        for folder in (self.outbox, self.consumed):
            if folder.is_dir():
                for path in folder.iterdir():
                    match = _NAME.match(path.name)
                    if match and (wave_id is None or match.group("wave") == wave_id):
                        found.append(path)
        return sorted(found, key=lambda p: p.name)

    def _summary(self, path: Path) -> list[tuple[str, str, str]]:
        key = (path.name, path.stat().st_size)
        if key not in self._summaries:
            rows = []
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        msg = json.loads(line)
                        rows.append((msg["policy_id"], msg["op"], msg.get("content_sha", "")))
            self._summaries[key] = rows
        return self._summaries[key]

    def _state(self, wave_id: str) -> dict[str, tuple[str, str, str]]:
        """policy id -> (latest op, content sha, file name holding it)."""
        state: dict[str, tuple[str, str, str]] = {}
        for path in self._files(wave_id):
            for pid, op, sha in self._summary(path):
                state[pid] = (op, sha, path.name)
        return state

    def _commit(self, wave_id: str, op: str, messages: list[dict[str, Any]]) -> None:
        body = "".join(
            json.dumps(m, separators=(",", ":"), ensure_ascii=False) + "\n" for m in messages
        ).encode("utf-8")
        files.ensure_dir(self.outbox, self.name)
        files.remove_stale_temps(self.outbox, "")
        seq = files.next_sequence([p.name for p in self._files()], _NAME)
        name = f"{seq:08d}-wave-{wave_id}-{op}-{files.digest(body)}.jsonl"
        files.atomic_write(self.outbox / name, body)

    # -- MigrationTarget ------------------------------------------------------------------------
    def health(self) -> TargetHealth:
        """Can the outbox be created and written? Never raises."""
        return files.folder_health(self.outbox, self.name, "outbox")

    def _message(self, record: dict[str, Any], wave_id: str, now: str) -> dict[str, Any]:
        pid = record["policy_core"]["policy_id"]
        try:
            body = self._model.model_validate(record).model_dump(mode="json")
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise InputError(
                f"the record is not a valid {self.version} policy: {first['msg']}",
                where=f"policy {pid}, field {loc}",
                fix="route invalid policies to the data_quality_queue",
            ) from None
        sha = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return {
            "message_id": message_id(pid, wave_id),
            "op": "upsert",
            "wave_id": wave_id,
            "policy_id": pid,
            "canonical_version": self.version,
            "content_sha": sha,
            "written_at": now,
            "record": body,
        }

    def write(self, wave_id: str, records: pa.Table) -> int:
        """Send upserts for the batch (one atomic outbox file); returns policies in the batch."""
        check_wave_id(wave_id)
        table = conform(records, self.version)
        if table.num_rows == 0:
            return 0
        _refuse_duplicates(table)
        now = dt.datetime.now(dt.UTC).isoformat()
        messages = [self._message(r, wave_id, now) for r in arrow_to_records(table, self.version)]
        state = self._state(wave_id)
        fresh = [
            m
            for m in messages
            if state.get(m["policy_id"], ("", "", ""))[:2] != ("upsert", m["content_sha"])
        ]
        if fresh:
            self._commit(wave_id, "upsert", fresh)
        return table.num_rows

    def delete(self, wave_id: str, policy_ids: Sequence[str] | None = None) -> int:
        """Send compensating deletes, then drop pending upserts; returns policies deleted."""
        check_wave_id(wave_id)
        state = self._state(wave_id)
        wanted = set(state) if policy_ids is None else set(policy_ids)
        live = sorted(pid for pid in wanted if state.get(pid, ("",))[0] == "upsert")
        if not live:
            return 0
        now = dt.datetime.now(dt.UTC).isoformat()
        self._commit(
            wave_id,
            "delete",
            [
                {
                    "message_id": message_id(pid, wave_id, "delete"),
                    "op": "delete",
                    "wave_id": wave_id,
                    "policy_id": pid,
                    "canonical_version": self.version,
                    "content_sha": "",
                    "written_at": now,
                }
                for pid in live
            ],
        )
        gone = set(live)
        for path in self._files(wave_id):
            if path.parent != self.outbox or "-upsert-" not in path.name:
                continue
            if not gone & {pid for pid, _, _ in self._summary(path)}:
                continue
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [line for line in lines if json.loads(line)["policy_id"] not in gone]
            if kept:
                files.atomic_write(path, "".join(kept).encode("utf-8"))
            else:
                path.unlink(missing_ok=True)
        return len(live)

    def read_back(self, wave_id: str, *, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
        """The net upserted records of the wave, as canonical batches."""
        check_wave_id(wave_id)
        state = self._state(wave_id)
        latest = {(name, pid) for pid, (op, _, name) in state.items() if op == "upsert"}
        pending: list[dict[str, Any]] = []
        for path in self._files(wave_id):
            if "-upsert-" not in path.name:
                continue
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    msg = json.loads(line)
                    if (path.name, msg["policy_id"]) in latest:
                        pending.append(msg["record"])
                        if len(pending) >= batch_rows:
                            yield from records_to_arrow(pending, self.version).to_batches()
                            pending = []
        if pending:
            yield from records_to_arrow(pending, self.version).to_batches()

    def count(self, wave_id: str) -> int:
        """How many policies of the wave are live (latest message an upsert)."""
        check_wave_id(wave_id)
        return sum(1 for op, _, _ in self._state(wave_id).values() if op == "upsert")


__all__ = ["CoexistenceBridgeTarget", "message_id"]
