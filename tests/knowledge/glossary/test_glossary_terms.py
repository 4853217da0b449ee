from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from knowledge.glossary import (
    expand_name,
    expand_tokens,
    glossary,
    lookup_abbreviation,
    tokenize,
)

OED_SPEC = Path("/work/shared/corpus/insurance/oed_open_exposure_data/spec")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("POL_EFF_DTE", [["policy"], ["effective"], ["date"]]),
        ("policyEffDate", [["policy"], ["effective"], ["date"]]),
        ("INSD-NM", [["insured"], ["name"]]),
        ("POL#", [["policy"], ["number"]]),
        ("POLNO", [["policy"], ["number"]]),
        ("PLCY_NBR", [["policy"], ["number"]]),
        ("PolInceptionDate", [["policy"], ["inception"], ["date"]]),
        ("INSD_ADDR_LN_1", [["insured"], ["address"], ["line", "loan"], ["1"]]),
        ("CUST-BDT", [["customer"], ["birth date"]]),
        ("TOT_PREM_AMT", [["total"], ["premium"], ["amount"]]),
        ("PMT_FREQ_CD", [["payment"], ["frequency"], ["code"]]),
        ("OUTST_BAL", [["outstanding"], ["balance"]]),
        ("ENDT-EFF-DT", [["endorsement"], ["effective"], ["date"]]),
        ("CLM_RSRV_AMT", [["claim"], ["reserve"], ["amount"]]),
        ("LOBCD", [["line of business"], ["code"]]),
        ("EFFDT", [["effective"], ["date"]]),
    ],
)
def test_real_looking_names_expand(name: str, expected: list[list[str]]) -> None:
    assert expand_tokens(name) == expected


def test_tokenizer_keeps_words_and_refuses_risky_splits() -> None:
    assert tokenize("AgentCode") == ["Agent", "Code"]
    assert tokenize("ADDR1") == ["ADDR", "1"]
    assert tokenize("COST") == ["COST"]  # would otherwise split into CO + ST
    assert tokenize("PAIDAMT") == ["PAID", "AMT"]  # not PA + ID + AMT
    assert tokenize("ZIPCODE") == ["ZIP", "CODE"]
    assert tokenize("POLMAST") == ["POLMAST"]  # no full split: left alone
    assert expand_tokens("weird") == [["weird"]]
    assert expand_name("POL_EXP_DT") == "policy expiration date"


@pytest.mark.parametrize(
    ("name", "token", "first"),
    [
        ("PROD_NM", 0, "producer"),
        ("PRODUCER_NAME", 0, "producer"),
        ("PROD_TYPE_CD", 0, "product"),
        ("PROD_LINE", 0, "product"),
        ("AGT_PROD_CD", 1, "producer"),
        ("PROD_CD", 0, "producer"),
        ("ADDR_ST", 1, "state"),
        ("ST_LN_1", 0, "street"),
        ("EXP_MOD", 0, "experience"),
        ("POL_EXP_DT", 1, "expiration"),
        ("PROP_BI_LMT", 1, "business interruption"),
        ("AUTO_BI_LMT", 1, "bodily injury"),
        ("PD_DT", 0, "paid"),
        ("PD_LMT", 0, "property damage"),
        ("ANN_PREM", 0, "annual"),
        ("ANN_PLAN_TYP", 0, "annuity"),
    ],
)
def test_ambiguous_tokens_are_resolved_by_context(name: str, token: int, first: str) -> None:
    options = expand_tokens(name)[token]
    assert options[0] == first
    assert len(options) >= 2 or name == "PRODUCER_NAME"


def test_prod_exposes_both_expansions_and_its_rules() -> None:
    entry = lookup_abbreviation("prod")
    assert entry is not None and entry.ambiguous
    assert set(entry.expansions) == {"producer", "product"}
    assert {rule.prefer for rule in entry.context} == {"producer", "product"}


def test_required_abbreviations_are_present() -> None:
    required = (
        "POL PLCY NBR NUM NO EFF INCP EXP EXPR INSD PREM AMT DT DTE LMT DED COV AGT AGCY PROD ST "
        "CD LOB TIV CUST CLNT ADDR ZIP PSTL BDT DOB PMT FREQ BAL OUTST ENDT ENDO CLM RSRV CARR CO "
        "UW TRM CNCL STAT STS"
    ).split()
    missing = [a for a in required if lookup_abbreviation(a) is None]
    assert missing == []
    assert len(glossary()) >= 130


def test_every_entry_has_a_rationale_and_lowercase_expansions() -> None:
    for entry in glossary():
        assert len(entry.rationale.strip()) >= 5, entry.abbreviation
        assert entry.abbreviation == entry.abbreviation.upper()
        for expansion in entry.expansions:
            assert expansion == expansion.lower() and expansion.strip(), entry.abbreviation
        for rule in entry.context:
            assert rule.prefer in entry.expansions


@pytest.mark.skipif(not OED_SPEC.exists(), reason="OED corpus not available on this machine")
def test_oed_citations_match_the_oed_files() -> None:
    with (OED_SPEC / "Abbreviations.csv").open(encoding="utf-8") as fh:
        oed_abbr = {row["Abbreviation"].upper(): row["Description"] for row in csv.DictReader(fh)}
    with (OED_SPEC / "OEDInputFields.csv").open(encoding="utf-8") as fh:
        oed_fields = {row["Input Field Name"] for row in csv.DictReader(fh)}
    cited = [e for e in glossary() if e.source and e.source.startswith("OED")]
    assert len(cited) >= 15
    for entry in cited:
        match = re.match(r"OED (\S+): (\w+)", entry.source or "")
        assert match, entry.source
        file, term = match.groups()
        if file == "Abbreviations.csv":
            assert term.upper() in oed_abbr, entry.abbreviation
            assert oed_abbr[term.upper()].lower().split()[0] in " ".join(entry.expansions)
        else:
            assert file == "OEDInputFields.csv" and term in oed_fields, entry.source
