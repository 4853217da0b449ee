"""System 7: the acquired company's admin system, a normalised SQLite database."""

from __future__ import annotations

import csv
import sqlite3
from typing import IO, Any

import numpy as np

from evals.estate import pools
from evals.estate.keys import keys
from evals.estate.problems import (
    DUPLICATE,
    INCONSISTENT_CODE,
    INVALID_DATE,
    MISSING,
    ORPHAN_COVERAGE,
    OUT_OF_RANGE_PREMIUM,
    ProblemLog,
    plan_records,
)
from evals.estate.systems.base import SourceDef, SystemWriter, pick
from evals.estate.universe import HOME_ACQUIRED, PolicyChunk, iso, orphan_numbers

POLICY, COVERAGE, PARTY = "acquired_policy", "acquired_coverage", "acquired_party"
CROSSWALK = "acquired_crosswalk"
# The group's conversion table: the acquired company's own policy number -> the group number
# every other system (billing, claims, correspondence) uses for the same policy. The acquired
# key is the policy id as the acquired policy table holds it; the group number is a lookup only.
CROSSWALK_MAPPING: dict[str, str | None] = {
    "LEGACY_POLICY_NO": "policy_core.policy_id",
    "GROUP_POLICY_NO": None,
    "CONVERTED_ON": None,
}
CONVERTED_ON = "2021-07-01"
POLICY_KINDS = (MISSING, INVALID_DATE, DUPLICATE, OUT_OF_RANGE_PREMIUM, INCONSISTENT_CODE)
POLICY_FIELDS = {
    MISSING: "effective_date",
    INVALID_DATE: "expiration_date",
    DUPLICATE: "policy_number",
    OUT_OF_RANGE_PREMIUM: "premium_cents",
    INCONSISTENT_CODE: "status",
}
COVERAGE_KINDS = (ORPHAN_COVERAGE,)
PARTY_KINDS = (MISSING, INCONSISTENT_CODE)
PARTY_FIELDS = {MISSING: "postal_code", INCONSISTENT_CODE: "state_code"}

PC = "policy_core"
INSURED = f"{PC}.insured_party"
COV = "coverage_sections[]"
POLICY_MAPPING: dict[str, str | None] = {
    "policy_key": None,
    "policy_number": f"{PC}.policy_id",
    "status": f"{PC}.status",
    "product_code": f"{PC}.policy_type",
    "carrier_name": f"{PC}.carrier",
    "effective_date": f"{PC}.effective_date",
    "expiration_date": f"{PC}.expiration_date",
    "issue_date": f"{PC}.issue_date",
    "premium_cents": "rating_components.premium_amount",
    "premium_frequency": "rating_components.premium_frequency",
    "insured_party_id": f"{INSURED}.party_id",
    "agent_code": f"{PC}.agent_info.agent_id",
    "created_at": None,
    "updated_at": None,
}
COVERAGE_MAPPING: dict[str, str | None] = {
    "coverage_id": f"{COV}.coverage_id",
    "policy_number": f"{PC}.policy_id",
    "coverage_type": f"{COV}.coverage_type",
    "per_occurrence_limit": f"{COV}.limits.per_occurrence",
    "aggregate_limit": f"{COV}.limits.aggregate",
    "deductible": f"{COV}.deductibles.amount",
    "effective_date": f"{COV}.effective_date",
    "expiration_date": f"{COV}.expiration_date",
}
PARTY_MAPPING: dict[str, str | None] = {
    "party_id": f"{INSURED}.party_id",
    "party_type": None,
    "full_name": f"{INSURED}.name",
    "first_name": f"{INSURED}.first_name",
    "last_name": f"{INSURED}.last_name",
    "birth_date": f"{INSURED}.date_of_birth",
    "address_line1": f"{INSURED}.address.line1",
    "address_line2": f"{INSURED}.address.line2",
    "city": f"{INSURED}.address.city",
    "state_code": f"{INSURED}.address.state",
    "postal_code": f"{INSURED}.address.postal_code",
    "country_code": f"{INSURED}.address.country",
    "email": f"{INSURED}.email",
    "phone": f"{INSURED}.phone",
}
_ISO = {"kind": "date", "format": "%Y-%m-%d"}
POLICY_TRANSFORMS: dict[str, dict[str, Any]] = {
    "status": {"kind": "code", "table": pools.code_table("acquired.status")},
    "product_code": {"kind": "code", "table": pools.code_table("acquired.policy_type")},
    "effective_date": _ISO,
    "expiration_date": _ISO,
    "issue_date": _ISO,
    "premium_cents": {"kind": "decimal", "scale": 2, "implied": True},
    "premium_frequency": {"kind": "code", "table": pools.code_table("acquired.frequency")},
}
COVERAGE_TRANSFORMS: dict[str, dict[str, Any]] = {
    "coverage_type": {"kind": "code", "table": pools.code_table("acquired.coverage_type")},
    "effective_date": _ISO,
    "expiration_date": _ISO,
}
PARTY_TRANSFORMS: dict[str, dict[str, Any]] = {"birth_date": _ISO}
_TABLES = {
    "party": "party_id INTEGER PRIMARY KEY, party_type TEXT NOT NULL, full_name TEXT, "
    "first_name TEXT, last_name TEXT, birth_date TEXT, address_line1 TEXT, address_line2 TEXT, "
    "city TEXT, state_code TEXT, postal_code TEXT, country_code TEXT, email TEXT, phone TEXT",
    "policy": "policy_key INTEGER PRIMARY KEY, policy_number TEXT NOT NULL, status TEXT, "
    "product_code TEXT, carrier_name TEXT, effective_date TEXT, expiration_date TEXT, "
    "issue_date TEXT, premium_cents INTEGER, premium_frequency TEXT, "
    "insured_party_id INTEGER REFERENCES party(party_id), agent_code TEXT, created_at TEXT, "
    "updated_at TEXT",
    "coverage": "coverage_id INTEGER PRIMARY KEY, policy_number TEXT NOT NULL, "
    "coverage_type TEXT, per_occurrence_limit REAL, aggregate_limit REAL, deductible REAL, "
    "effective_date TEXT, expiration_date TEXT",
}


