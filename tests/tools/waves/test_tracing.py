"""Traces: a span per wave milestone and batch, per MCP tool call and per CLI command; log lines
carry the trace id; nothing is recorded without an exporter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine

from cli.main import main
from core.errors import ConfigError
from core.logs import configure_logging
from core.settings import Settings
from core.tracing import setup_tracing, span
from servers.content import build_server
from tests.servers.clients import memory_session
from tests.tools.waves.helpers import make_context
from tools.waves import PlanCriteria, generate_plan, run_wave


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    setup_tracing("test", exporter=exporter)
    yield exporter
    setup_tracing("test")  # back to the environment's choice (none)


def test_wave_milestones_and_batches_are_spans(
    spans: InMemorySpanExporter, engine: Engine, wave_settings: Settings, estate: dict[str, Path]
) -> None:
    context = make_context(engine, wave_settings, estate)
    plan = generate_plan(
        context, source_ids=["src-a"], target="new_platform", criteria=PlanCriteria(batch_size=100)
    )
    wave_id = plan.waves[0].wave_id
    assert run_wave(context, wave_id).status == "completed"
    finished = spans.get_finished_spans()
    milestones = [s for s in finished if s.name == "wave.milestone"]
    assert [s.attributes["milestone"] for s in milestones] == [
        "ingest",
        "map_to_canonical",
        "route",
        "migrate",
        "validate",
    ]
    batches = [s for s in finished if s.name == "wave.batch"]
    by_id = {s.context.span_id: s for s in milestones}
    migrate_batches = [s for s in batches if s.attributes["milestone"] == "migrate"]
    assert len(migrate_batches) >= 3
    # Each batch span is a child of its milestone's span, in the same trace.
    for batch in migrate_batches:
        parent = by_id[batch.parent.span_id]
        assert parent.attributes["milestone"] == "migrate"
        assert batch.context.trace_id == parent.context.trace_id
    assert all(s.attributes["wave_id"] == wave_id for s in batches)


def test_tool_calls_are_spans_and_logs_carry_the_trace_id(
    spans: InMemorySpanExporter, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(home=workspace, embedding_provider="none")
    (workspace / "a.csv").write_text("PolicyNo,Premium\nP1,1\n")
    configure_logging(fmt="json", level="INFO")

    async def run() -> None:
        async with memory_session(build_server(settings)) as session:
            result = await session.call_tool(
                "ingest_file", {"path": str(workspace / "a.csv"), "format": "csv"}
            )
            assert not result.isError, result.content

    anyio.run(run)
    (tool,) = [s for s in spans.get_finished_spans() if s.name == "mcp.tool ingest_file"]
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    (called,) = [line for line in lines if line["event"] == "tool_called"]
    assert called["trace_id"] == format(tool.context.trace_id, "032x")
    assert tool.attributes["correlation_id"] == called["correlation_id"]


def test_cli_command_span_and_exporter_choice(
    spans: InMemorySpanExporter,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert main(["sources", "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout stays one JSON document
    assert '"name": "cli.command"' in captured.err  # the console exporter writes to stderr
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin-ish")
    assert main(["sources"]) == 1
    assert "unknown trace exporter 'zipkin-ish'" in capsys.readouterr().err
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    setup_tracing("test")
    with span("probe") as probe:
        assert not probe.is_recording()  # no exporter: nothing recorded
    with pytest.raises(ConfigError):
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "nope")
        setup_tracing("test")
