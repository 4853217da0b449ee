"""Every API request: a request id (log line, response, problem body, audit entries), Prometheus
metrics by route template, a span continuing the caller's trace; /metrics, /livez, /readyz."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from api.auth import Role
from core.logs import configure_logging
from core.tracing import setup_tracing
from tests.api.estate import Estate
from tools.audit import AuditLog

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging(fmt="json", level="INFO")
    yield
    configure_logging(fmt="console", level="WARNING")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    setup_tracing("test", exporter=exporter)
    yield exporter
    setup_tracing("test")


def _log_lines(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def _samples(client: TestClient, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = client.get("/metrics").text
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_request_id_is_in_the_log_line_the_response_and_problems(
    client: TestClient, estate: Estate, json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    viewer = estate.tokens.header("acme", Role.VIEWER)
    capsys.readouterr()
    ok = client.get("/api/v1/waves", headers={**viewer, "X-Request-ID": "req-ops-1"})
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "req-ops-1"
    line = next(x for x in _log_lines(capsys.readouterr().err) if x["event"] == "http_request")
    assert line["correlation_id"] == "req-ops-1"
    assert line["route"] == "/api/v1/waves" and line["status"] == 200 and line["method"] == "GET"

    missing = client.get("/api/v1/waves/plan-nosuch-w0", headers={**viewer, "X-Request-ID": "r2"})
    assert missing.status_code == 404
    assert missing.json()["request_id"] == "r2" == missing.headers["x-request-id"]
    unauthorized = client.get("/api/v1/waves", headers={"X-Request-ID": "r3"})
    assert unauthorized.status_code == 401 and unauthorized.json()["request_id"] == "r3"

    generated = client.get("/api/v1/waves", headers={**viewer, "X-Request-ID": "no spaces\x7f"})
    assert re.fullmatch(r"[0-9a-f]{16}", generated.headers["x-request-id"])
    assert (
        client.get("/api/v1/waves", headers=viewer).headers["x-request-id"]
        != (generated.headers["x-request-id"])
    )


def test_audit_entries_of_a_request_carry_its_id(client: TestClient, estate: Estate) -> None:
    acme = estate.tenants["acme"]
    operator = estate.tokens.header("acme", Role.OPERATOR)
    url = f"/api/v1/mappings/{acme.mapping_id}/fields/policy_core.status"
    done = client.patch(
        url, json={"action": "confirm"}, headers={**operator, "X-Request-ID": "req-audit-7"}
    )
    assert done.status_code == 200, done.text
    entries = list(AuditLog(estate.engine, tenant="acme").replay("canonical"))
    assert entries[-1].operation == "update_field_mapping"
    assert entries[-1].correlation_id == "req-audit-7"


def test_metrics_count_requests_by_route_template(client: TestClient, estate: Estate) -> None:
    acme = estate.tenants["acme"]
    viewer = estate.tokens.header("acme", Role.VIEWER)
    key = (("method", "GET"), ("route", "/api/v1/waves/{wave_id}"), ("status", "200"))
    before = _samples(client, "data_mash_http_requests_total").get(key, 0.0)
    seconds_before = _samples(client, "data_mash_http_request_duration_seconds_count")
    for _ in range(3):
        assert client.get(f"/api/v1/waves/{acme.done_wave}", headers=viewer).status_code == 200
    assert client.get("/no/such/path").status_code == 404
    after = _samples(client, "data_mash_http_requests_total")
    assert after[key] == before + 3
    assert after[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] >= 1
    seconds_key = (("method", "GET"), ("route", "/api/v1/waves/{wave_id}"))
    seconds = _samples(client, "data_mash_http_request_duration_seconds_count")
    assert seconds[seconds_key] == seconds_before.get(seconds_key, 0.0) + 3
    labels = {value for sample in after for _name, value in sample}
    assert acme.done_wave not in " ".join(labels)  # templates, never ids


def test_each_request_is_a_span_continuing_the_callers_trace(
    client: TestClient, estate: Estate, spans: InMemorySpanExporter
) -> None:
    acme = estate.tenants["acme"]
    headers = {
        **estate.tokens.header("acme", Role.VIEWER),
        "traceparent": TRACEPARENT,
        "X-Request-ID": "req-span",
    }
    assert client.get(f"/api/v1/waves/{acme.done_wave}", headers=headers).status_code == 200
    (request,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert request.name == "GET /api/v1/waves/{wave_id}"
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["data_mash.request_id"] == "req-span"


def test_probes_answer_without_a_token(client: TestClient) -> None:
    live = client.get("/livez")
    assert live.status_code == 200 and live.headers["content-type"] == "application/health+json"
    assert live.json()["status"] == "pass"
    ready = client.get("/readyz")
    assert ready.headers["content-type"] == "application/health+json"
    assert "store:connectivity" in json.dumps(ready.json()) or ready.json()["checks"]
    assert "data_mash_http_requests_total" in client.get("/metrics").text
    paths = set(client.get("/openapi.json").json()["paths"])
    assert not {"/metrics", "/livez", "/readyz"} & paths
