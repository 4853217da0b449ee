"""System 4: the agency book, an XLSX workbook (Policies, Agents, Summary sheets)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import xlsxwriter

from evals.estate import pools
from evals.estate.problems import (
    DUPLICATE,
    INCONSISTENT_CODE,
    INVALID_DATE,
    MISSING,
    OUT_OF_RANGE_PREMIUM,
    ProblemLog,
    plan_records,
)
from evals.estate.systems.base import SourceDef, SystemWriter, pick
from evals.estate.universe import HOME_AGENCY, PolicyChunk, iso

POLICIES, AGENTS, SUMMARY = "agency_policies", "agency_agents", "agency_summary"
KINDS = (MISSING, INVALID_DATE, DUPLICATE, OUT_OF_RANGE_PREMIUM, INCONSISTENT_CODE)
PROBLEM_FIELDS = {
    MISSING: "Insured Name",
    INVALID_DATE: "Effective",
    DUPLICATE: "Policy Number",
    OUT_OF_RANGE_PREMIUM: "Annual Premium",
    INCONSISTENT_CODE: "Line of Business",
}
PC = "policy_core"
ADDR = f"{PC}.insured_party.address"
POLICY_MAPPING: dict[str, str | None] = {
    "Policy Number": f"{PC}.policy_id",
    "Status": f"{PC}.status",
    "Line of Business": f"{PC}.policy_type",
    "Insured Name": f"{PC}.insured_party.name",
    "Street": f"{ADDR}.line1",
    "City": f"{ADDR}.city",
    "State": f"{ADDR}.state",
    "Zip": f"{ADDR}.postal_code",
    "Phone": f"{PC}.insured_party.phone",
    "Email": f"{PC}.insured_party.email",
    "Effective": f"{PC}.effective_date",
    "Expires": f"{PC}.expiration_date",
    "Annual Premium": "rating_components.premium_amount",
    "Pay Plan": "rating_components.premium_frequency",
    "Agent Code": f"{PC}.agent_info.agent_id",
    "Commission %": None,
}
AGENT_MAPPING: dict[str, str | None] = {
    "Agent Code": f"{PC}.agent_info.agent_id",
    "Agent Name": f"{PC}.agent_info.name",
    "Agency": f"{PC}.agent_info.agency",
    "License No": None,
    "Region": None,
}
SUMMARY_MAPPING: dict[str, str | None] = {"State": None, "Policies": None, "Total Premium": None}
_DATE = {"kind": "date", "format": "%m/%d/%Y"}
POLICY_TRANSFORMS: dict[str, dict[str, Any]] = {
    "Status": {"kind": "code", "table": pools.code_table("agency.status")},
    "Line of Business": {"kind": "code", "table": pools.code_table("agency.policy_type")},
    "Effective": _DATE,
    "Expires": _DATE,
    "Annual Premium": {"kind": "decimal", "scale": 2},
    "Pay Plan": {"kind": "code", "table": pools.code_table("agency.frequency")},
}
_STATES = sorted({c[1] for c in pools.CITIES})
_CITY_STATE = np.array([_STATES.index(c[1]) for c in pools.CITIES], dtype=np.int64)


def us_dates(days: np.ndarray) -> list[str]:
    """MM/DD/YYYY strings."""
    return [f"{s[5:7]}/{s[8:10]}/{s[0:4]}" for s in iso(days)]


def agent_rows(seed: int) -> list[list[str]]:
    """The agent roster shared by every system's agent codes ("A" + 5 digits)."""
    rng = np.random.default_rng([seed, 1_000_000_007])
    n = pools.N_AGENTS
    first = pick(pools.FIRST_NAMES, rng.integers(0, len(pools.FIRST_NAMES), size=n))
    last = pick(pools.LAST_NAMES, rng.integers(0, len(pools.LAST_NAMES), size=n))
    agency = pick(pools.AGENCIES, rng.integers(0, len(pools.AGENCIES), size=n))
    region = pick(["North", "South", "East", "West", "Central"], rng.integers(0, 5, size=n))
    lic = rng.integers(10_000_000, 99_999_999, size=n).tolist()
    return [
        [f"A{i + 1:05d}", f"{first[i]} {last[i]}", agency[i], f"LIC{lic[i]}", region[i]]
        for i in range(n)
    ]