class AcquiredWriter(SystemWriter):
    """acquired.sqlite: party, policy and coverage tables (snake_case)."""

    system = "acquired"
    format = "sqlite"
    description = "Acquired carrier's admin database: SQLite, normalised, snake_case"

    def define_sources(self) -> list[SourceDef]:
        db_path = self.dir / "acquired.sqlite"
        db_path.unlink(missing_ok=True)
        self._db = sqlite3.connect(db_path)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        for table, columns in _TABLES.items():
            self._db.execute(f"CREATE TABLE {table} ({columns})")
        path = f"{self.system}/acquired.sqlite"

        def source(name: str, table: str, mapping: dict, transforms: dict) -> SourceDef:  # type: ignore[type-arg]
            return SourceDef(name, path, "sqlite", {"table": table}, mapping, transforms)

        self._xw_file: IO[str] = (self.dir / "policy_crosswalk.csv").open(
            "w", encoding="utf-8", newline=""
        )
        self._xw = csv.writer(self._xw_file, lineterminator="\n")
        self._xw.writerow(list(CROSSWALK_MAPPING))
        crosswalk = SourceDef(
            CROSSWALK,
            f"{self.system}/policy_crosswalk.csv",
            "csv",
            {"delimiter": ",", "encoding": "utf-8", "header": True},
            CROSSWALK_MAPPING,
        )
        return [
            source(POLICY, "policy", POLICY_MAPPING, POLICY_TRANSFORMS),
            source(COVERAGE, "coverage", COVERAGE_MAPPING, COVERAGE_TRANSFORMS),
            source(PARTY, "party", PARTY_MAPPING, PARTY_TRANSFORMS),
            crosswalk,
        ]

    def write(self, chunk: PolicyChunk, log: ProblemLog) -> None:
        sub = np.nonzero(chunk.home == HOME_ACQUIRED)[0]
        self._write_parties(chunk, sub, log)
        self._write_policies(chunk, sub, log)
        self._write_coverages(chunk, sub, log)
        self._db.commit()
        numbers = chunk.number[sub]
        self._xw.writerows(
            zip(
                keys("acquired", numbers),
                keys("group", numbers),
                [CONVERTED_ON] * len(sub),
                strict=True,
            )
        )
        self.sources[CROSSWALK].records += len(sub)

    def _party_ids(self, chunk: PolicyChunk, rows: np.ndarray) -> np.ndarray:
        return chunk.number[rows] + 5_000_000_000  # stable, disjoint from policy numbers

    def _write_parties(self, chunk: PolicyChunk, sub: np.ndarray, log: ProblemLog) -> None:
        plan = plan_records(chunk.rng, len(sub), PARTY_KINDS)
        r = sub[plan.rows]
        self.log_problems(log, PARTY, plan, chunk.ids(r), PARTY_FIELDS)
        company = chunk.is_company[r].tolist()
        first = pick(pools.FIRST_NAMES, chunk.first[r])
        last = pick(pools.LAST_NAMES, chunk.last[r])
        city = chunk.city[r].tolist()
        state = [pools.CITIES[c][1] for c in city]
        for i in np.nonzero(plan.mask(INCONSISTENT_CODE))[0].tolist():
            state[i] = "XX"
        zips: list[str | None] = list(chunk.postal_codes(r))
        for i in np.nonzero(plan.mask(MISSING))[0].tolist():
            zips[i] = None
        unit = chunk.unit[r].tolist()
        rows = zip(
            self._party_ids(chunk, r).tolist(),
            ["organization" if c else "person" for c in company],
            chunk.names(r),
            [None if c else f for c, f in zip(company, first, strict=True)],
            [None if c else la for c, la in zip(company, last, strict=True)],
            [None if c else d for c, d in zip(company, iso(chunk.birth_days[r]), strict=True)],
            chunk.street_lines(r),
            [pools.UNITS[u] if u >= 0 else None for u in unit],
            [pools.CITIES[c][0] for c in city],
            state,
            zips,
            ["US"] * len(r),
            chunk.emails(r),
            chunk.phones(r, "+1-{area}-{exchange:03d}-{line:04d}"),
            strict=True,
        )
        cols = [list(c) for c in zip(*rows, strict=True)] or [[] for _ in PARTY_MAPPING]
        self._db.executemany(
            f"INSERT INTO party VALUES ({','.join('?' * 14)})", zip(*cols, strict=True)
        )
        self.capture(
            PARTY, self.sources[PARTY].records, dict(zip(PARTY_MAPPING, cols, strict=True))
        )
        self.sources[PARTY].records += len(r)

    def _write_policies(self, chunk: PolicyChunk, sub: np.ndarray, log: ProblemLog) -> None:
        plan = plan_records(chunk.rng, len(sub), POLICY_KINDS)
        r = sub[plan.rows]
        ids = keys("acquired", chunk.number[r])
        self.log_problems(log, POLICY, plan, ids, POLICY_FIELDS)
        status = pick(pools.CODES["acquired.status"], chunk.status[r])
        for i in np.nonzero(plan.mask(INCONSISTENT_CODE))[0].tolist():
            status[i] = "ACTV"
        eff: list[str | None] = list(iso(chunk.eff_days[r]))
        for i in np.nonzero(plan.mask(MISSING))[0].tolist():
            eff[i] = None
        exp = iso(chunk.exp_days[r])
        for i in np.nonzero(plan.mask(INVALID_DATE))[0].tolist():
            exp[i] = f"{exp[i][:5]}13{exp[i][7:]}"
        premium = chunk.premium_cents[r].copy()
        oor = plan.mask(OUT_OF_RANGE_PREMIUM)
        premium[oor] = -premium[oor]
        key0 = self.sources[POLICY].records + 1
        stamp = [f"{d} 03:12:00" for d in iso(chunk.issue_days[r])]
        rows = zip(
            range(key0, key0 + len(r)),
            ids,
            status,
            pick(pools.CODES["acquired.policy_type"], chunk.policy_type[r]),
            pick(pools.CARRIERS, chunk.carrier[r]),
            eff,
            exp,
            iso(chunk.issue_days[r]),
            premium.tolist(),
            pick(pools.CODES["acquired.frequency"], chunk.frequency[r]),
            self._party_ids(chunk, r).tolist(),
            [f"A{a + 1:05d}" for a in chunk.agent[r].tolist()],
            stamp,
            stamp,
            strict=True,
        )
        cols = [list(c) for c in zip(*rows, strict=True)] or [[] for _ in POLICY_MAPPING]
        self._db.executemany(
            f"INSERT INTO policy VALUES ({','.join('?' * 14)})", zip(*cols, strict=True)
        )
        self.capture(
            POLICY, self.sources[POLICY].records, dict(zip(POLICY_MAPPING, cols, strict=True))
        )
        self.sources[POLICY].records += len(r)

    def _write_coverages(self, chunk: PolicyChunk, sub: np.ndarray, log: ProblemLog) -> None:
        counts = chunk.cov_count[sub]
        pol = np.repeat(sub, counts)
        slot = np.arange(len(pol)) - np.repeat(np.cumsum(counts) - counts, counts)
        plan = plan_records(chunk.rng, len(pol), COVERAGE_KINDS)
        r, slot = pol[plan.rows], slot[plan.rows]
        numbers = chunk.number[r].copy()
        orphan = plan.mask(ORPHAN_COVERAGE)
        numbers[orphan] = orphan_numbers(numbers[orphan])
        ids = keys("acquired", numbers)
        self.log_problems(log, COVERAGE, plan, ids, {ORPHAN_COVERAGE: "policy_number"})
        limit = chunk.cov_limit_cents[r, slot]
        key0 = self.sources[COVERAGE].records + 1
        rows = zip(
            range(key0, key0 + len(r)),
            ids,
            pick(pools.CODES["acquired.coverage_type"], chunk.cov_type[r, slot]),
            (limit / 100).tolist(),
            (limit / 50).tolist(),
            (chunk.cov_deduct_cents[r, slot] / 100).tolist(),
            iso(chunk.eff_days[r]),
            iso(chunk.exp_days[r]),
            strict=True,
        )
        cols = [list(c) for c in zip(*rows, strict=True)] or [[] for _ in COVERAGE_MAPPING]
        self._db.executemany(
            f"INSERT INTO coverage VALUES ({','.join('?' * 8)})", zip(*cols, strict=True)
        )
        self.capture(
            COVERAGE, self.sources[COVERAGE].records, dict(zip(COVERAGE_MAPPING, cols, strict=True))
        )
        self.sources[COVERAGE].records += len(r)

    def close(self) -> None:
        self._db.commit()
        self._db.close()
        self._xw_file.close()
