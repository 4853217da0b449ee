"""System 6: the life system, pipe-delimited text with Julian (YYYYDDD) dates."""

from __future__ import annotations

from typing import IO, Any

import numpy as np

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
from evals.estate.universe import HOME_LIFE, PolicyChunk, julian

SOURCE = "life"
KINDS = (MISSING, INVALID_DATE, DUPLICATE, OUT_OF_RANGE_PREMIUM, INCONSISTENT_CODE)
PROBLEM_FIELDS = {
    MISSING: "INSLNAME",
    INVALID_DATE: "ISSUEDT",
    DUPLICATE: "CONTRNO",
    OUT_OF_RANGE_PREMIUM: "MODPREM",
    INCONSISTENT_CODE: "PREMMODE",
}
PC = "policy_core"
INSURED = f"{PC}.insured_party"
MAPPING: dict[str, str | None] = {
    "CONTRNO": f"{PC}.policy_id",
    "PLANCODE": f"{PC}.policy_type",
    "CONTSTAT": f"{PC}.status",
    "ISSUEDT": f"{PC}.issue_date",
    "MATURDT": f"{PC}.expiration_date",
    "INSFNAME": f"{INSURED}.first_name",
    "INSLNAME": f"{INSURED}.last_name",
    "INSDOB": f"{INSURED}.date_of_birth",
    "INSSEX": None,
    "ADDRLN1": f"{INSURED}.address.line1",
    "CITY": f"{INSURED}.address.city",
    "STATE": f"{INSURED}.address.state",
    "ZIP": f"{INSURED}.address.postal_code",
    "FACEAMT": "coverage_sections[].limits.per_occurrence",
    "MODPREM": "rating_components.premium_amount",
    "PREMMODE": "rating_components.premium_frequency",
    "AGENTNO": f"{PC}.agent_info.agent_id",
    "LASTUPD": None,
}
_JULIAN = {"kind": "date", "format": "%Y%j"}
TRANSFORMS: dict[str, dict[str, Any]] = {
    "PLANCODE": {
        "kind": "code",
        "table": pools.code_table("life.policy_type", pools.LIFE_TYPES),
    },
    "CONTSTAT": {"kind": "code", "table": pools.code_table("life.status")},
    "ISSUEDT": _JULIAN,
    "MATURDT": _JULIAN,
    "INSDOB": _JULIAN,
    "FACEAMT": {"kind": "decimal", "scale": 0},
    "MODPREM": {"kind": "decimal", "scale": 2, "implied": True},
    "PREMMODE": {"kind": "code", "table": pools.code_table("life.frequency")},
    "AGENTNO": {"kind": "format", "pattern": "A{:05d}", "note": "numeric agent no -> A-code"},
}


class LifeWriter(SystemWriter):
    """LIFEPOL.txt: '|'-separated, UTF-8, header line, implied-decimal modal premium."""

    system = "life"
    format = "csv"
    description = "Life administration extract: pipe-delimited text, Julian dates"

    def define_sources(self) -> list[SourceDef]:
        self._file: IO[str] = (self.dir / "LIFEPOL.txt").open("w", encoding="utf-8", newline="\n")
        self._file.write("|".join(MAPPING) + "\n")
        return [
            SourceDef(
                name=SOURCE,
                path=f"{self.system}/LIFEPOL.txt",
                format="csv",
                options={"delimiter": "|", "encoding": "utf-8", "header": True, "quotechar": None},
                mapping=MAPPING,
                transforms=TRANSFORMS,
            )
        ]

    def write(self, chunk: PolicyChunk, log: ProblemLog) -> None:
        sub = np.nonzero(chunk.home == HOME_LIFE)[0]
        plan = plan_records(chunk.rng, len(sub), KINDS)
        r = sub[plan.rows]
        ids = chunk.ids(r)
        self.log_problems(log, SOURCE, plan, ids, PROBLEM_FIELDS)
        issue = julian(chunk.eff_days[r])
        bad = plan.mask(INVALID_DATE)
        issue[bad] = issue[bad] // 1000 * 1000 + 400
        last = pick(pools.LAST_NAMES, chunk.last[r])
        for i in np.nonzero(plan.mask(MISSING))[0].tolist():
            last[i] = ""
        # Life premiums are billed modally: annual premium split by the mode.
        modal = chunk.premium_cents[r] // np.array([1, 2, 4, 12])[chunk.frequency[r]]
        oor = np.nonzero(plan.mask(OUT_OF_RANGE_PREMIUM))[0]
        modal[oor] = np.where(oor % 2 == 0, 0, 999_999_999)
        mode = pick(pools.CODES["life.frequency"], chunk.frequency[r])
        for i in np.nonzero(plan.mask(INCONSISTENT_CODE))[0].tolist():
            mode[i] = "X"
        city = chunk.city[r].tolist()
        cols = [
            ids,
            pick(pools.CODES["life.policy_type"], chunk.policy_type[r]),
            pick(pools.CODES["life.status"], chunk.status[r]),
            [str(v) for v in issue.tolist()],
            [str(v) for v in julian(chunk.exp_days[r]).tolist()],
            pick(pools.FIRST_NAMES, chunk.first[r]),
            last,
            [str(v) for v in julian(chunk.birth_days[r]).tolist()],
            pick(["M", "F"], chunk.number[r] % 2),
            chunk.street_lines(r),
            [pools.CITIES[c][0] for c in city],
            [pools.CITIES[c][1] for c in city],
            chunk.postal_codes(r),
            [str(v // 100) for v in chunk.face_cents[r].tolist()],
            [f"{v:09d}" for v in modal.tolist()],
            mode,
            [f"{a + 1:05d}" for a in chunk.agent[r].tolist()],
            [str(v) for v in julian(chunk.rated_days[r] + 400).tolist()],
        ]
        self._file.write("".join("|".join(row) + "\n" for row in zip(*cols, strict=True)))
        self.capture(SOURCE, self.sources[SOURCE].records, dict(zip(MAPPING, cols, strict=True)))
        self.sources[SOURCE].records += len(r)

    def close(self) -> None:
        self._file.close()
