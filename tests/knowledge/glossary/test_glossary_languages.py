"""Other languages' insurance vocabulary (``knowledge/glossary/languages.yaml``): every entry is
used (reachable, rendered in words the matcher knows), English names pass unchanged."""

from __future__ import annotations

import re

import pytest

from knowledge.canonical import fields
from knowledge.glossary import (
    business_roles,
    english_name,
    fold,
    glossary,
    languages,
    lookup_code,
)

_WORD = re.compile(r"[a-z0-9]+")
_LEGACY = re.compile(r"Legacy names?:\s*(.+?)\.?\s*$", re.S)


def _known_words() -> set[str]:
    """The words the canonical matcher compares names with."""
    out: set[str] = set()
    for f in fields("policy_v1"):
        out |= set(_WORD.findall(f"{f.path} {f.description}".lower().replace("_", " ")))
    for e in glossary():
        for x in e.expansions:
            out |= set(_WORD.findall(x.lower()))
    for r in business_roles():
        for s in r.synonyms:
            out |= set(_WORD.findall(s.lower()))
    return out


ENTRIES = [
    (lang.code, term, english)
    for lang in languages()
    for term, english in {**lang.words, **lang.phrases}.items()
]


OF_THE_POLICY = {"fr": "de la police", "es": "de la póliza"}


def test_the_vocabulary_is_bulk_and_french_is_there() -> None:
    sizes = {lang.code: len(lang.words) + len(lang.phrases) for lang in languages()}
    assert set(sizes) == set(OF_THE_POLICY)
    assert sizes["fr"] >= 150 and sizes["es"] >= 100


@pytest.mark.parametrize(("code", "term", "english"), ENTRIES, ids=[t for _, t, _ in ENTRIES])
def test_each_entry_is_rendered_in_words_the_matcher_knows(
    code: str, term: str, english: str
) -> None:
    unknown = set(english.split()) - _known_words()
    assert not unknown, f"{code} {term!r} -> {english!r}: the matcher knows no {unknown}"


@pytest.mark.parametrize(("code", "term", "english"), ENTRIES, ids=[t for _, t, _ in ENTRIES])
def test_each_entry_is_reached(code: str, term: str, english: str) -> None:
    """The entry translates, in a name of the language, and no longer phrase, glossary
    abbreviation or other language shadows it (``<term> de la police`` reads
    ``policy <english>``)."""
    read = english_name(f"{term.capitalize()} {OF_THE_POLICY[code]}").split("_")
    assert read[0] == "policy"
    assert read[1:] == english.split(), f"{term!r} read as {read}"


def test_english_legacy_names_pass_unchanged() -> None:
    """Every legacy name of the canonical catalogue (``POL_EFF_DT``, ``StreetAddress``) is
    English: none is taken for another language."""
    names = set()
    for f in fields("policy_v1"):
        found = _LEGACY.search(f.description)
        names |= {x.strip() for x in found.group(1).split(",")} if found else set()
    names |= {"policy_number", "PolicyNumber", "insured name", "Date of Birth", "Pay Date"}
    names |= {"coverages[].limit", "transactions[].status", "Agent Code", "Mode", "Province"}
    assert len(names) > 200
    changed = {n: english_name(n) for n in names if english_name(n) != n}
    assert changed == {}


@pytest.mark.parametrize(
    ("name", "english"),
    [
        ("Numéro de police", "policy_number"),
        ("NUMERO_POLICE", "number_policy"),
        ("Date d'effet", "effective_date"),
        ("Date de fin de garantie", "coverage_end_date"),
        ("Nom de l'assuré", "insured_name"),
        ("N° de sinistre", "claim_number"),
        ("Code postal de l'assuré", "insured_postal_code"),
        ("Garanties[].Montant de franchise", "coverage[].deductible_amount"),
        ("sinistre.dateSurvenance", "claim.date_loss"),
        ("Número de póliza", "policy_number"),
        ("Nombre del asegurado", "insured_name"),
        ("Coberturas[].Suma asegurada", "coverage[].sum_insured"),
    ],
)
def test_names_read_in_english(name: str, english: str) -> None:
    assert english_name(name) == english


def test_accents_fold() -> None:
    assert fold("Échéance déjà payée") == "Echeance deja payee"
    assert english_name("Référence") == "reference"


@pytest.mark.parametrize(
    ("table", "value", "canonical"),
    [
        ("policy_status", "Résilié", "cancelled"),
        ("policy_status", "EN VIGUEUR", "active"),
        ("policy_status", "échue", "expired"),
        ("payment_mode", "Semestrielle", "semi_annual"),
        ("coverage_type", "Dégâts des eaux", "property"),
        ("line_of_business", "Multirisque habitation", "property"),
    ],
)
def test_coded_values_in_french_with_or_without_accents(
    table: str, value: str, canonical: str
) -> None:
    assert lookup_code(table, value) == canonical
    assert lookup_code(table, fold(value)) == canonical
