"""Auth over the whole route table: 401 without a token, 404 for another tenant's objects,
403 for a role that does not include the route's. Iterates app.routes, so a new route that is not
listed in ROLES fails here until its role is declared."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.estate import Estate
from tools.audit import AuditLog

#: The role each route needs: (method, path) -> role.
ROLES: dict[tuple[str, str], Role] = {
    ("GET", "/api/v1/sources"): Role.VIEWER,
    ("GET", "/api/v1/sources/{source_id}"): Role.VIEWER,
    ("GET", "/api/v1/sources/{source_id}/profile"): Role.VIEWER,
    ("GET", "/api/v1/sources/{source_id}/records"): Role.VIEWER,
    ("GET", "/api/v1/mappings"): Role.VIEWER,
    ("GET", "/api/v1/mappings/{mapping_id}"): Role.VIEWER,
    ("PATCH", "/api/v1/mappings/{mapping_id}/fields/{target}"): Role.OPERATOR,
    ("POST", "/api/v1/mappings/{mapping_id}/approve"): Role.APPROVER,
    ("GET", "/api/v1/routing/distribution"): Role.VIEWER,
    ("GET", "/api/v1/plans"): Role.VIEWER,
    ("GET", "/api/v1/plans/{plan_id}"): Role.VIEWER,
    ("GET", "/api/v1/waves"): Role.VIEWER,
    ("GET", "/api/v1/waves/{wave_id}"): Role.VIEWER,
    ("GET", "/api/v1/waves/{wave_id}/gates"): Role.VIEWER,
    ("POST", "/api/v1/waves/{wave_id}/gates/check"): Role.OPERATOR,
    ("POST", "/api/v1/waves/{wave_id}/gates/{gate}/override"): Role.APPROVER,
    ("POST", "/api/v1/waves/{wave_id}/run"): Role.OPERATOR,
    ("POST", "/api/v1/waves/{wave_id}/rollback"): Role.APPROVER,
    ("GET", "/api/v1/waves/{wave_id}/reconciliation"): Role.VIEWER,
    ("GET", "/api/v1/jobs/{job_id}"): Role.VIEWER,
    ("GET", "/api/v1/jobs/{job_id}/events"): Role.VIEWER,
    ("GET", "/api/v1/policies/{policy_id}"): Role.VIEWER,
    ("GET", "/api/v1/policies/{policy_id}/history"): Role.VIEWER,
    ("GET", "/api/v1/policies/{policy_id}/lineage"): Role.VIEWER,
    ("GET", "/api/v1/policies/{policy_id}/audit"): Role.VIEWER,
    ("GET", "/api/v1/policies/{policy_id}/document"): Role.VIEWER,
    ("GET", "/api/v1/assemblies"): Role.VIEWER,
    ("GET", "/api/v1/assemblies/{assembly_id}"): Role.VIEWER,
    ("GET", "/api/v1/assemblies/{assembly_id}/conflicts"): Role.VIEWER,
    ("GET", "/api/v1/audit"): Role.VIEWER,
    ("GET", "/api/v1/audit/{entry_id}"): Role.VIEWER,
    ("GET", "/api/v1/sync/status"): Role.VIEWER,
    ("GET", "/api/v1/sync/ledger"): Role.VIEWER,
    ("GET", "/api/v1/sync/conflicts"): Role.VIEWER,
    ("GET", "/api/v1/sync/conflicts/{conflict_id}"): Role.VIEWER,
    ("POST", "/api/v1/sync/conflicts/{conflict_id}/resolve"): Role.APPROVER,
}
BODIES: dict[str, Any] = {
    "/api/v1/mappings/{mapping_id}/fields/{target}": {"action": "confirm"},
    "/api/v1/waves/{wave_id}/gates/{gate}/override": {"reason": "tested elsewhere"},
    "/api/v1/sync/conflicts/{conflict_id}/resolve": {"take": "legacy"},
}


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every API route in app.routes (included routers flattened)."""
    return sorted(
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path.startswith("/api/")
        for method in context.methods or ()
    )


