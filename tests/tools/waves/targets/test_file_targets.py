"""legacy_batch and coexistence_bridge: file names, atomicity, idempotency, delete semantics."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pytest

from core.errors import InputError
from tools.waves.targets import files, make_target
from tools.waves.targets.base import POLICY_ID
from tools.waves.targets.bridge import message_id


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- legacy_batch -----------------------------------------------------------------------------
def test_legacy_parts_are_named_by_wave_sequence_and_content_hash(tmp_path, make_records) -> None:
    drop = tmp_path / "drop"
    target = make_target("legacy_batch", {"dir": str(drop)})
    target.write("w-1", make_records(range(3)))
    target.write("w-1", make_records(range(3)))  # retry: same bytes, same part
    target.write("w-1", make_records(range(3, 5)))
    names = _names(drop)
    assert len(names) == 2
    assert names[0].startswith("wave-w-1.part-000001-") and names[1].startswith(
        "wave-w-1.part-000002-"
    )
    header = (drop / names[0]).read_text().splitlines()[0]
    assert header.startswith('"policy_core.policy_id","policy_core.status"')


def test_legacy_fixed_layout_writes_a_layout_and_refuses_overflow(tmp_path, make_records) -> None:
    drop = tmp_path / "drop"
    target = make_target(
        "legacy_batch",
        {"dir": str(drop), "layout": "fixed", "widths": {"policy_core.insured_party.name": 8}},
    )
    with pytest.raises(InputError) as err:
        target.write("w1", make_records([12]))  # "Insured 12" is 10 characters
    assert "policy P00012, field policy_core.insured_party.name" in err.value.message
    assert not list(drop.glob("wave-*"))
    target = make_target("legacy_batch", {"dir": str(drop), "layout": "fixed"})
    target.write("w1", make_records([1, 2]))
    layout = json.loads((drop / "layout-dat.json").read_text())
    assert layout["fields"][0] == {"name": POLICY_ID, "start": 1, "length": 100}
    lines = next(drop.glob("wave-w1.part-*.dat")).read_text().splitlines()
    assert len(lines) == 2 and len({len(line) for line in lines}) == 1


def test_legacy_write_is_atomic_when_the_rename_fails(tmp_path, make_records, monkeypatch) -> None:
    drop = tmp_path / "drop"
    target = make_target("legacy_batch", {"dir": str(drop)})
    target.write("w1", make_records(range(2)))
    before = {p.name: p.read_bytes() for p in drop.iterdir()}

    def broken_replace(src, dst):  # the disk fills up just before the rename
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        target.write("w1", make_records(range(1, 6)))
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in drop.iterdir()} == before  # no temp left behind
    assert target.count("w1") == 2


def test_legacy_newest_part_wins_after_a_crash_before_pruning(
    tmp_path, make_records, monkeypatch
) -> None:
    target = make_target("legacy_batch", {"dir": str(tmp_path / "drop")})
    target.write("w1", make_records(range(3)))
    monkeypatch.setattr(type(target), "_prune", lambda self, parts, ids: 0)  # crash after commit
    target.write("w1", make_records([1], premium="9.99"))
    assert target.count("w1") == 3
    back = pa.Table.from_batches(list(target.read_back("w1"))).sort_by(POLICY_ID)
    assert back.num_rows == 3
    assert str(back.column("rating_components.premium_amount")[1].as_py()) == "9.99"


def test_legacy_delete_removes_exactly_the_waves_files(tmp_path, make_records) -> None:
    drop = tmp_path / "drop"
    target = make_target("legacy_batch", {"dir": str(drop)})
    target.write("w1", make_records(range(2)))
    target.write("w1.b", make_records(range(5, 7)))
    (drop / "unrelated.txt").write_text("keep me")
    assert target.delete("w1") == 2
    assert [n for n in _names(drop) if n.startswith("wave-")] == [
        n for n in _names(drop) if n.startswith("wave-w1.b.part-")
    ]
    assert (drop / "unrelated.txt").exists()


def test_wave_ids_that_cannot_name_a_file_are_refused(tmp_path, make_records) -> None:
    target = make_target("legacy_batch", {"dir": str(tmp_path)})
    with pytest.raises(InputError, match="wave id"):
        target.write("../escape", make_records([1]))


# -- coexistence_bridge -------------------------------------------------------------------------
def _messages(folder: Path) -> list[dict]:
    return [
        json.loads(line)
        for name in _names(folder)
        for line in (folder / name).read_text().splitlines()
    ]


def test_bridge_messages_carry_ids_op_and_the_model_json(tmp_path, make_records) -> None:
    target = make_target("coexistence_bridge", {"dir": str(tmp_path)})
    target.write("w1", make_records([4]))
    [message] = _messages(tmp_path / "outbox")
    assert message["message_id"] == message_id("P00004", "w1")
    assert message["op"] == "upsert" and message["wave_id"] == "w1"
    assert message["record"]["rating_components"]["premium_amount"] == "1004.25"
    assert message["record"]["endorsements"][0]["changes"] == "line1\nline2"


def test_bridge_never_sends_the_same_message_twice(tmp_path, make_records) -> None:
    target = make_target("coexistence_bridge", {"dir": str(tmp_path)})
    target.write("w1", make_records(range(3)))
    target.write("w1", make_records(range(3)))
    target.write("w1", make_records(range(2, 4)))  # only P00003 is new
    ids = [m["policy_id"] for m in _messages(tmp_path / "outbox")]
    assert ids == ["P00000", "P00001", "P00002", "P00003"]
    target.write("w1", make_records([1], premium="5.00"))  # changed content: an update
    assert [m["policy_id"] for m in _messages(tmp_path / "outbox")][-1] == "P00001"


def test_bridge_delete_compensates_and_drops_pending_upserts(tmp_path, make_records) -> None:
    outbox, consumed = tmp_path / "outbox", tmp_path / "consumed"
    target = make_target("coexistence_bridge", {"dir": str(tmp_path)})
    target.write("w1", make_records(range(2)))
    consumed.mkdir()
    for name in _names(outbox):  # the bridge applied the first file
        os.replace(outbox / name, consumed / name)
    target.write("w1", make_records(range(2, 4)))
    target.write("w2", make_records([9]))
    assert target.delete("w1") == 4
    pending = _messages(outbox)
    assert {m["policy_id"] for m in pending if m["op"] == "upsert"} == {"P00009"}
    deletes = [m for m in pending if m["op"] == "delete"]
    assert sorted(m["policy_id"] for m in deletes) == ["P00000", "P00001", "P00002", "P00003"]
    assert deletes[0]["message_id"] == message_id("P00000", "w1", "delete")
    assert target.count("w1") == 0 and list(target.read_back("w1")) == []
    assert target.delete("w1") == 0  # idempotent: nothing live, nothing sent
    target.write("w1", make_records([0]))  # re-run after rollback sends again
    assert target.count("w1") == 1


def test_bridge_refuses_invalid_records_and_writes_nothing(tmp_path, make_records) -> None:
    records = make_records(range(3))
    status = records.column("policy_core.status").to_pylist()
    status[1] = "zombie"
    records = records.set_column(1, "policy_core.status", pa.array(status))
    target = make_target("coexistence_bridge", {"dir": str(tmp_path)})
    with pytest.raises(InputError) as err:
        target.write("w1", records)
    assert "policy P00001, field policy_core.status" in err.value.message
    assert _names(tmp_path / "outbox") == []


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "f.jsonl"
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(OSError):
        files.atomic_write(path, b"data")
    assert list(tmp_path.iterdir()) == []


# -- data_quality_queue --------------------------------------------------------------------------
def test_dq_queue_keeps_reasons_per_policy_and_wave(tmp_path, make_records) -> None:
    target = make_target("data_quality_queue", {"url": f"sqlite:///{tmp_path}/dq.sqlite"})
    records = make_records(range(3)).append_column(
        "dq_reasons", pa.array([["missing agent"], None, ["bad date", "no state"]])
    )
    assert target.write("w1", records) == 3
    assert target.write("w2", make_records([0])) == 1  # the same policy in another wave
    assert target.reasons("w1") == {
        "P00000": ["missing agent"],
        "P00001": [],
        "P00002": ["bad date", "no state"],
    }
    assert target.count("w1") == 3 and target.count("w2") == 1
    target.close()
