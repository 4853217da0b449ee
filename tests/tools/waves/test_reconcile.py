"""Reconciliation: counts, exact control totals per group, per-policy hashes narrowed to fields."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from core.errors import InputError
from knowledge.canonical import records_to_arrow
from tools.waves.reconcile import reconcile
from tools.waves.targets import make_target
from tools.waves.targets.base import POLICY_ID

PREMIUM = "rating_components.premium_amount"


def policy(n: int, premium: str = "100.00", state: str = "NY") -> dict[str, Any]:
    return {
        "policy_core": {
            "policy_id": f"P{n:04d}",
            "status": "active",
            "effective_date": "2024-01-01",
            "policy_type": ("auto", "life")[n % 2],
            "insured_party": {"name": f"Name {n}", "address": {"state": state}},
        },
        "coverage_sections": [
            {
                "coverage_id": f"C{n}a",
                "coverage_type": "auto",
                "limits": {"per_occurrence": "1000.00"},
            },
            {
                "coverage_id": f"C{n}b",
                "coverage_type": "auto",
                "limits": {"per_occurrence": "2000.00"},
            },
        ],
        "rating_components": {"premium_amount": premium},
        "payments": {"outstanding_balance": "10.05"},
    }


@pytest.fixture
def source() -> pa.Table:
    return records_to_arrow([policy(n, state=("NY", "CA")[n % 3 == 0]) for n in range(40)])


def _set(table: pa.Table, column: str, row: int, value: Any) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pa.array(values, table.schema.field(column).type))


def test_identical_sides_pass(source: pa.Table) -> None:
    report = reconcile(source.to_batches(max_chunksize=7), source.to_batches(max_chunksize=11))
    assert report.passed
    assert report.source_count == report.target_count == report.matched == 40
    assert report.totals[PREMIUM].source == Decimal("4000.00")
    assert report.totals["coverage_sections[].limits.per_occurrence"].target == Decimal("120000.00")
    assert report.groups_compared == 4  # auto/life x NY/CA


def test_an_altered_premium_names_the_policy_the_field_and_the_group(source: pa.Table) -> None:
    target = _set(source, PREMIUM, 5, Decimal("100.01"))
    report = reconcile(source.to_batches(), target.to_batches())
    assert not report.passed
    assert report.different == 1
    assert [(m.policy_id, m.fields) for m in report.different_sample] == [("P0005", [PREMIUM])]
    [group] = report.mismatched_groups
    assert group.group == {
        "policy_core.policy_type": "life",
        "policy_core.insured_party.address.state": "NY",
    }
    assert group.totals[PREMIUM].target - group.totals[PREMIUM].source == Decimal("0.01")
    assert not report.totals[PREMIUM].matches


def test_missing_and_unexpected_policies_are_named_exactly(source: pa.Table) -> None:
    target = source.filter(pa.array([n not in (3, 17) for n in range(40)]))
    target = pa.concat_tables([target, records_to_arrow([policy(99)])])
    report = reconcile(source.to_batches(), target.to_batches())
    assert not report.passed
    assert report.missing_sample == ["P0003", "P0017"]
    assert report.unexpected_sample == ["P0099"]
    assert report.different == 0 and report.matched == 38


def test_a_changed_coverage_limit_is_found_in_hash_and_totals(source: pa.Table) -> None:
    records = [policy(n, state=("NY", "CA")[n % 3 == 0]) for n in range(40)]
    records[8]["coverage_sections"][1]["limits"]["per_occurrence"] = "2500.00"
    report = reconcile(source.to_batches(), records_to_arrow(records).to_batches())
    assert [(m.policy_id, m.fields) for m in report.different_sample] == [
        ("P0008", ["coverage_sections"])
    ]
    assert not report.totals["coverage_sections[].limits.per_occurrence"].matches


def test_duplicates_fail_even_when_totals_would_not_show_them(source: pa.Table) -> None:
    doubled = pa.concat_tables([source, source.slice(0, 1)])
    report = reconcile(source.to_batches(), doubled.to_batches())
    assert not report.passed and report.duplicates_in_target == 1


def test_normalisation_ignores_padding_item_order_and_null_vs_empty(source: pa.Table) -> None:
    records = [policy(n, state=("NY", "CA")[n % 3 == 0]) for n in range(40)]
    for record in records:
        record["coverage_sections"].reverse()
        record["policy_core"]["insured_party"]["name"] += "   "
    target = records_to_arrow(records)
    target = target.set_column(
        target.schema.get_field_index("endorsements"),
        "endorsements",
        pa.nulls(40, target.schema.field("endorsements").type),
    )
    # a target returning amounts as text at another scale still reconciles
    premium = target.column(PREMIUM).cast(pa.decimal128(30, 6)).cast(pa.string())
    target = target.set_column(target.schema.get_field_index(PREMIUM), PREMIUM, premium)
    assert reconcile(source.to_batches(), target.to_batches()).passed


def test_bad_group_or_total_paths_are_refused(source: pa.Table) -> None:
    with pytest.raises(InputError, match="group_by"):
        reconcile([], [], group_by=("coverage_sections",))
    with pytest.raises(InputError, match="totals"):
        reconcile([], [], totals=("policy_core.status",))
    with pytest.raises(InputError, match=POLICY_ID):
        reconcile([pa.table({"x": [1]})], [])


def test_reconcile_against_new_platform_read_back(tmp_path: Path, source: pa.Table) -> None:
    platform = make_target("new_platform", {"url": f"sqlite:///{tmp_path}/p.sqlite"})
    for batch in source.to_batches(max_chunksize=16):
        platform.write("w1", pa.Table.from_batches([batch]))
    assert reconcile(source.to_batches(), platform.read_back("w1", batch_rows=9)).passed
    # someone edits one premium on the platform: reconciliation must fail and say where
    altered = _set(source.slice(10, 1), PREMIUM, 0, Decimal("1.00"))
    platform.write("w1", altered)
    report = reconcile(source.to_batches(), platform.read_back("w1"))
    assert not report.passed
    assert [(m.policy_id, m.fields) for m in report.different_sample] == [("P0010", [PREMIUM])]
    assert len(report.mismatched_groups) == 1
    platform.close()


def _whole(n: int) -> dict[str, Any]:
    """A whole policy: coverages, payments, endorsements, letters and claim links."""
    record = policy(n, state=("NY", "CA")[n % 3 == 0])
    record["payments"]["payment_history"] = [
        {"payment_id": f"PAY{n}-{k}", "payment_date": "2024-02-01", "amount": f"{50 + k}.10"}
        for k in range(n % 4)
    ]
    record["endorsements"] = [{"endorsement_id": f"E{n}", "premium_change": "12.00"}]
    record["correspondence"] = {
        "documents": [{"document_id": f"D{n}", "title": "Schedule"}],
        "notices": [{"notice_id": f"N{n}", "notice_type": "renewal"}] if n % 2 else [],
    }
    record["claims_links"] = [{"claim_id": f"CL{n}", "status": "open"}] if n % 5 == 0 else []
    return record


def test_components_are_counted_totalled_and_hashed_per_policy() -> None:
    whole = records_to_arrow([_whole(n) for n in range(30)])
    report = reconcile(whole.to_batches(max_chunksize=7), whole.to_batches(max_chunksize=13))
    assert report.passed
    by_name = {c.component: c for c in report.components}
    assert by_name["payments.payment_history"].source_children == sum(n % 4 for n in range(30))
    assert by_name["coverage_sections"].target_children == 60
    assert by_name["claims_links"].target_children == 6
    totals = by_name["payments.payment_history"].totals
    expected = sum(Decimal(f"{50 + k}.10") for n in range(30) for k in range(n % 4))
    assert totals["payments.payment_history[].amount"].target == expected
    assert report.totals["payments.payment_history[].amount"].matches


def test_a_changed_child_field_is_narrowed_to_policy_component_and_field() -> None:
    records = [_whole(n) for n in range(30)]
    source = records_to_arrow(records)
    records[7]["payments"]["payment_history"][1]["amount"] = "51.11"
    records[11]["correspondence"]["notices"][0]["notice_type"] = "lapse"
    report = reconcile(source.to_batches(), records_to_arrow(records).to_batches())
    assert not report.passed
    assert [(d.policy_id, d.component, d.fields) for d in report.component_sample] == [
        ("P0007", "payments.payment_history", ["payments.payment_history[].amount"]),
        ("P0011", "correspondence.notices", ["correspondence.notices[].notice_type"]),
    ]
    by_name = {c.component: c for c in report.components}
    assert by_name["payments.payment_history"].different == 1
    assert not by_name["payments.payment_history"].matches
    assert by_name["coverage_sections"].matches
    assert report.different_sample[0].components[0].component == "payments.payment_history"


def test_a_missing_child_shows_in_counts_per_policy() -> None:
    records = [_whole(n) for n in range(30)]
    source = records_to_arrow(records)
    del records[3]["payments"]["payment_history"][0]
    report = reconcile(source.to_batches(), records_to_arrow(records).to_batches())
    by_name = {c.component: c for c in report.components}
    payments = by_name["payments.payment_history"]
    assert payments.source_children - payments.target_children == 1
    assert payments.count_mismatches == 1
    [diff] = report.component_sample
    assert (diff.policy_id, diff.source_items, diff.target_items) == ("P0003", 3, 2)
    assert diff.fields == ["payments.payment_history[]"]
    assert not report.passed


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_corrupted_child_row_on_the_platform_is_narrowed(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    from sqlalchemy import create_engine, text

    url = (
        f"sqlite:///{tmp_path}/platform.sqlite"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    source = records_to_arrow([_whole(n) for n in range(30)])
    platform = make_target("new_platform", {"url": url})
    try:
        platform.write("w1", source)
        assert reconcile(source.to_batches(), platform.read_back("w1", batch_rows=8)).passed
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE payment SET amount = 99.99 WHERE policy_id = 'P0006' AND item_no = 1")
            )
            conn.execute(text("DELETE FROM document WHERE policy_id = 'P0009'"))
        engine.dispose()
        report = reconcile(source.to_batches(), platform.read_back("w1", batch_rows=8))
    finally:
        platform.close()
    assert not report.passed
    assert [(d.policy_id, d.component, d.fields) for d in report.component_sample] == [
        ("P0006", "payments.payment_history", ["payments.payment_history[].amount"]),
        ("P0009", "correspondence.documents", ["correspondence.documents[]"]),
    ]
    documents = {c.component: c for c in report.components}["correspondence.documents"]
    assert (documents.source_children, documents.target_children) == (30, 29)


@pytest.mark.parametrize("bucket_rows", [1, 4, 9])
def test_bucketed_comparison_gives_the_report_of_one_comparison(
    bucket_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regrouping the spilled keys into buckets changes nothing a report says."""
    import tools.waves.reconcile as module

    records = [_whole(n) for n in range(30)]
    source = records_to_arrow([*records, records[4]])  # P0004 twice in the source
    records[7]["payments"]["payment_history"][1]["amount"] = "51.11"
    del records[3]["payments"]["payment_history"][0]
    records[12]["policy_core"]["status"] = "cancelled"
    target_records = [r for n, r in enumerate(records) if n not in (5, 21)]
    target_records += [_whole(40), records[9]]  # unexpected P0040; P0009 twice in the target
    target = records_to_arrow(target_records)

    def run(sample_size: int = 20, detail_size: int = 5) -> dict[str, Any]:
        return reconcile(
            source.to_batches(max_chunksize=6),
            target.to_batches(max_chunksize=7),
            sample_size=sample_size,
            detail_size=detail_size,
        ).model_dump(mode="json")

    whole = run()
    whole_small = run(sample_size=1, detail_size=1)
    monkeypatch.setattr(module, "BUCKET_ROWS", bucket_rows)
    assert run() == whole
    assert run(sample_size=1, detail_size=1) == whole_small
    assert whole["missing_sample"] == ["P0004", "P0005", "P0021"]
    assert whole["unexpected_sample"] == ["P0040"]
    assert (whole["duplicates_in_source"], whole["duplicates_in_target"]) == (1, 1)
    assert [d["policy_id"] for d in whole["different_sample"]] == ["P0003", "P0007", "P0012"]
    assert whole_small["component_sample"][0]["policy_id"] == "P0003"
