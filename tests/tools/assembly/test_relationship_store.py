"""Confirming relationships: versions, the audit trail, edits, and bad input writing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from assembly_estates import IngestedEstate, ingest_estate
from sqlalchemy import func, select

from core.errors import InputError, NotFoundError
from core.store.models import AuditEntry, RelationshipSetRow
from tools.assembly import confirm_relationships, confirmed_relationships
from tools.assembly.relationships import load_edits


def _counts(estate: IngestedEstate) -> tuple[int, int]:
    with estate.engine.connect() as conn:
        sets = conn.execute(select(func.count()).select_from(RelationshipSetRow)).scalar_one()
        entries = conn.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.namespace == "assembly")  # type: ignore[arg-type]
        ).scalar_one()
    return sets, entries


def _edits(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "relationships.yaml"
    path.write_text(yaml.safe_dump({"relationships": rows}), "utf-8")
    return path


def test_confirm_stores_versions_through_the_audit_log(estate7: IngestedEstate) -> None:
    before = _counts(estate7)
    ids = list(estate7.ids.values())
    first = confirm_relationships(
        estate7.engine, estate7.settings, ids, tenant="default", min_confidence=0.9
    )
    assert first.status == "confirmed" and first.relationships
    assert all(r.confidence >= 0.9 for r in first.relationships)
    second = confirm_relationships(estate7.engine, estate7.settings, ids, tenant="default")
    assert second.version == first.version + 1  # type: ignore[operator]
    assert len(second.relationships) >= len(first.relationships)
    assert _counts(estate7) == (before[0] + 2, before[1] + 2)
    latest = confirmed_relationships(estate7.engine, tenant="default")
    assert latest.version == second.version
    assert latest.relationships == second.relationships  # stored exactly as confirmed
    again = confirmed_relationships(estate7.engine, tenant="default", version=first.version)
    assert again.relationships == first.relationships  # earlier versions never change
    with pytest.raises(NotFoundError):
        confirmed_relationships(estate7.engine, tenant="other")


def test_an_edited_set_is_measured_on_the_data(estate7: IngestedEstate, tmp_path: Path) -> None:
    rows = [
        {
            "parent": "policy_master",
            "parent_key": "POL_NBR",
            "child": "billing",
            "child_key": "PolicyNo",
        }
    ]
    edits = load_edits(_edits(tmp_path, rows))
    result = confirm_relationships(
        estate7.engine, estate7.settings, list(estate7.ids.values()), tenant="default", edits=edits
    )
    (rel,) = result.relationships
    assert (rel.parent_name, rel.child_name) == ("policy_master", "billing")
    assert rel.key_transform is not None and rel.key_transform.kind == "number"
    assert 0.2 < rel.match_rate < 0.6


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [
                {
                    "parent": "agency_summary",
                    "parent_key": "State",
                    "child": "billing",
                    "child_key": "PolicyNo",
                }
            ],
            "matches no key of agency_summary.State",
        ),
        (
            [
                {
                    "parent": "policy_master",
                    "parent_key": "POL_NBR",
                    "child": "endorsements",
                    "child_key": "POL_NBR",
                },
                {
                    "parent": "endorsements",
                    "parent_key": "POL_NBR",
                    "child": "policy_master",
                    "child_key": "POL_NBR",
                },
            ],
            "cycle: ",
        ),
        (
            [{"parent": "nowhere", "parent_key": "x", "child": "billing", "child_key": "PolicyNo"}],
            "'nowhere' is not one of the sources",
        ),
        (
            [
                {
                    "parent": "policy_master",
                    "parent_key": "NO_SUCH",
                    "child": "billing",
                    "child_key": "PolicyNo",
                }
            ],
            "policy_master has no column 'NO_SUCH'",
        ),
        (
            [
                {
                    "parent": "policy_master",
                    "parent_key": "POL_NBR",
                    "child": "billing",
                    "child_key": "PolicyNo",
                    "key_transform": "identity",
                }
            ],
            r"billing.PolicyNo matches no key of policy_master.POL_NBR \(as written\)",
        ),
        (
            [
                {
                    "parent": "acquired_policy",
                    "parent_key": "policy_number",
                    "child": "billing",
                    "child_key": "PolicyNo",
                    "key_transform": "crosswalk",
                    "crosswalk": {
                        "source": "acquired_crosswalk",
                        "from_key": "LEGACY_POLICY_NO",
                        "to_key": "GROUP_POLICY_NO",
                    },
                }
            ],
            "acquired_crosswalk.GROUP_POLICY_NO holds no key of acquired_policy.policy_number",
        ),
    ],
    ids=[
        "key-matches-nothing",
        "cycle",
        "unknown-source",
        "unknown-column",
        "identity-stated-matches-nothing",
        "crosswalk-columns-swapped",
    ],
)
def test_bad_relationships_write_nothing(
    estate7: IngestedEstate, tmp_path: Path, rows: list[dict[str, str]], message: str
) -> None:
    before = _counts(estate7)
    edits = load_edits(_edits(tmp_path, rows))
    with pytest.raises(InputError, match=message):
        confirm_relationships(
            estate7.engine,
            estate7.settings,
            list(estate7.ids.values()),
            tenant="default",
            edits=edits,
        )
    assert _counts(estate7) == before


def test_malformed_edit_file_names_the_item(tmp_path: Path) -> None:
    path = _edits(tmp_path, [{"parent": "a", "child": "b", "child_key": "k"}])
    with pytest.raises(InputError) as err:
        load_edits(path)
    assert "relationship 1: parent_key" in err.value.message
    assert "relationships[0]" in str(err.value.where)


def test_an_edit_names_its_key_transform(estate7: IngestedEstate, tmp_path: Path) -> None:
    """The transform a person states is the one measured and stored (here: the keys of the
    acquired book's billing records, through the crosswalk)."""
    rows = [
        {
            "parent": "acquired_policy",
            "parent_key": "policy_number",
            "child": "billing",
            "child_key": "PolicyNo",
            "key_transform": "crosswalk",
            "crosswalk": {
                "source": "acquired_crosswalk",
                "from_key": "GROUP_POLICY_NO",
                "to_key": "LEGACY_POLICY_NO",
            },
        }
    ]
    result = confirm_relationships(
        estate7.engine,
        estate7.settings,
        list(estate7.ids.values()),
        tenant="default",
        edits=load_edits(_edits(tmp_path, rows)),
    )
    (rel,) = result.relationships
    assert rel.key_transform is not None and rel.key_transform.crosswalk is not None
    assert rel.key_transform.kind == "crosswalk"
    assert rel.key_transform.crosswalk.source_name == "acquired_crosswalk"
    assert 0.1 < rel.match_rate < 0.6


def test_a_crosswalk_edit_needs_its_source(tmp_path: Path) -> None:
    row = {"parent": "a", "parent_key": "k", "child": "b", "child_key": "k"}
    with pytest.raises(InputError) as err:
        load_edits(_edits(tmp_path, [{**row, "key_transform": "crosswalk"}]))
    assert "crosswalk is given exactly when key_transform is 'crosswalk'" in err.value.message
    assert "relationships[0]" in str(err.value.where)


def test_one_source_is_a_user_error(estate7: IngestedEstate) -> None:
    with pytest.raises(InputError, match="at least two"):
        confirm_relationships(
            estate7.engine, estate7.settings, [estate7.ids["billing"]], tenant="default"
        )


def test_confirm_on_postgresql(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_MASH_DB_URL", pg_url)
    estate = ingest_estate(tmp_path, policies=300, seed=5)
    assert estate.engine.dialect.name == "postgresql"
    rows = [
        {
            "parent": "policy_master",
            "parent_key": "POL_NBR",
            "child": "endorsements",
            "child_key": "POL_NBR",
        }
    ]
    result = confirm_relationships(
        estate.engine,
        estate.settings,
        [estate.ids["policy_master"], estate.ids["endorsements"]],
        tenant="default",
        edits=load_edits(_edits(tmp_path, rows)),
    )
    assert result.version == 1
    assert confirmed_relationships(estate.engine, tenant="default").relationships == (
        result.relationships
    )
