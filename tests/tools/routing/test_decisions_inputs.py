"""Routing inputs and comparisons: derived fields, canonical parts, conflicts, stored diffs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, insert

from core.errors import NotFoundError
from core.settings import Settings
from core.store.models import (
    MappingRow,
    MappingVersionRow,
    SourceRow,
    WavePlanRow,
    WavePolicyRow,
    WaveRow,
)
from tools.routing.canonical_input import canonical_batches_for_source, open_canonical_parts
from tools.routing.conflicts import conflict_report, diff_stored_rule_sets
from tools.routing.decisions import route_source
from tools.routing.derived import add_derived_fields, quality_scores, wave_lookup_from
from tools.routing.rulesets import register_rule_set
from tools.routing.samples import canonical_schema, sample_batch, sample_batches

TENANT = "default"


def _records(rows: list[dict[str, object]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=canonical_schema())


def test_quality_score_counts_valid_present_and_missing_mandatory_fields() -> None:
    day = dt.date(2020, 1, 1)
    batch = _records(
        [
            {
                "policy_core.policy_id": "P1",
                "policy_core.status": "active",
                "policy_core.effective_date": day,
            },  # 3 of 3 valid
            {
                "policy_core.policy_id": "P2",
                "policy_core.status": "zombie",
                "policy_core.effective_date": day,
            },  # status outside its set
            {
                "policy_core.policy_id": "P3",
                "policy_core.status": "ACTIVE",
                "policy_core.insured_party.address.state": "  ",
            },  # no date, blank state
            {
                "policy_core.policy_id": "P4",
                "policy_core.status": "active",
                "policy_core.effective_date": dt.date(1850, 1, 1),
                "payments.payment_plan": "annual",
            },
        ]
    )
    assert quality_scores(batch).to_pylist() == [1.0, round(2 / 3, 4), 0.5, 0.75]


def test_derived_fields_are_added_once_and_a_provided_score_is_kept() -> None:
    batch = sample_batch(0, 4)
    plan = wave_lookup_from({"A00000000": 0, "C00000002": 2})
    derived = add_derived_fields(batch, source_system="life_admin", wave_lookup=plan)
    assert derived.column("source_system").to_pylist() == ["life_admin"] * 4
    assert derived.column("wave").to_pylist() == [0, None, 2, None]
    assert add_derived_fields(derived, source_system="other").equals(derived)
    provided = batch.append_column("data_quality_score", pa.array([0.1] * 4))
    kept = add_derived_fields(provided, source_system=None)
    assert kept.column("data_quality_score").to_pylist() == [0.1] * 4


def test_canonical_parts_stream_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "canonical" / TENANT / "m1" / "v2"
    folder.mkdir(parents=True)
    for part, start in enumerate((0, 300)):
        pq.write_table(
            pa.Table.from_batches([sample_batch(start, 300)]), folder / f"part-{part:05d}.parquet"
        )
    batches = open_canonical_parts(folder, batch_size=200, system="billing")
    assert batches.total_rows == 600
    ids = [pid for b in batches for pid in b.column("policy_core.policy_id").to_pylist()]
    assert ids == [f"{'ABCDEFGH'[i % 8]}{i:08d}" for i in range(600)]
    assert max(b.num_rows for b in batches) <= 200
    with pytest.raises(NotFoundError, match="no canonical records written yet"):
        open_canonical_parts(tmp_path, batch_size=10, system=None)


def _store_source_mapping_and_plan(store: Engine, settings: Settings) -> None:
    now = dt.datetime.now(dt.UTC)
    common = {"tenant": TENANT, "created_at": now}
    with store.begin() as conn:
        conn.execute(
            insert(SourceRow.__table__).values(
                source_id="s1",
                name="life",
                system="life_admin",
                path="b.csv",
                format="csv",
                options={},
                content_sha256="0" * 64,
                size_bytes=1,
                records=1,
                bad_records=0,
                columns=[],
                staging_dir="x",
                **common,
            )
        )
        conn.execute(
            insert(MappingRow.__table__).values(
                mapping_id="m1",
                source_id="s1",
                canonical="policy_v1",
                latest_version=2,
                approved_version=1,
                updated_at=now,
                **common,
            )
        )
        conn.execute(
            insert(MappingVersionRow.__table__),
            [
                {"mapping_id": "m1", "version": v, "status": s, "rules": [], **common}
                for v, s in ((1, "approved"), (2, "draft"))
            ],
        )
        conn.execute(
            insert(WavePlanRow.__table__).values(
                plan_id="plan1",
                target="new_platform",
                canonical="policy_v1",
                source_ids=["s1"],
                criteria={},
                summary={},
                updated_at=now,
                **common,
            )
        )
        conn.execute(
            insert(WaveRow.__table__),
            [
                {
                    "wave_id": f"w{n}",
                    "plan_id": "plan1",
                    "number": n,
                    "label": f"wave {n}",
                    "target": "new_platform",
                    "status": "pending",
                    "steps": {},
                    "gate_overrides": {},
                    "policy_count": 1,
                    "migrated": 0,
                    "failed": 0,
                    "run_no": 0,
                    "updated_at": now,
                    **common,
                }
                for n in (0, 1)
            ],
        )
        conn.execute(
            insert(WavePolicyRow.__table__),
            [
                {
                    "tenant": TENANT,
                    "plan_id": "plan1",
                    "wave_id": w,
                    "policy_id": p,
                    "source_id": "s1",
                    "coverages": 1,
                }
                for w, p in (("w0", "A00000000"), ("w1", "B00000001"))
            ],
        )
    folder = settings.path("canonical", TENANT, "m1", "v1")
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_batches([sample_batch(0, 40)]), folder / "part-00000.parquet")


def test_source_batches_come_from_the_approved_mapping_with_planned_waves(
    store: Engine, settings: Settings
) -> None:
    with pytest.raises(NotFoundError, match="no source 'nope'"):
        canonical_batches_for_source(store, settings, "nope", TENANT)
    _store_source_mapping_and_plan(store, settings)
    batches = canonical_batches_for_source(store, settings, "s1", TENANT)
    assert batches.mapping is not None and batches.mapping.version == 1  # not the draft v2
    assert batches.total_rows == 40 and batches.system == "life_admin"
    register_rule_set(
        store,
        TENANT,
        """\
