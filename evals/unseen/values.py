"""Cell values of the unseen sources, per canonical field, language and date style."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from evals.unseen.vocabulary import VALUES

FIRST = ("Ana", "Marc", "Lena", "Omar", "Chloe", "Ivan", "Nora", "Paul", "Sofia", "Theo")
LAST = ("Berger", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Russo", "Haddad", "Keller")
CITIES = {
    "en": ("Springfield", "Riverton", "Lakewood", "Fairview", "Greenville", "Madison"),
    "fr": ("Lyon", "Rennes", "Nantes", "Dijon", "Grenoble", "Lille"),
}
STATES = {
    "en": ("OH", "TX", "CA", "NY", "PA", "WA", "FL"),
    "fr": ("Bretagne", "Normandie", "Occitanie", "Grand Est", "Hauts-de-France"),
}
STREETS = {
    "en": ("Oak St", "Maple Ave", "Pine Rd", "Elm Dr"),
    "fr": ("rue des Lilas", "avenue Foch"),
}
DATE_STYLES = {
    "iso": "%Y-%m-%d",
    "us": "%m/%d/%Y",
    "eu": "%d/%m/%Y",
    "compact": "%Y%m%d",
}


def _date(rng: random.Random, start: int, years: int, style: str) -> str:
    day = dt.date(start, 1, 1) + dt.timedelta(days=rng.randrange(365 * years))
    return day.strftime(DATE_STYLES[style])


def make_value(
    path: str, rng: random.Random, *, lang: str, dates: str, key: str, item: int
) -> str | int | float:
    """One cell of field ``path`` (``key`` is the policy number, ``item`` the list index)."""
    makers: dict[str, Callable[[], str | int | float]] = {
        "policy_core.policy_id": lambda: key,
        "policy_core.status": lambda: rng.choice(VALUES["status"][lang]),
        "policy_core.effective_date": lambda: _date(rng, 2019, 4, dates),
        "policy_core.expiration_date": lambda: _date(rng, 2024, 2, dates),
        "policy_core.issue_date": lambda: _date(rng, 2018, 4, dates),
        "policy_core.policy_type": lambda: rng.choice(VALUES["product"][lang]),
        "policy_core.carrier": lambda: rng.choice(VALUES["company"][lang]),
        "policy_core.insured_party.name": lambda: f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "policy_core.insured_party.date_of_birth": lambda: _date(rng, 1945, 55, dates),
        "policy_core.insured_party.address.line1": lambda: (
            f"{rng.randrange(1, 999)} {rng.choice(STREETS[lang])}"
        ),
        "policy_core.insured_party.address.city": lambda: rng.choice(CITIES[lang]),
        "policy_core.insured_party.address.state": lambda: rng.choice(STATES[lang]),
        "policy_core.insured_party.address.postal_code": lambda: (
            f"{rng.randrange(1000, 99999):05d}"
        ),
        "policy_core.insured_party.email": lambda: (
            f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}@example.org"
        ),
        "policy_core.insured_party.phone": lambda: (
            f"+1 {rng.randrange(200, 999)} {rng.randrange(200, 999)} {rng.randrange(1000, 9999)}"
            if lang == "en"
            else f"0{rng.randrange(1, 9)} {rng.randrange(10, 99)} {rng.randrange(10, 99)} "
            f"{rng.randrange(10, 99)} {rng.randrange(10, 99)}"
        ),
        "policy_core.agent_info.agent_id": lambda: f"BR{rng.randrange(100, 400):04d}",
        "policy_core.agent_info.name": lambda: f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "rating_components.premium_amount": lambda: round(rng.uniform(250, 6000), 2),
        "rating_components.premium_frequency": lambda: rng.choice(VALUES["frequency"][lang]),
        "payments.outstanding_balance": lambda: round(rng.uniform(-50, 1500), 2),
        "coverage_sections[].coverage_id": lambda: item + 1,
        "coverage_sections[].coverage_type": lambda: rng.choice(VALUES["coverage_kind"][lang]),
        "coverage_sections[].limits.per_occurrence": lambda: rng.choice(
            (100000, 250000, 300000, 500000, 1000000)
        ),
        "coverage_sections[].deductibles.amount": lambda: rng.choice((250, 500, 1000, 2500)),
        "payments.payment_history[].payment_id": lambda: f"T{rng.randrange(10**7, 10**8)}",
        "payments.payment_history[].payment_date": lambda: _date(rng, 2023, 2, dates),
        "payments.payment_history[].amount": lambda: round(rng.uniform(20, 900), 2),
        "payments.payment_history[].method": lambda: rng.choice(VALUES["method"][lang]),
        "payments.payment_history[].status": lambda: rng.choice(VALUES["txn_status"][lang]),
    }
    return makers[path]()


def noise_value(kind: int, rng: random.Random, dates: str) -> str | int:
    """A value of a noise column (``vocabulary.NOISE[kind]``)."""
    if kind == 0:
        return f"{rng.choice(FIRST).lower()}{rng.randrange(10, 99)}"
    if kind == 1:
        return rng.randrange(1000, 1100)
    return _date(rng, 2024, 1, dates) + " 02:00:00"
