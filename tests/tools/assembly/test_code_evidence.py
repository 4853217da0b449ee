"""Numeric frequency modes, which no code table decides: the crosswalk proposal leaves them to a
person with what the data says (days between a record's two dates), the reading follows the
data (payments a year or months between payments), an unknown code gets no suggestion, and
once a person confirms the suggestions through the audited edit the records arrive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from assembly_estates import IngestedEstate
from sqlalchemy import select

from core.settings import Settings
from core.store import open_store
from core.store.models import AuditEntry
from evals.demo_assembly import REVIEWER, review_crosswalks
from evals.estate import pools
from tests.tools.canonical.helpers import stage_source
from tools.assembly.code_evidence import frequency_suggestions
from tools.assembly.review import suggested_edits
from tools.assembly.run import run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly
from tools.canonical.repository import approve_mapping
from tools.content.sources import SourceRegistry

FREQUENCY = ["annual", "semi_annual", "quarterly", "monthly", "single", "other"]


def _billing(estate: IngestedEstate):  # type: ignore[no-untyped-def]
    spec = propose_assembly(
        estate.engine, estate.settings, estate.ids["agency_policies"], None, tenant="default"
    )
    freq = next(x for x in spec.crosswalks if (x.source_name, x.column) == ("billing", "Freq"))
    return spec, freq


def test_the_proposal_leaves_numeric_modes_to_a_person_with_the_datas_evidence(
    estate7: IngestedEstate,
) -> None:
    _, freq = _billing(estate7)
    truth = pools.code_table("billing.frequency")  # the estate writes payments a year
    by_value = {v.value: v for v in freq.values}
    assert set(truth) <= set(by_value)
    for code, canonical in truth.items():
        value = by_value[code]
        assert value.canonical is None and value.confidence == 0.0  # never applied on its own
        assert value.suggested == canonical
        assert "needs a person" in value.evidence
        assert "LastPaymentDate and NextDueDate" in value.evidence
    unknown = [v for v in freq.values if v.value not in truth]  # the injected code '7'
    assert unknown and all(v.suggested is None and v.canonical is None for v in unknown)
    assert freq.unmapped_rows == sum(v.count for v in freq.values)


def _source(tmp_path: Path, gap_days: dict[int, int], n: int = 40) -> tuple[Settings, str]:
    """A billing-like source: a numeric mode and two DD.MM.YYYY dates ``gap_days`` apart."""
    settings = Settings(home=tmp_path / "ws", embedding_provider="none")
    engine = open_store(settings)
    codes = np.repeat(list(gap_days), n)
    start = np.datetime64("2021-01-01") + np.arange(len(codes)) % 300
    end = start + np.array([gap_days[c] for c in codes])

    def dotted(days: np.ndarray) -> list[str]:
        return [f"{str(d)[8:10]}.{str(d)[5:7]}.{str(d)[0:4]}" for d in days]

    table = pa.table(
        {
            "MODE": pa.array(codes.tolist(), pa.int64()),
            "PAID_ON": dotted(start),
            "DUE_ON": dotted(end),
        }
    )
    return settings, stage_source(engine, settings, table, name="premiums")


@pytest.mark.parametrize(
    ("gaps", "expected"),
    [
        # months between payments: 12 is annual, 1 monthly (the other system's reading)
        ({12: 365, 6: 182, 1: 30}, {"12": "annual", "6": "semi_annual", "1": "monthly"}),
        ({1: 365, 4: 91, 12: 30}, {"1": "annual", "4": "quarterly", "12": "monthly"}),
        # the same interval for every code (a policy term): neither reading explains two values
        ({1: 365, 12: 365}, {}),
    ],
)
def test_the_reading_follows_the_data(
    tmp_path: Path, gaps: dict[int, int], expected: dict[str, str]
) -> None:
    settings, source_id = _source(tmp_path, gaps)
    info = SourceRegistry(open_store(settings), tenant="default").get(source_id)
    found = frequency_suggestions(info, "MODE", [str(c) for c in gaps], FREQUENCY)
    assert {v: s.canonical for v, s in found.items()} == expected
    assert not frequency_suggestions(info, "MODE", [str(c) for c in gaps], ["active", "expired"])


def test_a_person_confirming_the_suggestions_lets_billing_records_arrive(
    estate7: IngestedEstate,
) -> None:
    spec, freq = _billing(estate7)
    approve_mapping(estate7.engine, spec.root_mapping_id, tenant="default")
    edits = suggested_edits(spec)
    assert {(e.column, e.value, e.canonical) for e in edits if e.source == "billing"} == {
        ("Freq", v.value, v.suggested) for v in freq.values if v.suggested
    }
    reviewed, rows = review_crosswalks(estate7.engine, spec, "default")
    assert reviewed.version == spec.version + 1
    assert {r["value"] for r in rows if r["column"] == "Freq"} == set(
        pools.code_table("billing.frequency")
    )
    assert all(r["reviewer"] == REVIEWER for r in rows)
    with estate7.engine.connect() as conn:
        payload = conn.execute(
            select(AuditEntry.payload)  # type: ignore[call-overload]
            .where(AuditEntry.operation == "edit_assembly", AuditEntry.target == spec.assembly_id)
            .order_by(AuditEntry.id.desc())  # type: ignore[union-attr]
        ).scalar()
    assert {e["value"] for e in payload["crosswalk_edits"]} >= {r["value"] for r in rows}
    approve_assembly(estate7.engine, spec.assembly_id, tenant="default")
    result = run_assembly(estate7.engine, estate7.settings, spec.assembly_id, tenant="default")
    billing = next(c for c in result.components if c.source == "billing")
    assert billing.records_arrived > 0
    # only the unknown code (and the injected bad dates) are left out now
    assert not any(
        r.source == "billing" and r.path == "payments.billing_frequency" and "'12'" in r.message
        for r in result.partial_reasons
    )
    left = [r for r in result.partial_reasons if r.path == "payments.billing_frequency"]
    assert all(r.message.startswith("7 ") for r in left)
