"""The overview's calibration chart and mapping progress, rendered on the server (no script)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from api.auth import LOOPBACK, Caller, Role
from api.main import create_app
from core.settings import Settings
from core.store import open_store
from tests.tools.canonical.helpers import BASE_RULES, policy_table, stage_source
from tools.canonical import approve_mapping, create_mapping, update_field_mapping


def test_the_overview_draws_calibration_and_names_mapped_sources(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "ws", embedding_provider="none")
    engine = open_store(settings)
    source_id = stage_source(engine, settings, policy_table(20), name="polmast")
    mapping = create_mapping(engine, source_id, BASE_RULES)
    caller = Caller(tenant="default", role=Role.VIEWER, token_id=LOOPBACK)
    with TestClient(create_app(settings, open_as=caller)) as client:
        before = client.get("/")
        assert before.status_code == 200
        assert "No proposed field has been reviewed yet (8 waiting)" in before.text
        # Mapping progress names the source, not only its id.
        row = re.search(
            rf'<tr class="mapping" data-mapping="{mapping.mapping_id}">.*?</tr>', before.text, re.S
        )
        assert row is not None and ">polmast</a>" in row.group(0)
        assert "0/8 confirmed" in row.group(0)
        update_field_mapping(
            engine, mapping.mapping_id, "policy_core.insured_party.name", source="LOB"
        )
        approve_mapping(engine, mapping.mapping_id)
        page = client.get("/").text
    svg = re.search(r'<svg class="calibration".*?</svg>', page, re.S)
    assert svg is not None
    circles = re.findall(
        r'<circle class="calibration-bin" data-bin="([0-9.-]+)" data-reviewed="(\d+)" '
        r'data-accepted="(\d+)"\s+cx="([0-9.]+)" cy="([0-9.]+)"',
        svg.group(0),
    )
    drawn = {b: (int(n), int(k)) for b, n, k, _x, _y in circles}
    assert drawn == {"0.0-0.5": (1, 1), "0.6-0.7": (1, 1), "0.8-0.9": (1, 1), "0.9-1.0": (5, 4)}
    # Placed by mean proposed confidence (x, 200 wide) and share kept (y, 160 high, 0 at top).
    top = next(c for c in circles if c[0] == "0.9-1.0")
    assert float(top[3]) == round(200 * (0.99 + 0.9 * 4) / 5, 1)
    assert float(top[4]) == round(160 - 160 * 4 / 5, 1)
    assert "8 reviewed fields in 1 mappings; 0 proposals not reviewed yet" in page
    assert "8/8 confirmed" in page
    assert "http://" not in svg.group(0).replace('xmlns="http://www.w3.org/2000/svg"', "")
    engine.dispose()
