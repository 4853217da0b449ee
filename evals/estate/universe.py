"""One chunk of the policy universe: every attribute of a run of policies as numpy columns.

Each chunk draws from its own generator seeded by ``(seed, chunk_index)``, so a chunk's content
depends only on the seed and its position: the estate is deterministic and chunks never need to
see each other (bounded memory at any size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evals.estate import pools

CHUNK_POLICIES = 20_000

# Policy-level systems partition the policies (index = home system code below).
HOME_SYSTEMS = ["policy_master", "agency", "life", "acquired"]
HOME_WEIGHTS = [0.40, 0.15, 0.15, 0.30]
HOME_MASTER, HOME_AGENCY, HOME_LIFE, HOME_ACQUIRED = range(4)

_EPOCH_2014 = int(np.datetime64("2014-01-01", "D").astype(np.int64))
_EPOCH_2025 = int(np.datetime64("2025-01-01", "D").astype(np.int64))
_BIRTH_FROM = int(np.datetime64("1940-01-01", "D").astype(np.int64))
_BIRTH_TO = int(np.datetime64("2004-12-31", "D").astype(np.int64))

I64 = NDArray[np.int64]


@dataclass(slots=True)
class PolicyChunk:
    """Columns for policies ``start .. start + n - 1`` (0-based policy numbers)."""

    start: int
    n: int
    rng: np.random.Generator  # continues to drive per-system draws for this chunk
    # Draws added after the estate's first release (cross-system conflicts) come from their own
    # stream, so the files every older test and eval pins stay byte-identical.
    side: np.random.Generator
    number: I64  # policy number (id = "P" + 9 digits)
    home: I64
    status: I64
    policy_type: I64  # index into PC_TYPES, or LIFE_TYPES for life policies
    carrier: I64
    eff_days: I64
    exp_days: I64
    issue_days: I64
    rated_days: I64
    is_company: NDArray[np.bool_]
    first: I64
    last: I64
    company: I64
    birth_days: I64
    street_no: I64
    street: I64
    unit: I64  # -1 = no line 2
    city: I64
    zip_suffix: I64
    phone: I64  # 7-digit local number
    agent: I64
    premium_cents: I64
    frequency: I64
    balance_cents: I64
    cov_count: I64
    cov_type: I64  # (n, 3) index into COVERAGE_TYPES
    cov_limit_cents: I64  # (n, 3)
    cov_deduct_cents: I64  # (n, 3)
    face_cents: I64  # life face amount
    in_billing: NDArray[np.bool_]
    claims: I64  # claims per policy
    documents: I64  # correspondence documents per policy
    endorsements: I64  # endorsement records per policy

    def ids(self, rows: I64 | None = None) -> list[str]:
        """Policy ids of the chunk (or of the given row indices)."""
        nums = self.number if rows is None else self.number[rows]
        return [f"P{v:09d}" for v in nums.tolist()]

    def names(self, rows: I64) -> list[str]:
        """Display names: "First Last" for people, the company name for companies."""
        first = [pools.FIRST_NAMES[i] for i in self.first[rows].tolist()]
        last = [pools.LAST_NAMES[i] for i in self.last[rows].tolist()]
        comp = [pools.COMPANY_NAMES[i] for i in self.company[rows].tolist()]
        company = self.is_company[rows].tolist()
        return [
            c if is_c else f"{f} {la}"
            for f, la, c, is_c in zip(first, last, comp, company, strict=True)
        ]

    def street_lines(self, rows: I64) -> list[str]:
        """Address line 1: "<number> <street>"."""
        streets = [pools.STREETS[i] for i in self.street[rows].tolist()]
        return [f"{n} {s}" for n, s in zip(self.street_no[rows].tolist(), streets, strict=True)]

    def postal_codes(self, rows: I64) -> list[str]:
        """5-digit ZIP codes (city prefix + 2 digits, leading zeros kept)."""
        city, suffix = self.city[rows].tolist(), self.zip_suffix[rows].tolist()
        return [f"{pools.CITIES[c][2]}{z:02d}" for c, z in zip(city, suffix, strict=True)]

    def phones(self, rows: I64, template: str) -> list[str]:
        """Phone numbers formatted by ``template`` with fields area, exchange, line."""
        city, local = self.city[rows].tolist(), self.phone[rows].tolist()
        return [
            template.format(area=200 + c * 37 % 800, exchange=p // 10_000, line=p % 10_000)
            for c, p in zip(city, local, strict=True)
        ]

    def emails(self, rows: I64) -> list[str]:
        """ASCII e-mail addresses derived from the insured's name."""
        return [
            f"info{num}@company.example"
            if comp
            else f"{pools.FIRST_SLUGS[f]}.{pools.LAST_SLUGS[la]}{num % 100}@mail.example"
            for num, comp, f, la in zip(
                self.number[rows].tolist(),
                self.is_company[rows].tolist(),
                self.first[rows].tolist(),
                self.last[rows].tolist(),
                strict=True,
            )
        ]


