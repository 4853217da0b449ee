"""System 3: claims links, JSON Lines with nested objects (camelCase keys)."""

from __future__ import annotations

import json
from typing import IO, Any

import numpy as np

from evals.estate import pools
from evals.estate.problems import (
    DUPLICATE,
    INCONSISTENT_CODE,
    INVALID_DATE,
    MISSING,
    ORPHAN_REFERENCE,
    ProblemLog,
)
from evals.estate.systems.base import SourceDef, SystemWriter, pick
from evals.estate.universe import PolicyChunk, iso

SOURCE = "claims_links"
KINDS = (MISSING, INVALID_DATE, DUPLICATE, INCONSISTENT_CODE, ORPHAN_REFERENCE)
PROBLEM_FIELDS = {
    MISSING: "claim.lossDate",
    INVALID_DATE: "claim.reportedDate",
    DUPLICATE: "claim.claimNumber",
    INCONSISTENT_CODE: "claim.status",
    ORPHAN_REFERENCE: "policyRef",
}
MAPPING: dict[str, str | None] = {
    "policyRef": "policy_core.policy_id",
    "claim.claimNumber": "claims_links[].claim_id",
    "claim.lossDate": "claims_links[].loss_date",
    "claim.reportedDate": "claims_links[].reported_date",
    "claim.status": "claims_links[].status",
    "claim.causeOfLoss": None,
    "claim.reserve.amount": None,
    "claim.reserve.currency": None,
    "claim.paid.amount": None,
    "source.system": None,
    "source.extractedAt": None,
}
TRANSFORMS: dict[str, dict[str, Any]] = {
    "claim.lossDate": {"kind": "date", "format": "%Y-%m-%d"},
    "claim.reportedDate": {"kind": "date", "format": "%Y-%m-%d"},
    "claim.status": {"kind": "code", "table": {c: c.lower() for c in pools.CLAIM_STATUSES}},
}
EXTRACTED_AT = "2025-01-15T02:00:00Z"


class ClaimsWriter(SystemWriter):
    """claims_links.jsonl: one line per claim of a P&C policy."""

    system = "claims"
    format = "jsonl"
    description = "Claims system link extract: JSON Lines, nested objects, camelCase"

    def define_sources(self) -> list[SourceDef]:
        self._file: IO[str] = (self.dir / "claims_links.jsonl").open(
            "w", encoding="utf-8", newline="\n"
        )
        return [
            SourceDef(
                name=SOURCE,
                path=f"{self.system}/claims_links.jsonl",
                format="jsonl",
                options={"encoding": "utf-8"},
                mapping=MAPPING,
                transforms=TRANSFORMS,
            )
        ]

    def write(self, chunk: PolicyChunk, log: ProblemLog) -> None:
        child = self.child_rows(
            chunk,
            chunk.claims,
            log,
            source=SOURCE,
            kinds=KINDS,
            problem_fields=PROBLEM_FIELDS,
            key_format="claims",
        )
        plan, r, seq, ids, m = child.plan, child.rows, child.seq, child.ids, len(child)
        rng = chunk.rng
        loss_days = chunk.eff_days[r] + rng.integers(0, 180, size=m)
        loss: list[str | None] = list(iso(loss_days))
        for i in np.nonzero(plan.mask(MISSING))[0].tolist():
            loss[i] = None
        reported = iso(loss_days + rng.integers(0, 30, size=m))
        for i in np.nonzero(plan.mask(INVALID_DATE))[0].tolist():
            reported[i] = f"{reported[i][:4]}-02-30"
        status = pick(pools.CLAIM_STATUSES, rng.integers(0, 4, size=m))
        for i in np.nonzero(plan.mask(INCONSISTENT_CODE))[0].tolist():
            status[i] = "REOPND"
        cause = pick(pools.CAUSES_OF_LOSS, rng.integers(0, len(pools.CAUSES_OF_LOSS), size=m))
        reserve = rng.integers(50_000, 5_000_000, size=m)
        paid = (reserve * rng.random(m)).astype(np.int64)
        years = [d[:4] for d in iso(chunk.eff_days[r])]
        numbers = [
            f"CLM-{yr}-{num:09d}-{s}"
            for yr, num, s in zip(years, chunk.number[r].tolist(), seq.tolist(), strict=True)
        ]
        lines = []
        for pid, number, lo, rep, st, ca, res, pd in zip(
            ids,
            numbers,
            loss,
            reported,
            status,
            cause,
            reserve.tolist(),
            paid.tolist(),
            strict=True,
        ):
            lines.append(
                json.dumps(
                    {
                        "policyRef": pid,
                        "claim": {
                            "claimNumber": number,
                            "lossDate": lo,
                            "reportedDate": rep,
                            "status": st,
                            "causeOfLoss": ca,
                            "reserve": {"amount": res / 100, "currency": "USD"},
                            "paid": {"amount": pd / 100},
                        },
                        "source": {"system": "CLX", "extractedAt": EXTRACTED_AT},
                    },
                    separators=(",", ":"),
                )
            )
        if lines:
            self._file.write("\n".join(lines) + "\n")
        # only the columns the document takes (the reader flattens "claim" with dots)
        self.capture(
            SOURCE,
            self.sources[SOURCE].records,
            {
                "policyRef": ids,
                "claim.claimNumber": numbers,
                "claim.lossDate": loss,
                "claim.reportedDate": reported,
                "claim.status": status,
            },
        )
        self.sources[SOURCE].records += m

    def close(self) -> None:
        self._file.close()
