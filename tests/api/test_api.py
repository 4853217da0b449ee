"""The REST API over a real store: contracts, paging, problem documents, jobs and their events."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.estate import Estate
from tools.audit import AuditLog
from tools.waves import get_wave_status


def viewer(estate: Estate) -> dict[str, str]:
    return estate.tokens.header("acme", Role.VIEWER)


def wait_for(client: TestClient, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(600):
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if job["state"] != "running":
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running")


def test_openapi_is_published_with_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/waves/{wave_id}/run" in spec["paths"]
    assert "/api/v1/audit" in spec["paths"]


def test_lists_are_paged_with_a_cursor(client: TestClient, estate: Estate) -> None:
    first = client.get("/api/v1/waves", params={"limit": 4}, headers=viewer(estate)).json()
    assert len(first["waves"]) == 4 and first["total"] == 9 and first["next_cursor"] == "4"
    rest = client.get(
        "/api/v1/waves",
        params={"limit": 50, "cursor": first["next_cursor"]},
        headers=viewer(estate),
    ).json()
    assert len(rest["waves"]) == 5 and rest["next_cursor"] is None
    ids = [w["wave_id"] for w in first["waves"] + rest["waves"]]
    assert len(set(ids)) == 9
    bad = client.get("/api/v1/waves", params={"cursor": "x1"}, headers=viewer(estate))
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_reads_return_the_contract_models(client: TestClient, estate: Estate) -> None:
    acme = estate.tenants["acme"]
    sources = client.get("/api/v1/sources", headers=viewer(estate)).json()
    assert acme.source_id in {s["source_id"] for s in sources["sources"]}
    profile = client.get(f"/api/v1/sources/{acme.source_id}/profile", headers=viewer(estate))
    assert profile.status_code == 200 and profile.json()["records"] == 30
    mapping = client.get(f"/api/v1/mappings/{acme.mapping_id}", headers=viewer(estate)).json()
    assert {r["target"] for r in mapping["rules"]} >= {"policy_core.policy_id"}
    status = client.get(f"/api/v1/waves/{acme.done_wave}", headers=viewer(estate)).json()
    assert status["status"] == "completed" and status["migrated"] == 150
    gates = client.get(f"/api/v1/waves/{acme.blocked_wave}/gates", headers=viewer(estate)).json()
    assert gates["passed"] is False
    assert acme.failing_policy in next(r for r in gates["results"] if not r["passed"])["sample"]
    found = client.get(f"/api/v1/policies/{acme.policy_id}", headers=viewer(estate)).json()
    assert found["location"]["system"] == "new_platform"
    spread = client.get("/api/v1/routing/distribution", headers=viewer(estate)).json()
    assert spread["by_system"]["new_platform"] == 150 and spread["total"] == 150
    recon = client.get(f"/api/v1/waves/{acme.done_wave}/reconciliation", headers=viewer(estate))
    assert recon.status_code == 200 and recon.json()["passed"] is True


def test_errors_are_problem_documents_with_the_cli_message(
    client: TestClient, estate: Estate
) -> None:
    acme = estate.tenants["acme"]
    operator = estate.tokens.header("acme", Role.OPERATOR)
    missing = client.get("/api/v1/waves/plan-nope-w0", headers=viewer(estate))
    assert missing.status_code == 404
    problem = missing.json()
    assert problem["status"] == 404 and problem["title"] == "Not found"
    assert (
        "plan-nope-w0" in problem["detail"] and problem["instance"] == "/api/v1/waves/plan-nope-w0"
    )
    url = f"/api/v1/mappings/{acme.mapping_id}/fields/policy_core.status"
    malformed = client.patch(
        url,
        content=b'{"action": "confirm"',
        headers={**operator, "content-type": "application/json"},
    )
    assert malformed.status_code == 400, malformed.text
    assert malformed.headers["content-type"] == "application/problem+json"
    assert "JSON" in malformed.json()["detail"]
    wrong = client.patch(url, json={"action": "shred"}, headers=operator)
    assert wrong.status_code == 422 and wrong.json()["detail"].startswith("body.action")
    huge = client.patch(url, content=b"x" * (65 * 1024), headers=operator)
    assert huge.status_code == 413 and "over the limit" in huge.json()["detail"]
    bad_time = client.get("/api/v1/audit", params={"since": "yesterday-ish"}, headers=operator)
    assert bad_time.status_code == 400 and "is not a time" in bad_time.json()["detail"]
    blocked_run = client.post(f"/api/v1/waves/{acme.blocked_wave}/run", headers=operator)
    job = wait_for(client, blocked_run.json()["job_id"], operator)
    assert job["state"] == "failed" and "blocked by gate" in job["error"]


def test_an_audit_page_shortens_long_payloads_and_the_entry_url_has_them_whole(
    client: TestClient, estate: Estate
) -> None:
    page = client.get("/api/v1/audit", params={"limit": 200}, headers=viewer(estate)).json()
    shortened = [e for e in page["entries"] if e["shortened"]]
    assert shortened, "the estate's mapping entries carry long payloads"
    entry = shortened[0]
    whole = client.get(f"/api/v1/audit/{entry['id']}", headers=viewer(estate))
    assert whole.status_code == 200, whole.text
    full = whole.json()
    assert full["shortened"] == [] and full["id"] == entry["id"]
    assert len(json.dumps(full["payload"])) > len(json.dumps(entry["payload"]))
    assert entry["payload"].items() <= full["payload"].items()
    missing = client.get("/api/v1/audit/999999999", headers=viewer(estate))
    assert missing.status_code == 404 and "no audit entry 999999999" in missing.json()["detail"]
    default = client.get("/api/v1/audit", headers=viewer(estate)).json()
    assert len(default["entries"]) == min(50, default["total"])


def test_confirming_a_field_is_audited(client: TestClient, estate: Estate) -> None:
    acme = estate.tenants["acme"]
    operator = estate.tokens.header("acme", Role.OPERATOR)
    url = f"/api/v1/mappings/{acme.mapping_id}/fields/policy_core.status"
    before = AuditLog(estate.engine, tenant="acme").replay("canonical")
    count = sum(1 for _ in before)
    done = client.patch(url, json={"action": "confirm"}, headers=operator)
    assert done.status_code == 200, done.text
    rule = next(r for r in done.json()["rules"] if r["target"] == "policy_core.status")
    assert rule["status"] == "confirmed" and rule["confidence"] == 1.0
    page = client.get(
        "/api/v1/audit", params={"namespace": "canonical", "limit": 200}, headers=operator
    ).json()
    assert page["total"] == count + 1
    assert page["entries"][-1]["operation"] == "update_field_mapping"
    assert page["entries"][-1]["target"] == acme.mapping_id
    # The entry names the token that made the change and its role, not the server's OS user.
    token_id = estate.tokens.callers[operator["Authorization"].removeprefix("Bearer ")].token_id
    assert page["entries"][-1]["actor"] == f"api token {token_id} (operator)"
    # ... and only for that request: this process's own entries keep their usual actor.
    assert not AuditLog(estate.engine, tenant="acme").actor.startswith("api ")


def test_run_a_wave_as_a_job_watch_its_events_and_refuse_a_second_run(
    client: TestClient, estate: Estate
) -> None:
    acme = estate.tenants["acme"]
    operator = estate.tokens.header("acme", Role.OPERATOR)
    wave = acme.runnable_wave
    last_entry = max((e.id for e in AuditLog(estate.engine, tenant="acme").replay()), default=0)
    started = client.post(f"/api/v1/waves/{wave}/run", headers=operator)
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    again = client.post(f"/api/v1/waves/{wave}/run", headers=operator)
    if again.status_code != 202:  # the first may already be done on a fast machine
        assert again.status_code == 409 and job_id in again.json()["detail"]
    events: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=operator) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    assert events[-1][0] == "done"
    final = events[-1][1]
    assert final["state"] == "succeeded" and final["percent"] == 100.0, final["error"]
    assert final["result"]["status"] == "completed"
    percents = [e["percent"] for _, e in events]
    assert percents == sorted(percents)
    context = estate.context_for(estate.engine, estate.settings, "acme")
    assert get_wave_status(context, wave).status == "completed"
    # The job's thread writes the run's audit entries as the token that started it.
    token_id = estate.tokens.callers[operator["Authorization"].removeprefix("Bearer ")].token_id
    run_entries = [
        e
        for e in AuditLog(estate.engine, tenant="acme").replay("waves")
        if e.target == wave and e.id > last_entry
    ]
    assert run_entries, "the run wrote no waves entry for its wave"
    assert {e.actor for e in run_entries} == {f"api token {token_id} (operator)"}


def test_a_second_run_while_one_is_active_is_409(client: TestClient, estate: Estate) -> None:
    """The registry refuses a second job of the same wave while the first runs (no timing)."""
    from api.jobs import JobRegistry
    from api.problems import ConflictError

    registry = JobRegistry(lambda: estate.engine)
    release = threading.Event()

    def slow(progress: Any) -> Any:
        release.wait(10)
        return get_wave_status(
            estate.context_for(estate.engine, estate.settings, "acme"),
            estate.tenants["acme"].done_wave,
        )

    first = registry.start("acme", "run", "w-x", slow)
    try:
        try:
            registry.start("acme", "run", "w-x", slow)
        except ConflictError as exc:
            assert first.job_id in exc.message
        else:
            raise AssertionError("second run was accepted")
        registry.start("beta", "run", "w-x", slow)  # another tenant's wave
    finally:
        release.set()


def test_assemblies_their_conflicts_and_an_assembled_document(
    client: TestClient, estate: Estate
) -> None:
    acme = estate.tenants["acme"]
    headers = viewer(estate)
    listed = client.get("/api/v1/assemblies", headers=headers).json()
    (summary,) = [a for a in listed["assemblies"] if a["assembly_id"] == acme.assembly_id]
    assert summary["status"] == "approved" and summary["run"] == "complete"
    assert summary["root_name"] == "agency_policies" and summary["components"]
    result = summary["result"]
    assert result["policies"] == result["complete"] + result["partial"] + result["quarantined"]
    spec = client.get(f"/api/v1/assemblies/{acme.assembly_id}", headers=headers).json()
    assert [c["source_name"] for c in spec["components"]] == summary["components"]
    url = f"/api/v1/assemblies/{acme.assembly_id}/conflicts"
    first = client.get(url, params={"limit": 2}, headers=headers).json()
    assert first["total"] == result["conflicts"] > 2 and len(first["conflicts"]) == 2
    second = client.get(
        url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    ).json()
    assert second["conflicts"] and second["conflicts"][0] != first["conflicts"][0]
    conflict = first["conflicts"][0]
    assert (conflict["source"], conflict["row"]) != (
        conflict["other_source"],
        conflict["other_row"],
    )
    doc = client.get(f"/api/v1/policies/{acme.assembled_policy}/document", headers=headers)
    assert doc.status_code == 200, doc.text
    body = doc.json()
    assert body["assembly_id"] == acme.assembly_id
    assert body["policy"]["policy_core"]["policy_id"] == acme.assembled_policy
    origin = {p["field"]: p for p in body["provenance"]}
    assert origin["policy_core.policy_id"]["source"] == "agency_policies"
    missing = client.get("/api/v1/policies/NOPE-1/document", headers=headers)
    assert missing.status_code == 404 and "in no assembled run" in missing.json()["detail"]


def test_sync_status_conflicts_and_a_resolution_audited_with_its_token(
    client: TestClient, estate: Estate
) -> None:
    beta = estate.tenants["beta"]
    headers = estate.tokens.header("beta", Role.VIEWER)
    status = client.get("/api/v1/sync/status", headers=headers).json()
    assert status["conflicts"] >= 1 and status["oldest_conflict"] is not None
    listed = client.get("/api/v1/sync/conflicts", params={"limit": 1}, headers=headers).json()
    assert listed["total"] == status["conflicts"] and len(listed["conflicts"]) == 1
    assert listed["next_cursor"] is not None
    first = listed["conflicts"][0]
    assert first["policy_id"] == beta.policy_id and first["legacy"] != first["new"]
    conflict_id = beta.conflict_ids[-1]
    url = f"/api/v1/sync/conflicts/{conflict_id}/resolve"
    approver = estate.tokens.header("beta", Role.APPROVER)
    done = client.post(url, json={"take": "new"}, headers=approver)
    assert done.status_code == 200, done.text
    token_id = estate.tokens.callers[approver["Authorization"].removeprefix("Bearer ")].token_id
    assert done.json()["state"] == "resolved" and done.json()["resolution"] == "new"
    assert done.json()["decided_by"] == f"api token {token_id} (approver)"
    again = client.post(url, json={"take": "legacy"}, headers=approver)
    assert again.status_code == 400 and "already resolved" in again.json()["detail"]
    bad = client.post(url, json={"take": "both"}, headers=approver)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    after = client.get("/api/v1/sync/status", headers=headers).json()
    assert after["conflicts"] == status["conflicts"] - 1
    assert after["resolved"] == status["resolved"] + 1
    trail = client.get("/api/v1/audit", params={"namespace": "sync"}, headers=headers).json()
    resolved = [e for e in trail["entries"] if e["operation"] == "conflict.resolve"]
    assert resolved[-1]["actor"] == f"api token {token_id} (approver)"
    assert resolved[-1]["payload"]["conflict_id"] == conflict_id
