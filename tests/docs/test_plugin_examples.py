"""The examples of docs/plugins.md, installed as a real plugin distribution and exercised
through data-mash's own loaders (entry points, not direct imports), so the page stays true."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from core.errors import InputError
from core.settings import Settings
from core.store import open_store

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
PACKAGE = "data_mash_example_plugins"
PAGE = REPO / "docs" / "plugins.md"


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the examples the way pip would: a .dist-info with entry_points.txt on sys.path.

    The entry points are the ones docs/plugins.md shows (read from the page itself).
    """
    block = PAGE.read_text(encoding="utf-8").split("```toml\n", 1)[1].split("```", 1)[0]
    lines = [
        line.replace("[project.entry-points.", "[").replace('"', "")
        for line in block.splitlines()
        if line.strip()
    ]
    dist = tmp_path / "site" / "data_mash_example_plugins-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: data-mash-example-plugins\n")
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(EXAMPLES))


def test_the_page_names_each_example_file() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for name in ("keyvalue_reader.py", "jsonl_folder_target.py", "premium_cap_gate.py"):
        assert f"docs/examples/{PACKAGE}/{name}" in text
        assert (EXAMPLES / PACKAGE / name).is_file()


def test_the_reader_plugin_ingests_a_file(installed: None, tmp_path: Path) -> None:
    from tools.content.ingest import ingest_file
    from tools.content.readers.registry import known_formats, reader_for

    assert "keyvalue" in known_formats()
    assert reader_for("keyvalue").__name__ == "KeyValueReader"
    data = tmp_path / "policies.kv"
    data.write_text("POLNO=P1|PREM=10.50\nPOLNO=P2|PREM=7\nbroken line\nPOLNO=P3\n")
    settings = Settings(home=tmp_path / "home", embedding_provider="none")
    result = ingest_file(
        open_store(settings), settings, data, fmt="keyvalue", options={"columns": "POLNO,PREM"}
    )
    assert (result.records, result.bad_records) == (3, 1)
    assert [c.name for c in result.columns] == ["POLNO", "PREM"]
    assert result.errors[0].line == 3 and "not KEY=VALUE" in result.errors[0].reason
    with pytest.raises(InputError, match="columns"):
        ingest_file(open_store(settings), settings, data, fmt="keyvalue", options={})


def test_the_target_plugin_writes_reads_back_and_undoes(installed: None, tmp_path: Path) -> None:
    from tools.waves.targets.registry import known_targets, make_target

    assert "jsonl_folder" in known_targets()
    target = make_target("jsonl_folder", {"folder": str(tmp_path / "outbox")})
    assert target.health().ok
    batch = pa.table(
        {"policy_core.policy_id": ["P1", "P2"], "rating_components.premium_amount": [1.0, 2.0]}
    )
    assert target.write("w0", batch) == 2
    target.write("w0", batch)  # a retried batch: still one copy of each policy
    assert target.count("w0") == 2
    back = pa.Table.from_batches(list(target.read_back("w0")))
    assert sorted(back.column("policy_core.policy_id").to_pylist()) == ["P1", "P2"]
    assert target.delete("w0", ["P1"]) == 1
    assert target.delete("w0") == 1 and target.count("w0") == 0
    with pytest.raises(InputError, match="folder"):
        make_target("jsonl_folder", {})


def test_the_gate_plugin_fails_policies_over_the_cap(installed: None) -> None:
    from tools.waves.contracts import PlanCriteria
    from tools.waves.gates.base import GateContext
    from tools.waves.gates.registry import load_gates

    criteria = PlanCriteria(gates=["premium_cap"])
    (gate,) = load_gates(criteria)
    batch = pa.record_batch(
        {
            "policy_core.policy_id": ["P1", "P2", "P3"],
            "rating_components.premium_amount": [100.0, 2_000_000.0, None],
        }
    )
    ctx = GateContext(
        wave_id="w0",
        tenant="default",
        criteria=criteria,
        canonical="policy_v1",
        policy_count=3,
        batches=lambda: iter([batch]),
        target=lambda: None,  # type: ignore[arg-type,return-value]
        policies_by_source=dict,
        confidences=lambda _source: None,
    )
    result = gate.check(ctx)
    assert (result.gate, result.passed, result.checked, result.failing) == (
        "premium_cap",
        False,
        3,
        2,
    )
    assert result.sample == ["P2", "P3"]