routing_rules:
  version: "1"
  rules:
    - {name: first_wave, condition: {field: wave, operator: equals, value: 0}, target: new_platform,
       priority: 1}
    - {name: life, condition: {field: source_system, operator: equals, value: life_admin},
       target: coexistence_bridge, priority: 2}
""",
        name="waves",
    )
    result = route_source(
        store, settings, "waves", batches, tenant=TENANT, source_id="s1", dry_run=True
    )
    assert result.by_rule == {"first_wave": 1, "life": 39}
    assert result.sample_per_rule["first_wave"] == ["A00000000"]


def test_source_without_approved_mapping(store: Engine, settings: Settings) -> None:
    with store.begin() as conn:
        conn.execute(
            insert(SourceRow.__table__).values(
                tenant=TENANT,
                source_id="s2",
                name="billing",
                system="billing",
                path="b.csv",
                format="csv",
                options={},
                content_sha256="0" * 64,
                size_bytes=1,
                records=1,
                bad_records=0,
                columns=[],
                staging_dir="x",
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    with pytest.raises(NotFoundError, match="source 's2' has no approved mapping"):
        canonical_batches_for_source(store, settings, "s2", TENANT)


def _routable(policies: int) -> list[pa.RecordBatch]:
    return [
        add_derived_fields(b, source_system="policy_master") for b in sample_batches(policies, 250)
    ]


def test_conflict_report_lists_moved_policies_the_new_version_sends_elsewhere(
    store: Engine, settings: Settings, seed_text: str
) -> None:
    register_rule_set(store, TENANT, seed_text, name="seed")
    register_rule_set(store, TENANT, seed_text.replace('"legacy_batch"', '"DQQueue"'), name="seed")
    route_source(store, settings, "seed@1", _routable(500), tenant=TENANT, source_id="s")
    report = conflict_report(store, "seed@1", "seed@2", _routable(1000), tenant=TENANT)
    diff = diff_stored_rule_sets(store, "seed@1", "seed@2", _routable(1000), tenant=TENANT)[2]
    assert report.checked == 1000 and report.already_moved == 500
    assert diff.changed_count > report.conflicts > 0  # unrouted half changes, but no conflict
    assert report.by_transition == {"legacy_batch -> data_quality_queue": report.conflicts}
    assert {c.current_system for c in report.sample} == {"legacy_batch"}
    assert all(int(c.policy_id[1:]) < 500 for c in report.sample)
    assert [c.name for c in diff.changed] == ["legacy_only_policies"]
    assert (report.rule_set_a, report.rule_set_b) == ("seed v1", "seed v2")