def orphan_numbers(numbers: I64) -> I64:
    """Policy numbers that exist in no system (for orphan references), derived from real ones."""
    return numbers + 900_000_000


def make_chunk(seed: int, chunk_index: int, start: int, n: int) -> PolicyChunk:
    """Draw every attribute of policies ``start .. start + n - 1``."""
    rng = np.random.default_rng([seed, chunk_index])
    home = rng.choice(4, size=n, p=HOME_WEIGHTS)
    is_life = home == HOME_LIFE
    pc_type = rng.choice(len(pools.PC_TYPES), size=n, p=pools.PC_TYPE_WEIGHTS)
    life_type = rng.integers(0, len(pools.LIFE_TYPES), size=n)
    policy_type = np.where(is_life, life_type, pc_type)
    eff = rng.integers(_EPOCH_2014, _EPOCH_2025, size=n)
    term = np.where(is_life, 365 * 20 + 5, np.where(pc_type == 0, 182, 365))
    is_company = (rng.random(n) < 0.12) & ~is_life & (pc_type >= 2)
    premium = np.round(rng.lognormal(np.log(1200.0), 0.6, size=n) * 100).astype(np.int64)
    premium = np.clip(premium, 12_000, 5_000_000)
    balance = np.where(rng.random(n) < 0.55, 0, (premium * rng.random(n) * 0.5).astype(np.int64))
    balance = np.where(rng.random(n) < 0.08, -rng.integers(100, 20_000, size=n), balance)
    cov_slots = np.array([pools.COVERAGES_BY_TYPE[t] for t in pools.PC_TYPES], dtype=np.int64)
    cov_count = rng.integers(1, 4, size=n)
    limits = np.array(pools.LIMITS_CENTS, dtype=np.int64)[rng.integers(0, 5, size=(n, 3))]
    deducts = np.array(pools.DEDUCTIBLES_CENTS, dtype=np.int64)[rng.integers(0, 4, size=(n, 3))]
    return PolicyChunk(
        start=start,
        n=n,
        rng=rng,
        side=np.random.default_rng([seed, chunk_index, 1]),
        number=np.arange(start + 1, start + n + 1, dtype=np.int64),
        home=home,
        status=rng.choice(5, size=n, p=pools.STATUS_WEIGHTS),
        policy_type=policy_type,
        carrier=np.where(is_life, 2, rng.choice([0, 1, 3], size=n)),
        eff_days=eff,
        exp_days=eff + term,
        issue_days=eff - rng.integers(0, 46, size=n),
        rated_days=eff - rng.integers(0, 31, size=n),
        is_company=is_company,
        first=rng.integers(0, len(pools.FIRST_NAMES), size=n),
        last=rng.integers(0, len(pools.LAST_NAMES), size=n),
        company=rng.integers(0, len(pools.COMPANY_NAMES), size=n),
        birth_days=rng.integers(_BIRTH_FROM, _BIRTH_TO, size=n),
        street_no=rng.integers(1, 10_000, size=n),
        street=rng.integers(0, len(pools.STREETS), size=n),
        unit=np.where(rng.random(n) < 0.2, rng.integers(0, len(pools.UNITS), size=n), -1),
        city=rng.integers(0, len(pools.CITIES), size=n),
        zip_suffix=rng.integers(0, 100, size=n),
        phone=rng.integers(2_000_000, 9_999_999, size=n),
        agent=rng.integers(0, pools.N_AGENTS, size=n),
        premium_cents=premium,
        frequency=rng.choice(4, size=n, p=[0.45, 0.1, 0.15, 0.3]),
        balance_cents=balance,
        cov_count=cov_count,
        cov_type=cov_slots[pc_type],
        cov_limit_cents=limits,
        cov_deduct_cents=deducts,
        face_cents=rng.choice([5_000_000, 10_000_000, 25_000_000, 50_000_000], size=n) * 100,
        in_billing=rng.random(n) < 0.6,
        claims=np.where(is_life, 0, rng.choice(4, size=n, p=[0.88, 0.08, 0.03, 0.01])),
        documents=rng.choice(5, size=n, p=[0.65, 0.15, 0.1, 0.06, 0.04]),
        endorsements=np.where(
            (home == HOME_MASTER) | (home == HOME_AGENCY),
            rng.choice(3, size=n, p=[0.75, 0.18, 0.07]),
            0,
        ),
    )


# ----- vectorised date helpers (days since 1970-01-01) -----


def ymd(days: I64) -> I64:
    """YYYYMMDD integers."""
    d = days.astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return year * 10_000 + month * 100 + day


def julian(days: I64) -> I64:
    """YYYYDDD integers (ordinal day of the year)."""
    d = days.astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    doy = (d - d.astype("datetime64[Y]")).astype(np.int64) + 1
    return year * 1000 + doy


def iso(days: I64) -> list[str]:
    """ISO ``YYYY-MM-DD`` strings."""
    return days.astype("datetime64[D]").astype(str).tolist()
