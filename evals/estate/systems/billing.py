"""System 2: billing, a semicolon CSV in latin-1 with comma decimals and DD.MM.YYYY dates."""

from __future__ import annotations

import csv
from typing import IO, Any

import numpy as np

from evals.estate import pools
from evals.estate.keys import keys
from evals.estate.problems import (
    DUPLICATE,
    INCONSISTENT_CODE,
    INVALID_DATE,
    MISSING,
    ORPHAN_REFERENCE,
    ProblemLog,
    plan_records,
)
from evals.estate.systems.base import SourceDef, SystemWriter, amount, pick
from evals.estate.universe import HOME_SYSTEMS, PolicyChunk, iso, orphan_numbers

SOURCE = "billing"
KINDS = (MISSING, INVALID_DATE, DUPLICATE, INCONSISTENT_CODE, ORPHAN_REFERENCE)
PROBLEM_FIELDS = {
    MISSING: "BillPlan",
    INVALID_DATE: "LastPaymentDate",
    DUPLICATE: "PolicyNo",
    INCONSISTENT_CODE: "Freq",
    ORPHAN_REFERENCE: "PolicyNo",
}
MAPPING: dict[str, str | None] = {
    "PolicyNo": "policy_core.policy_id",
    "BillPlan": "payments.payment_plan",
    "Freq": "payments.billing_frequency",
    "InstallmentAmt": None,
    "OutstandingBal": "payments.outstanding_balance",
    "LastPaymentDate": "payments.payment_history[].payment_date",
    "LastPaymentAmt": "payments.payment_history[].amount",
    "NextDueDate": None,
    "PayorName": "policy_core.insured_party.name",
    "PayorCity": "policy_core.insured_party.address.city",
    "BankRef": None,
    "ModifiedBy": None,
}
_DATE = {"kind": "date", "format": "%d.%m.%Y"}
_MONEY = {"kind": "decimal", "scale": 2, "decimal_separator": ","}
TRANSFORMS: dict[str, dict[str, Any]] = {
    "BillPlan": {"kind": "code", "table": pools.code_table("billing.plan")},
    "Freq": {"kind": "code", "table": pools.code_table("billing.frequency")},
    "InstallmentAmt": _MONEY,
    "OutstandingBal": _MONEY,
    "LastPaymentDate": _DATE,
    "LastPaymentAmt": _MONEY,
    "NextDueDate": _DATE,
}
_INSTALMENTS = np.array([1, 2, 4, 12], dtype=np.int64)
CONFLICT_RATE = 0.02  # billed to a stale address: the payor's city disagrees with the policy's
CITY_PATH = "policy_core.insured_party.address.city"
# Where each home system holds the insured's city (the other side of a conflict).
HOME_CITY = {
    "policy_master": ("policy_master", "INSD_ADDR.CITY_NM"),
    "agency": ("agency_policies", "City"),
    "life": ("life", "CITY"),
    "acquired": ("acquired_party", "city"),
}


def dotted(days: np.ndarray) -> list[str]:
    """DD.MM.YYYY strings."""
    return [f"{s[8:10]}.{s[5:7]}.{s[0:4]}" for s in iso(days)]


