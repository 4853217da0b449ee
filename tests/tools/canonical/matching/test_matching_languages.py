"""French and Spanish extracts are matched through the glossary's vocabulary of their language
and their value codes (issue 20): the local MiniLM is English-only, so lexical knowledge
carries the language."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tools.canonical.matching.canonical import suggest_matches
from tools.canonical.matching.values import profile
from tools.canonical.suggest import infer_code_table

N = 80


def _dates(start: dt.date, step: int) -> pa.Array:
    return pa.array([(start + dt.timedelta(days=step * n)).strftime("%d/%m/%Y") for n in range(N)])


@pytest.fixture(scope="module")
def french_policies() -> dict[str, str | None]:
    statuses = ["En vigueur", "Résilié", "Suspendu", "En vigueur", "Échu"]
    modes = ["Mensuel", "Trimestriel", "Annuel", "Semestriel"]
    columns = {
        "N° Police": pa.array([f"AX{n:07d}" for n in range(N)]),
        "Date d'effet": _dates(dt.date(2021, 1, 13), 5),
        "Date d'échéance": _dates(dt.date(2024, 2, 17), 3),
        "Nom de l'assuré": pa.array(
            [f"Camille {s}" for s in ("Martin", "Petit", "Roux")] * 26 + ["A B"] * 2
        ),
        "Date de naissance": _dates(dt.date(1960, 3, 21), 97),
        "Ville": pa.array(["Toulouse", "Bordeaux", "Nice", "Brest"] * (N // 4)),
        "Code postal": pa.array([f"{31000 + n:05d}" for n in range(N)]),
        "Statut du contrat": pa.array([statuses[n % 5] for n in range(N)]),
        "Cotisation annuelle": pa.array([300.5 + 7 * n for n in range(N)]),
        "Périodicité": pa.array([modes[n % 4] for n in range(N)]),
        "Courtier": pa.array([f"CT{n % 9:03d}" for n in range(N)]),
    }
    result = suggest_matches(columns, source_name="contrats_fr")
    return {c.column: c.best.target if c.best else None for c in result.columns}


@pytest.mark.parametrize(
    ("column", "target"),
    [
        ("N° Police", "policy_core.policy_id"),
        ("Date d'effet", "policy_core.effective_date"),
        ("Date d'échéance", "policy_core.expiration_date"),
        ("Nom de l'assuré", "policy_core.insured_party.name"),
        ("Date de naissance", "policy_core.insured_party.date_of_birth"),
        ("Ville", "policy_core.insured_party.address.city"),
        ("Code postal", "policy_core.insured_party.address.postal_code"),
        ("Statut du contrat", "policy_core.status"),
        ("Cotisation annuelle", "rating_components.premium_amount"),
        ("Périodicité", "rating_components.premium_frequency"),
        ("Courtier", "policy_core.agent_info.agent_id"),
    ],
)
def test_french_headers_and_values_are_matched(
    french_policies: dict[str, str | None], column: str, target: str
) -> None:
    assert french_policies[column] == target


def test_day_first_dates_are_dates() -> None:
    assert profile(_dates(dt.date(2023, 1, 1), 11)).kind == "date"  # 13/01/2023 and later


def test_a_spanish_extract_is_matched_too() -> None:
    columns = {
        "Número de póliza": pa.array([f"ES-{n:06d}" for n in range(N)]),
        "Fecha de efecto": _dates(dt.date(2022, 3, 14), 4),
        "Fecha de vencimiento": _dates(dt.date(2025, 3, 14), 4),
        "Nombre del asegurado": pa.array([f"Lucía {s}" for s in ("García", "Ruiz")] * (N // 2)),
        "Ciudad": pa.array(["Sevilla", "Bilbao", "Valencia", "Murcia"] * (N // 4)),
        "Prima anual": pa.array([410.25 + 3 * n for n in range(N)]),
    }
    result = suggest_matches(columns, source_name="polizas_es")
    assert {c.column: c.best.target if c.best else None for c in result.columns} == {
        "Número de póliza": "policy_core.policy_id",
        "Fecha de efecto": "policy_core.effective_date",
        "Fecha de vencimiento": "policy_core.expiration_date",
        "Nombre del asegurado": "policy_core.insured_party.name",
        "Ciudad": "policy_core.insured_party.address.city",
        "Prima anual": "rating_components.premium_amount",
    }


REGIONS = {
    "fr": ["Bretagne", "Normandie", "Occitanie", "Grand Est", "Hauts-de-France"],
    "es": ["Andalucía", "Cataluña", "Galicia", "País Vasco", "Comunidad de Madrid"],
}


@pytest.mark.parametrize(("lang", "table"), [("fr", "fr_region"), ("es", "es_region")])
def test_a_region_of_another_country_is_the_address_state(lang: str, table: str) -> None:
    """A French or Spanish address's region is read by its country's table, not the US one."""
    regions = pa.array([REGIONS[lang][n % 5] for n in range(N)])
    assert infer_code_table(regions, "state") == table
    columns = {
        "Numéro de police" if lang == "fr" else "Número de póliza": pa.array(
            [f"P{n:07d}" for n in range(N)]
        ),
        "Région" if lang == "fr" else "Comunidad autónoma": regions,
        "Ville" if lang == "fr" else "Ciudad": pa.array(["Lyon", "Rennes", "Lille", "Dijon"] * 20),
    }
    result = suggest_matches(columns, source_name=f"polices_{lang}")
    state = result.column("Région" if lang == "fr" else "Comunidad autónoma")
    assert state.best is not None
    assert state.best.target == "policy_core.insured_party.address.state"
    assert state.best.signals["code"] == 1.0


def test_spanish_coded_values_are_known() -> None:
    """Spanish status, premium split and line-of-business values are codes the tables know."""
    statuses = ["En vigor", "Anulada", "Suspendida", "Vencida", "Pendiente"]
    splits = ["Mensual", "Trimestral", "Semestral", "Anual"]
    lines = ["Hogar", "Automóviles", "Vida", "Salud", "Responsabilidad civil"]
    columns = {
        "Número de póliza": pa.array([f"ES-{n:06d}" for n in range(N)]),
        "Situación": pa.array([statuses[n % 5] for n in range(N)]),
        "Fraccionamiento": pa.array([splits[n % 4] for n in range(N)]),
        "Ramo": pa.array([lines[n % 5] for n in range(N)]),
    }
    result = suggest_matches(columns, source_name="polizas_es")
    for column, target in (
        ("Situación", "policy_core.status"),
        ("Fraccionamiento", "rating_components.premium_frequency"),
        ("Ramo", "policy_core.policy_type"),
    ):
        best = result.column(column).best
        assert best is not None and best.target == target
        assert best.signals["code"] == 1.0
