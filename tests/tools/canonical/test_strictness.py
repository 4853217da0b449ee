"""The bulk checks reject exactly the records and fields per-record pydantic validation rejects."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from evals.estate.generator import generate_estate
from tools.canonical.build import build_candidates, compile_plan
from tools.canonical.fastcheck import check_candidates, re2_pattern
from tools.canonical.reference import reference_errors
from tools.canonical.spec import FieldRule
from tools.content.readers.registry import reader_for


def assert_same_verdict(candidates: pa.Table, version: str = "policy_v1") -> tuple[int, int]:
    fast = check_candidates(candidates, version)
    reference = reference_errors(candidates, version)
    fast_fields = set(
        zip(
            fast.errors.column("row").to_pylist(),
            fast.errors.column("path").to_pylist(),
            strict=True,
        )
    )
    reference_fields = {(row, e.path) for row, errors in enumerate(reference) for e in errors}
    assert fast_fields == reference_fields
    assert fast.valid.tolist() == [not errors for errors in reference]
    return int(fast.valid.sum()), int((~fast.valid).sum())


def _pick(rng: random.Random, *options: object) -> object:
    # Mostly the first (good) option, so valid and invalid records are both common.
    return options[0] if rng.random() < 0.95 else rng.choice(options)


def _messy_table(rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    ws = "\u00a0"

    def date(valid: bool = True) -> str | None:
        if not valid:
            return rng.choice(["13/01/2020", "02/30/2021", "2020-01-01", "", "xx", None])
        return f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1990, 2030)}"

    def amount() -> str | None:
        good = f"{rng.randint(0, 10**6)}.{rng.randint(0, 99):02d}"
        return _pick(
            rng,
            good,
            "-5",
            "1.234",
            "12",
            "abc",
            "99999999999999999",
            "0.001",
            "1 234,5",
            "0",
            "7.1",
            None,
        )  # type: ignore[return-value]

    def item() -> dict[str, object]:
        return {
            "T": _pick(rng, "AUTO", "HO", "LIFE", "XX", None, "cgl"),
            "L": amount(),
            "A": amount(),
            "D": amount(),
            "EFF": date(rng.random() > 0.2),
            "EXP": date(rng.random() > 0.2),
            "ID": _pick(rng, "C1", None, "x" * 70, " "),
        }

    data: dict[str, list[object]] = {
        k: []
        for k in (
            "POL",
            "ST",
            "EFF",
            "EXP",
            "PREM",
            "FREQ",
            "MAIL",
            "STATE",
            "CTRY",
            "NAME",
            "ZIP",
            "AGT",
            "BAL",
            "COV",
            "PAY",
            "FACT",
        )
    }
    for _ in range(rows):
        data["POL"].append(_pick(rng, "P1", "P2", None, "", "   ", "x" * 70, f"{ws}P3 "))
        data["ST"].append(_pick(rng, "A", "C", "IF", "ZZ", None, "active", " E "))
        data["EFF"].append(date(rng.random() > 0.15))
        data["EXP"].append(date(rng.random() > 0.15) if rng.random() > 0.2 else None)
        data["PREM"].append(amount())
        data["FREQ"].append(_pick(rng, "M", "Q", "X", None, "12"))
        data["MAIL"].append(
            _pick(
                rng,
                "a@b.co",
                "bad",
                "a b@c.d",
                f"a{ws}b@c.d",
                "a\u200bb@c.d",
                None,
                "y" * 250 + "@b.co",
            )
        )
        data["STATE"].append(_pick(rng, "CA", "ca", "California", "XXXX", None, "N1"))
        data["CTRY"].append(_pick(rng, "US", "USA", "u", None))
        data["NAME"].append(_pick(rng, "Ann Lee", "z" * 250, None, "Lee, Ann"))
        data["ZIP"].append(_pick(rng, "02134", None, "9" * 25))
        data["AGT"].append(_pick(rng, "A1", None))
        data["BAL"].append(_pick(rng, "-12.50", "3.333", None))
        covers = [item() for _ in range(rng.randint(0, 3))]
        data["COV"].append(covers if rng.random() > 0.1 else None)
        data["PAY"].append(
            [{"DT": date(rng.random() > 0.3), "AMT": amount()} for _ in range(rng.randint(0, 2))]
        )
        data["FACT"].append(
            [{"N": _pick(rng, "territory", None), "F": _pick(rng, "1.125", "0.1234567", None)}]
        )
    return pa.table(data)


MESSY_RULES = [
    FieldRule(source="POL", target="policy_core.policy_id"),
    FieldRule(
        source="ST",
        target="policy_core.status",
        transform={"kind": "code", "table": "policy_status"},
    ),
    FieldRule(
        source="EFF",
        target="policy_core.effective_date",
        transform={"kind": "date", "format": "MM/DD/YYYY"},
    ),
    FieldRule(
        source="EXP",
        target="policy_core.expiration_date",
        transform={"kind": "date", "format": "MM/DD/YYYY"},
    ),
    FieldRule(source="PREM", target="rating_components.premium_amount"),
    FieldRule(
        source="FREQ",
        target="rating_components.premium_frequency",
        transform={"kind": "code", "table": "payment_mode"},
    ),
    FieldRule(source="MAIL", target="policy_core.insured_party.email"),
    FieldRule(
        source="STATE",
        target="policy_core.insured_party.address.state",
        transform={"kind": "code", "table": "us_state"},
    ),
    FieldRule(source="CTRY", target="policy_core.insured_party.address.country"),
    FieldRule(source="NAME", target="policy_core.insured_party.name"),
    FieldRule(
        source="NAME",
        target="policy_core.insured_party.last_name",
        transform={"kind": "name_split", "part": "last"},
    ),
    FieldRule(source="ZIP", target="policy_core.insured_party.address.postal_code"),
    FieldRule(source="AGT", target="policy_core.agent_info.agent_id"),
    FieldRule(
        source="BAL",
        target="payments.outstanding_balance",
        transform={"kind": "money", "decimal_comma": False},
    ),
    FieldRule(
        source="COV[].T",
        target="coverage_sections[].coverage_type",
        transform={"kind": "code", "table": "line_of_business"},
    ),
    FieldRule(source="COV[].ID", target="coverage_sections[].coverage_id"),
    FieldRule(source="COV[].L", target="coverage_sections[].limits.per_occurrence"),
    FieldRule(source="COV[].A", target="coverage_sections[].limits.aggregate"),
    FieldRule(source="COV[].D", target="coverage_sections[].deductibles.amount"),
    FieldRule(
        source="COV[].EFF",
        target="coverage_sections[].effective_date",
        transform={"kind": "date", "format": "MM/DD/YYYY"},
    ),
    FieldRule(
        source="COV[].EXP",
        target="coverage_sections[].expiration_date",
        transform={"kind": "date", "format": "MM/DD/YYYY"},
    ),
    FieldRule(
        source="PAY[].DT",
        target="payments.payment_history[].payment_date",
        transform={"kind": "date", "format": "MM/DD/YYYY"},
    ),
    FieldRule(source="PAY[].AMT", target="payments.payment_history[].amount"),
    FieldRule(source="FACT[].N", target="rating_components.rating_factors[].name"),
    FieldRule(source="FACT[].F", target="rating_components.rating_factors[].factor"),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_problems_same_records_and_fields(seed: int) -> None:
    table = _messy_table(1500, seed)
    plan = compile_plan(MESSY_RULES, "policy_v1", table.schema)
    valid, invalid = assert_same_verdict(build_candidates(table.to_batches()[0], plan))
    assert valid > 20 and invalid > 500  # both outcomes well represented


def test_policy_v2_same_verdict() -> None:
    table = _messy_table(400, 9)
    rules = [r for r in MESSY_RULES if r.target != "rating_components.premium_amount"]
    rules.append(FieldRule(source="PREM", target="rating_components.written_premium"))
    plan = compile_plan(rules, "policy_v2", table.schema)
    assert_same_verdict(build_candidates(table.to_batches()[0], plan), "policy_v2")


def test_whitespace_and_digit_classes_keep_rust_meaning() -> None:
    assert re2_pattern(r"^[^@\s]+$") == r"^[^@\t-\r\x{85}\p{Z}]+$"
    assert re2_pattern(r"\d\s") == r"\p{Nd}[\t-\r\x{85}\p{Z}]"
    with pytest.raises(NotImplementedError):
        re2_pattern(r"\w+")


def _read(path: Path, fmt: str, options: dict[str, object]) -> pa.Table:
    reader = reader_for(fmt)(path, options)
    return pa.Table.from_batches([b.records for b in reader.batches(10_000)])


LIFE_RULES = [
    FieldRule(source="CONTRNO", target="policy_core.policy_id"),
    FieldRule(
        source="CONTSTAT",
        target="policy_core.status",
        transform={
            "kind": "code",
            "values": {
                "IF": "active",
                "LP": "inactive",
                "PN": "pending",
                "SU": "cancelled",
                "MA": "expired",
            },
        },
    ),
    FieldRule(
        source="ISSUEDT",
        target="policy_core.effective_date",
        transform={"kind": "date", "format": "julian"},
    ),
    FieldRule(
        source="MATURDT",
        target="policy_core.expiration_date",
        transform={"kind": "date", "format": "YYYYDDD"},
    ),
    FieldRule(
        source="INSDOB",
        target="policy_core.insured_party.date_of_birth",
        transform={"kind": "date", "format": "YYYYDDD"},
    ),
    FieldRule(source="STATE", target="policy_core.insured_party.address.state"),
    FieldRule(source="FACEAMT", target="coverage_sections[].limits.per_occurrence"),
    FieldRule(
        target="coverage_sections[].coverage_type", transform={"kind": "constant", "value": "life"}
    ),
    FieldRule(
        source="MODPREM",
        target="rating_components.premium_amount",
        transform={"kind": "money", "implied_decimals": 2},
    ),
    FieldRule(
        source="PREMMODE",
        target="rating_components.premium_frequency",
        transform={"kind": "code", "table": "payment_mode"},
    ),
]
ACQUIRED_RULES = [
    FieldRule(source="policy_number", target="policy_core.policy_id"),
    FieldRule(
        source="status",
        target="policy_core.status",
        transform={"kind": "code", "table": "policy_status"},
    ),
    FieldRule(source="effective_date", target="policy_core.effective_date"),
    FieldRule(source="expiration_date", target="policy_core.expiration_date"),
    FieldRule(source="issue_date", target="policy_core.issue_date"),
    FieldRule(
        source="premium_cents",
        target="rating_components.premium_amount",
        transform={"kind": "money", "cents": True},
    ),
    FieldRule(
        source="premium_frequency",
        target="rating_components.premium_frequency",
        transform={"kind": "code", "table": "payment_mode"},
    ),
    FieldRule(source="carrier_name", target="policy_core.carrier"),
]


def test_sample_estate_sources_same_verdict(tmp_path: Path) -> None:
    generate_estate(tmp_path, policies=600, seed=11)
    life = _read(
        tmp_path / "life" / "LIFEPOL.txt",
        "csv",
        {"delimiter": "|", "encoding": "utf-8", "header": True, "quotechar": None},
    )
    acquired = _read(tmp_path / "acquired" / "acquired.sqlite", "sqlite", {"table": "policy"})
    rejected = 0
    for table, rules in ((life, LIFE_RULES), (acquired, ACQUIRED_RULES)):
        plan = compile_plan(rules, "policy_v1", table.schema)
        _, invalid = assert_same_verdict(
            build_candidates(table.combine_chunks().to_batches()[0], plan)
        )
        rejected += invalid
    assert rejected > 0  # the estate's injected problems are found