class BillingWriter(SystemWriter):
    """billing.csv: one row per billed policy (60% of all policies, any home system)."""

    system = "billing"
    format = "csv"
    description = "Billing system export: ';'-separated, latin-1, comma decimals"

    def define_sources(self) -> list[SourceDef]:
        self._file: IO[str] = (self.dir / "billing.csv").open("w", encoding="latin-1", newline="")
        self._csv = csv.writer(self._file, delimiter=";", lineterminator="\r\n")
        self._csv.writerow(list(MAPPING))
        return [
            SourceDef(
                name=SOURCE,
                path=f"{self.system}/billing.csv",
                format="csv",
                options={
                    "delimiter": ";",
                    "quotechar": '"',
                    "encoding": "latin-1",
                    "decimal": ",",
                    "header": True,
                    "null_values": [""],
                },
                mapping=MAPPING,
                transforms=TRANSFORMS,
            )
        ]

    def write(self, chunk: PolicyChunk, log: ProblemLog) -> None:
        sub = np.nonzero(chunk.in_billing)[0]
        plan = plan_records(chunk.rng, len(sub), KINDS)
        r = sub[plan.rows]
        m = len(r)
        numbers = chunk.number[r].copy()
        orphan = plan.mask(ORPHAN_REFERENCE)
        numbers[orphan] = orphan_numbers(numbers[orphan])
        ids = keys("billing", numbers)
        self.log_problems(log, SOURCE, plan, ids, PROBLEM_FIELDS)
        self.count_links(SOURCE, chunk, r, orphan)
        rng = chunk.rng
        bill_plan = pick(pools.CODES["billing.plan"], rng.integers(0, 4, size=m))
        for i in np.nonzero(plan.mask(MISSING))[0].tolist():
            bill_plan[i] = ""
        freq_idx = chunk.frequency[r]
        freq = pick(pools.CODES["billing.frequency"], freq_idx)
        for i in np.nonzero(plan.mask(INCONSISTENT_CODE))[0].tolist():
            freq[i] = "7"
        instalment = chunk.premium_cents[r] // _INSTALMENTS[freq_idx]
        last_pay_days = chunk.eff_days[r] + rng.integers(0, 330, size=m)
        last_pay = dotted(last_pay_days)
        for i in np.nonzero(plan.mask(INVALID_DATE))[0].tolist():
            last_pay[i] = f"31.02.{last_pay[i][-4:]}"
        next_due = dotted(last_pay_days + 365 // _INSTALMENTS[freq_idx])
        cities = [pools.CITIES[i][0] for i in chunk.city[r].tolist()]
        self._inject_conflicts(chunk, r, plan.kind < 0, ids, cities, log)
        bank_ref = [f"DE{v % 97:02d}37040044{v % 10**10:010d}" for v in (numbers * 31).tolist()]
        modified = pick(["BATCH01", "BATCH02", "JSCHMIDT", "MKOVAC"], numbers % 4)
        cols = [
            ids,
            bill_plan,
            freq,
            [amount(c, ",") for c in instalment.tolist()],
            [amount(c, ",") for c in chunk.balance_cents[r].tolist()],
            last_pay,
            [amount(c, ",") for c in instalment.tolist()],
            next_due,
            chunk.names(r),
            cities,
            bank_ref,
            modified,
        ]
        self._csv.writerows(zip(*cols, strict=True))
        self.capture(SOURCE, self.sources[SOURCE].records, dict(zip(MAPPING, cols, strict=True)))
        self.sources[SOURCE].records += m

    def _inject_conflicts(
        self,
        chunk: PolicyChunk,
        r: np.ndarray,
        clean: np.ndarray,
        ids: list[str],
        cities: list[str],
        log: ProblemLog,
    ) -> None:
        """Move the payor of some clean records to another city, and log both values."""
        hit = np.nonzero((chunk.side.random(len(r)) < CONFLICT_RATE) & clean)[0].tolist()
        base = self.sources[SOURCE].records
        rows: list[dict[str, object]] = []
        for i in hit:
            true_city = cities[i]
            cities[i] = pools.CITIES[(int(chunk.city[r[i]]) + 1) % len(pools.CITIES)][0]
            other, column = HOME_CITY[HOME_SYSTEMS[int(chunk.home[r[i]])]]
            rows.append(
                {
                    "source": SOURCE,
                    "record_index": base + i,
                    "policy_id": ids[i],
                    "field": "PayorCity",
                    "canonical": CITY_PATH,
                    "value": cities[i],
                    "other_source": other,
                    "other_field": column,
                    "other_value": true_city,
                }
            )
        log.add_conflicts(rows)

    def close(self) -> None:
        self._file.close()