class AgencyWriter(SystemWriter):
    """agency_book.xlsx written with xlsxwriter in constant_memory mode."""

    system = "agency"
    format = "xlsx"
    description = "Agency management book: XLSX workbook, human-readable headers"

    def __init__(self, out_dir: Path, seed: int) -> None:
        self._seed = seed
        super().__init__(out_dir)

    def define_sources(self) -> list[SourceDef]:
        path = f"{self.system}/agency_book.xlsx"
        self._book = xlsxwriter.Workbook(
            str(self.dir / "agency_book.xlsx"), {"constant_memory": True}
        )
        # A fixed creation time keeps the file byte-identical for a seed.
        self._book.set_properties({"created": dt.datetime(2025, 1, 1), "author": "data-mash"})
        self._policies = self._book.add_worksheet("Policies")
        agents = self._book.add_worksheet("Agents")
        self._summary = self._book.add_worksheet("Summary")
        self._policies.write_row(0, 0, list(POLICY_MAPPING))
        self._row = 1
        agents.write_row(0, 0, list(AGENT_MAPPING))
        roster = agent_rows(self._seed)
        for i, row in enumerate(roster, start=1):
            agents.write_row(i, 0, row)
        self._by_state = np.zeros((len(_STATES), 2), dtype=np.int64)  # policies, premium cents

        def source(name: str, sheet: str, mapping: dict[str, str | None]) -> SourceDef:
            return SourceDef(
                name=name, path=path, format="xlsx", options={"sheet": sheet}, mapping=mapping
            )

        policies = source(POLICIES, "Policies", POLICY_MAPPING)
        policies.transforms = POLICY_TRANSFORMS
        agent_src = source(AGENTS, "Agents", AGENT_MAPPING)
        agent_src.records = len(roster)
        self.capture(AGENTS, 0, dict(zip(AGENT_MAPPING, zip(*roster, strict=True), strict=True)))
        return [policies, agent_src, source(SUMMARY, "Summary", SUMMARY_MAPPING)]

    def write(self, chunk: PolicyChunk, log: ProblemLog) -> None:
        sub = np.nonzero(chunk.home == HOME_AGENCY)[0]
        plan = plan_records(chunk.rng, len(sub), KINDS)
        r = sub[plan.rows]
        m = len(r)
        ids = chunk.ids(r)
        self.log_problems(log, POLICIES, plan, ids, PROBLEM_FIELDS)
        names: list[str | None] = list(chunk.names(r))
        for i in np.nonzero(plan.mask(MISSING))[0].tolist():
            names[i] = None
        lob = pick(pools.CODES["agency.policy_type"], chunk.policy_type[r])
        for i in np.nonzero(plan.mask(INCONSISTENT_CODE))[0].tolist():
            lob[i] = "Misc"
        eff = us_dates(chunk.eff_days[r])
        for i in np.nonzero(plan.mask(INVALID_DATE))[0].tolist():
            eff[i] = f"02/30/{eff[i][-4:]}"
        premium = chunk.premium_cents[r].copy()
        oor = np.nonzero(plan.mask(OUT_OF_RANGE_PREMIUM))[0]
        premium[oor] = np.where(oor % 2 == 0, 0, -premium[oor])
        city = chunk.city[r]
        state = _CITY_STATE[city]
        self._by_state[:, 0] += np.bincount(state, minlength=len(_STATES))
        cents = np.bincount(state, weights=premium, minlength=len(_STATES))
        self._by_state[:, 1] += np.rint(cents).astype(np.int64)  # exact: sums < 2**53
        cols = [
            ids,
            pick(pools.CODES["agency.status"], chunk.status[r]),
            lob,
            names,
            chunk.street_lines(r),
            [pools.CITIES[c][0] for c in city.tolist()],
            [pools.CITIES[c][1] for c in city.tolist()],
            chunk.postal_codes(r),
            chunk.phones(r, "({area}) {exchange:03d}-{line:04d}"),
            chunk.emails(r),
            eff,
            us_dates(chunk.exp_days[r]),
            (premium / 100).tolist(),
            pick(pools.CODES["agency.frequency"], chunk.frequency[r]),
            [f"A{a + 1:05d}" for a in chunk.agent[r].tolist()],
            (10 + chunk.number[r] % 6).tolist(),
        ]
        base = self.sources[POLICIES].records
        self.capture(POLICIES, base, dict(zip(POLICY_MAPPING, cols, strict=True)))
        sheet, row = self._policies, self._row
        for values in zip(*cols, strict=True):
            sheet.write_row(row, 0, values)
            row += 1
        self._row = row
        self.sources[POLICIES].records += m

    def close(self) -> None:
        self._summary.write_row(0, 0, list(SUMMARY_MAPPING))
        row = 1
        for i, state in enumerate(_STATES):
            count, cents = self._by_state[i].tolist()
            if count:
                self._summary.write_row(row, 0, [state, count, cents / 100])
                row += 1
        self.sources[SUMMARY].records = row - 1
        self._book.close()
