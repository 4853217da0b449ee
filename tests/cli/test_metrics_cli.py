"""Prometheus metrics: scraped from --metrics-port while a wave runs, and from an HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cli.commands import waves as wave_commands
from cli.main import main
from core.settings import Settings
from core.store import open_store
from tests.servers.clients import free_port
from tests.tools.waves.helpers import canonical_table, make_context, register_source, write_parts
from tools.waves import saga


@pytest.fixture(autouse=True)
def estate(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_BATCH_SIZE", "100")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    monkeypatch.delenv("DATA_MASH_METRICS", raising=False)
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    settings = Settings(home=workspace, batch_size=100)
    engine = open_store(settings)
    folders = {
        "src-a": write_parts(tmp_path / "a", canonical_table(450, prefix="A", bad_every=50), 100)
    }
    register_source(engine, settings, "src-a", 450)
    engine.dispose()
    monkeypatch.setattr(
        wave_commands,
        "_context",
        lambda state: make_context(state.engine, state.settings, folders),
    )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_during_a_wave(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate-plan", "-s", "src-a", "-t", "new_platform", "--json"]) == 0
    wave0 = json.loads(capsys.readouterr().out)["waves"][0]["wave_id"]
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    scrapes: list[dict] = []

    def scrape(event: str, milestone: str, batch_no: int) -> None:
        if event == "after_commit" and milestone == "migrate":
            scrapes.append(_samples(httpx.get(url, timeout=10).text))

    monkeypatch.setattr(saga, "HOOK", scrape)
    assert main(["--metrics-port", str(port), "wave", "run", wave0, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "completed"
    assert len(scrapes) >= 3  # the run was scraped while it was going, batch by batch
    migrated = [_value(s, "data_mash_records_total", stage="migrate") for s in scrapes]
    assert migrated == sorted(migrated) and migrated[-1] - migrated[0] >= 200
    batches = [
        _value(s, "data_mash_batch_duration_seconds_count", stage="migrate") for s in scrapes
    ]
    assert batches[-1] - batches[0] == len(scrapes) - 1
    assert _value(scrapes[-1], "data_mash_records_total", stage="map_to_canonical") >= 400
    # No policy id in any label, whatever the metric.
    assert not any("A000" in repr(key) for key in scrapes[-1])
    # The port is released when the command ends.
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2)


def test_compensations_and_gate_failures_are_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.metrics import COMPENSATIONS, GATE_FAILURES

    before_comp = COMPENSATIONS.labels("migrate")._value.get()
    assert main(["generate-plan", "-s", "src-a", "-t", "new_platform", "--json"]) == 0
    waves = json.loads(capsys.readouterr().out)["waves"]
    wave0, wave1 = waves[0]["wave_id"], waves[1]["wave_id"]
    assert main(["wave", "run", wave0, "--json"]) == 0
    assert main(["wave", "rollback", wave0, "--json"]) == 0
    capsys.readouterr()
    assert COMPENSATIONS.labels("migrate")._value.get() == before_comp + 1
    before_gate = GATE_FAILURES.labels("business_rules")._value.get()
    assert main(["gates", wave1, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passed"] is False
    assert GATE_FAILURES.labels("business_rules")._value.get() == before_gate + 1


def test_ingest_counts_decoded_and_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.metrics import RECORDS, exposition

    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{not json\n{"a": 2}\n{also bad\n')
    decoded = RECORDS.labels("decode")._value.get()
    assert main(["ingest", str(path), "--format", "jsonl", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert RECORDS.labels("decode")._value.get() - decoded == out["records"] == 2
    reasons = {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(exposition()[0].decode())
        if family.name == "data_mash_quarantined_records"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert sum(reasons.values()) >= 2
    assert all("not json" not in r and "also bad" not in r for r in reasons)


def test_mapping_confidence_is_observed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from core.metrics import MAPPING_CONFIDENCE

    path = tmp_path / "policies.csv"
    path.write_text(
        "policy_number,effective_date,premium_amount\nP1,2024-01-01,100.50\nP2,2024-02-01,200\n"
    )
    assert main(["ingest", str(path), "--format", "csv", "--json"]) == 0
    source_id = json.loads(capsys.readouterr().out)["source_id"]
    before = MAPPING_CONFIDENCE._sum.get(), sum(b.get() for b in MAPPING_CONFIDENCE._buckets)
    assert main(["map-to-canonical", source_id, "--json"]) == 0
    proposed = json.loads(capsys.readouterr().out)["mappings"]
    after = MAPPING_CONFIDENCE._sum.get(), sum(b.get() for b in MAPPING_CONFIDENCE._buckets)
    mapped = [m for m in proposed if m["target"]]
    assert mapped and after[1] - before[1] == len(mapped)
    assert after[0] - before[0] == pytest.approx(sum(m["confidence"] for m in mapped), abs=1e-3)


def test_a_waves_log_lines_name_its_batches_and_share_the_audit_correlation_id(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools.audit import AuditLog

    assert main(["generate-plan", "-s", "src-a", "-t", "new_platform", "--json"]) == 0
    wave0 = json.loads(capsys.readouterr().out)["waves"][0]["wave_id"]
    assert main(["-v", "--log-format", "json", "wave", "run", wave0, "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    batches = [x for x in lines if x["event"] == "wave_batch_committed"]
    assert {x["milestone"] for x in batches} >= {"migrate", "validate"}
    migrate = [x for x in batches if x["milestone"] == "migrate"]
    assert [x["batch_no"] for x in migrate] == list(range(len(migrate)))
    assert sum(x["rows"] for x in migrate) >= 400 and all(x["wave_id"] == wave0 for x in migrate)
    done = {x["milestone"] for x in lines if x["event"] == "wave_milestone_completed"}
    assert {"migrate", "validate"} <= done
    (command_id,) = {x["correlation_id"] for x in lines}
    engine = open_store(Settings(home=workspace))
    batch_entries = [e for e in AuditLog(engine).replay("waves") if e.operation == "migrate.batch"]
    assert batch_entries and {e.correlation_id for e in batch_entries} == {command_id}
    engine.dispose()