@pytest.fixture(scope="module")
def beta_job(app: FastAPI, estate: Estate) -> str:
    """A job of tenant beta (its blocked wave: the job fails on the gate, which is fine)."""
    beta = estate.tenants["beta"]
    with TestClient(app) as client:
        started = client.post(
            f"/api/v1/waves/{beta.blocked_wave}/run",
            headers=estate.tokens.header("beta", Role.OPERATOR),
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        for _ in range(200):
            if (
                client.get(
                    f"/api/v1/jobs/{job_id}", headers=estate.tokens.header("beta", Role.VIEWER)
                ).json()["state"]
                != "running"
            ):
                break
            time.sleep(0.05)
    return str(job_id)


def url_for(path: str, estate: Estate, tenant: str, job_id: str) -> str:
    ids = estate.tenants[tenant]
    values = {
        "source_id": ids.source_id,
        "mapping_id": ids.mapping_id,
        "target": "policy_core.status",
        "plan_id": ids.plan_id,
        "wave_id": ids.blocked_wave,
        "gate": ids.failing_gate,
        "policy_id": ids.assembled_policy if path.endswith("/document") else ids.policy_id,
        "assembly_id": ids.assembly_id,
        "conflict_id": str(ids.conflict_ids[0]),
        "job_id": job_id,
        "entry_id": str(AuditLog(estate.engine, tenant=tenant).replay_page(limit=1)[0][0].id),
    }
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    if path.endswith("/document"):
        # Both tenants assembled the same sample estate (same policy ids): the other tenant's
        # object is the document in *its* assembly.
        url += f"?assembly_id={ids.assembly_id}"
    return url


def call(client: TestClient, method: str, url: str, path: str, headers: dict[str, str]) -> Any:
    return client.request(method, url, headers=headers, json=BODIES.get(path))


def test_every_route_has_a_declared_role(app: FastAPI) -> None:
    assert api_routes(app) == sorted(ROLES)


def test_no_token_is_401_on_every_route(
    app: FastAPI, client: TestClient, estate: Estate, beta_job: str
) -> None:
    for method, path in api_routes(app):
        response = call(client, method, url_for(path, estate, "beta", beta_job), path, {})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "no API token" in response.json()["detail"]
        bad = call(
            client,
            method,
            url_for(path, estate, "beta", beta_job),
            path,
            {"Authorization": "Bearer dmt_nope_nope"},
        )
        assert bad.status_code == 401, (method, path)


def test_tenant_a_gets_404_for_every_object_of_tenant_b(
    app: FastAPI, client: TestClient, estate: Estate, beta_job: str
) -> None:
    """With its most powerful token, tenant acme cannot read or touch any of beta's objects."""
    acme = estate.tokens.header("acme", Role.APPROVER)
    beta_ids = [
        v
        for k, v in vars(estate.tenants["beta"]).items()
        # the same ids in both tenants (sample estate), or bare numbers
        if k not in ("tenant", "failing_gate", "assembled_policy", "conflict_ids")
    ]
    checked = 0
    for method, path in api_routes(app):
        url = url_for(path, estate, "beta", beta_job)
        response = call(client, method, url, path, acme)
        if "{" in path:
            assert response.status_code == 404, (method, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        else:  # a list: acme's own items only
            assert response.status_code == 200, (method, path, response.text)
            assert not [i for i in beta_ids if i in response.text], (method, path)
        checked += 1
    assert checked == len(ROLES)


def test_each_role_is_refused_what_it_does_not_include(
    app: FastAPI, client: TestClient, estate: Estate, beta_job: str
) -> None:
    """403 for a role below the route's (checked before the object is looked up)."""
    order = [Role.VIEWER, Role.OPERATOR, Role.APPROVER]
    refused = 0
    for method, path in api_routes(app):
        needed = ROLES[(method, path)]
        for role in order[: order.index(needed)]:
            url = url_for(path, estate, "acme", beta_job)
            response = call(client, method, url, path, estate.tokens.header("acme", role))
            assert response.status_code == 403, (method, path, role, response.text)
            assert f"needs the {needed.value} role" in response.json()["detail"]
            refused += 1
    # a viewer is refused the 3 operator and 4 approver routes, an operator the 4 approver ones
    assert refused == 11
