"""System 1: the P&C policy master, fixed-length EBCDIC records described by POLMAST.cpy."""

from __future__ import annotations

import shutil
from importlib import resources
from typing import IO, Any

import numpy as np

from evals.estate import ebcdic as eb
from evals.estate import pools
from evals.estate.expected import (
    EXPECTED_FILES,
    ExpectedWriter,
    decimals,
    display_ints,
    ints,
    texts,
)
from evals.estate.problems import (
    DUPLICATE,
    INCONSISTENT_CODE,
    INVALID_DATE,
    MISSING,
    OUT_OF_RANGE_PREMIUM,
    ProblemLog,
    plan_records,
)
from evals.estate.systems.base import SourceDef, SystemWriter
from evals.estate.universe import HOME_MASTER, PolicyChunk, ymd

RECORD_LENGTH = 320
COPYBOOK = "POLMAST.cpy"
SOURCE = "policy_master"
KINDS = (MISSING, INVALID_DATE, DUPLICATE, OUT_OF_RANGE_PREMIUM, INCONSISTENT_CODE)
PROBLEM_FIELDS = {
    MISSING: "INSD_NM",
    INVALID_DATE: "EFF_DT",
    DUPLICATE: "POL_NBR",
    OUT_OF_RANGE_PREMIUM: "PREM_AMT",
    INCONSISTENT_CODE: "POL_STAT_CD",
}
# An unknown code inside the repeated group of coverages (OCCURS DEPENDING ON COV-CNT).
UNKNOWN_COVERAGE_FIELD = "COVERAGES[].COV_CD"
UNKNOWN_COVERAGE_CODE = b"ZZ9"

PC = "policy_core"
INSURED = f"{PC}.insured_party"
ADDR = f"{INSURED}.address"
COV = "coverage_sections[]"
MAPPING: dict[str, str | None] = {
    "POL_NBR": f"{PC}.policy_id",
    "POL_STAT_CD": f"{PC}.status",
    "LOB_CD": f"{PC}.policy_type",
    "CARR_CD": f"{PC}.carrier",
    "EFF_DT": f"{PC}.effective_date",
    "EXPR_DT": f"{PC}.expiration_date",
    "ISS_DT": f"{PC}.issue_date",
    "INSD_TYP_CD": None,
    "INSD_NM": f"{INSURED}.name",
    "INSD_DTL.INSD_PERS.FRST_NM": f"{INSURED}.first_name",
    "INSD_DTL.INSD_PERS.LAST_NM": f"{INSURED}.last_name",
    "INSD_DTL.INSD_PERS.BIRTH_DT": f"{INSURED}.date_of_birth",
    "INSD_DTL.INSD_CORP.CORP_REG_NBR": None,
    "INSD_DTL.INSD_CORP.INC_DT": None,
    "INSD_DTL.INSD_CORP.CORP_TYP_CD": None,
    "INSD_ADDR.ADDR_LN1": f"{ADDR}.line1",
    "INSD_ADDR.ADDR_LN2": f"{ADDR}.line2",
    "INSD_ADDR.CITY_NM": f"{ADDR}.city",
    "INSD_ADDR.ST_CD": f"{ADDR}.state",
    "INSD_ADDR.ZIP_CD": f"{ADDR}.postal_code",
    "INSD_ADDR.CNTRY_CD": f"{ADDR}.country",
    "AGT_CD": f"{PC}.agent_info.agent_id",
    "PREM_AMT": "rating_components.premium_amount",
    "PREM_FREQ_CD": "rating_components.premium_frequency",
    "BAL_DUE_AMT": "payments.outstanding_balance",
    "COV_CNT": None,
    "COVERAGES[].COV_CD": f"{COV}.coverage_type",
    "COVERAGES[].COV_LMT": f"{COV}.limits.per_occurrence",
    "COVERAGES[].COV_AGG_LMT": f"{COV}.limits.aggregate",
    "COVERAGES[].COV_DED": f"{COV}.deductibles.amount",
    "LST_RATE_DT": "rating_components.last_rated_date",
    "LST_UPD_TS": None,
}
_DATE = {"kind": "date", "format": "%Y%m%d"}
TRANSFORMS: dict[str, dict[str, Any]] = {
    "POL_STAT_CD": {"kind": "code", "table": pools.code_table("policy_master.status")},
    "LOB_CD": {"kind": "code", "table": pools.code_table("policy_master.policy_type")},
    "CARR_CD": {"kind": "code", "table": pools.code_table("policy_master.carrier")},
    "EFF_DT": _DATE,
    "EXPR_DT": _DATE,
    "ISS_DT": {"kind": "date", "format": "%Y%m%d", "storage": "binary integer"},
    "INSD_DTL.INSD_PERS.BIRTH_DT": _DATE,
    "INSD_ADDR.CNTRY_CD": {"kind": "code", "table": {"USA": "US"}},
    "PREM_AMT": {"kind": "decimal", "scale": 2, "storage": "comp-3"},
    "PREM_FREQ_CD": {"kind": "code", "table": pools.code_table("policy_master.frequency")},
    "BAL_DUE_AMT": {"kind": "decimal", "scale": 2, "storage": "zoned, overpunched sign"},
    "COVERAGES[].COV_CD": {
        "kind": "code",
        "table": pools.code_table("policy_master.coverage_type"),
    },
    "COVERAGES[].COV_LMT": {"kind": "decimal", "scale": 2, "storage": "comp-3"},
    "COVERAGES[].COV_AGG_LMT": {"kind": "decimal", "scale": 2, "storage": "comp-3"},
    "COVERAGES[].COV_DED": {"kind": "decimal", "scale": 2, "storage": "comp-3"},
    "LST_RATE_DT": _DATE,
}

_POOL = {
    "status": eb.pool_matrix(pools.CODES["policy_master.status"], 1),
    "lob": eb.pool_matrix(pools.CODES["policy_master.policy_type"], 3),
    "carrier": eb.pool_matrix(pools.CODES["policy_master.carrier"], 4),
    "freq": eb.pool_matrix(pools.CODES["policy_master.frequency"], 1),
    "cov": eb.pool_matrix([*pools.CODES["policy_master.coverage_type"], ""], 3),
    "first": eb.pool_matrix(pools.FIRST_NAMES, 15),
    "last": eb.pool_matrix(pools.LAST_NAMES, 20),
    "unit": eb.pool_matrix([*pools.UNITS, ""], 20),  # index -1 -> blank
    "city": eb.pool_matrix([c[0] for c in pools.CITIES], 20),
    "state": eb.pool_matrix([c[1] for c in pools.CITIES], 2),
    "corp_type": eb.pool_matrix(["LLC", "INC", "PTR"], 3),
}
_ZIP_PREFIX = np.array([int(c[2]) for c in pools.CITIES], dtype=np.int64)
_ASCII0 = np.uint8(0x30)


class PolicyMasterWriter(SystemWriter):
    """POLMAST.dat: RECFM=F, 320-byte cp037 records."""

    system = "policy_master"
    format = "cobol"
    description = "Mainframe P&C policy master: fixed-length EBCDIC (cp037) records"

    def define_sources(self) -> list[SourceDef]:
        ref = resources.files("evals.estate") / "copybooks" / COPYBOOK
        with resources.as_file(ref) as src:
            shutil.copyfile(src, self.dir / COPYBOOK)
        self._file: IO[bytes] = (self.dir / "POLMAST.dat").open("wb")
        self._expected = ExpectedWriter(self.out_dir / EXPECTED_FILES[SOURCE])
        return [
            SourceDef(
                name=SOURCE,
                path=f"{self.system}/POLMAST.dat",
                format="cobol",
                options={
                    "copybook": f"{self.system}/{COPYBOOK}",
                    "encoding": "cp037",
                    "record_format": "F",
                    "record_length": RECORD_LENGTH,
                },
                mapping=MAPPING,
                transforms=TRANSFORMS,
            )
        ]

    def extra_files(self) -> set[str]:
        return {f"{self.system}/{COPYBOOK}"}

    def write(self, chunk: PolicyChunk, log: ProblemLog) -> None:
        sub = np.nonzero(chunk.home == HOME_MASTER)[0]
        plan = plan_records(chunk.rng, len(sub), KINDS)
        r = sub[plan.rows]
        m = len(r)
        ids = chunk.ids(r)
        # Every second unknown code sits in the first coverage of the repeated group, not in the
        # status (no random draw: the estate's other files stay as they were).
        coded = np.nonzero(plan.mask(INCONSISTENT_CODE))[0]
        in_group = np.zeros(m, dtype=bool)
        in_group[coded[1::2]] = True
        fields = {k: v for k, v in PROBLEM_FIELDS.items() if k != INCONSISTENT_CODE}
        self.log_problems(log, SOURCE, plan, ids, fields)
        base_index = self.sources[SOURCE].records
        for mask, field in (
            (plan.mask(INCONSISTENT_CODE) & ~in_group, PROBLEM_FIELDS[INCONSISTENT_CODE]),
            (in_group, UNKNOWN_COVERAGE_FIELD),
        ):
            at = np.nonzero(mask)[0]
            log.add(
                SOURCE, base_index + at, [ids[i] for i in at.tolist()], INCONSISTENT_CODE, field
            )
        rec = np.full((m, RECORD_LENGTH), 0x40, dtype=np.uint8)
        written: dict[int, np.ndarray] = {}  # offset -> latin-1 matrix, for the expected values

        def text(offset: int, matrix: np.ndarray) -> None:
            rec[:, offset : offset + matrix.shape[1]] = eb.to_ebcdic(matrix)
            written[offset] = matrix

        text(0, eb.text_matrix(ids, 10))
        status = _POOL["status"][chunk.status[r]].copy()
        status[plan.mask(INCONSISTENT_CODE) & ~in_group] = ord("X")
        text(10, status)
        text(11, _POOL["lob"][chunk.policy_type[r]])
        text(14, _POOL["carrier"][chunk.carrier[r]])
        eff = ymd(chunk.eff_days[r])
        bad = plan.mask(INVALID_DATE)
        eff[bad] = eff[bad] // 10_000 * 10_000 + 1300 + eff[bad] % 100  # month 13
        rec[:, 18:26] = eb.ebcdic_unsigned(eff, 8)
        dates = {
            "EFF_DT": eff,
            "EXPR_DT": ymd(chunk.exp_days[r]),
            "ISS_DT": ymd(chunk.issue_days[r]),
        }
        rec[:, 26:34] = eb.ebcdic_unsigned(dates["EXPR_DT"], 8)
        rec[:, 34:38] = eb.binary_be(dates["ISS_DT"], 4, signed=False)
        company = chunk.is_company[r]
        text(38, np.where(company, ord("C"), ord("P")).astype(np.uint8)[:, None])
        names = chunk.names(r)
        for i in np.nonzero(plan.mask(MISSING))[0].tolist():
            names[i] = ""
        text(39, eb.text_matrix(names, 40))
        person = np.concatenate(
            [
                _POOL["first"][chunk.first[r]],
                _POOL["last"][chunk.last[r]],
                eb.digit_matrix(ymd(chunk.birth_days[r]), 8) + _ASCII0,
            ],
            axis=1,
        )
        corp = np.full((m, 43), 0x20, dtype=np.uint8)
        corp[:, 0:2] = np.frombuffer(b"CR", dtype=np.uint8)
        corp[:, 2:12] = eb.digit_matrix(chunk.number[r] * 7 + 1_000_000_000, 10) + _ASCII0
        corp[:, 12:20] = eb.digit_matrix(ymd(chunk.birth_days[r] + 9000), 8) + _ASCII0
        corp[:, 20:23] = _POOL["corp_type"][chunk.number[r] % 3]
        insured = np.where(company[:, None], corp, person)
        text(79, insured)
        text(122, eb.text_matrix(chunk.street_lines(r), 30))
        text(152, _POOL["unit"][chunk.unit[r]])
        city = chunk.city[r]
        text(172, _POOL["city"][city])
        text(192, _POOL["state"][city])
        text(194, eb.digit_matrix(_ZIP_PREFIX[city] * 100 + chunk.zip_suffix[r], 5) + _ASCII0)
        rec[:, 199:202] = eb.to_ebcdic(np.frombuffer(b"USA", dtype=np.uint8))
        agent = np.full((m, 6), ord("A"), dtype=np.uint8)
        agent[:, 1:] = eb.digit_matrix(chunk.agent[r] + 1, 5) + _ASCII0
        text(202, agent)
        premium = chunk.premium_cents[r].copy()
        oor = np.nonzero(plan.mask(OUT_OF_RANGE_PREMIUM))[0]
        premium[oor] = np.where(oor % 2 == 0, -premium[oor], 999_999_999)
        rec[:, 208:213] = eb.packed_decimal(premium, 9)
        text(213, _POOL["freq"][chunk.frequency[r]])
        rec[:, 214:223] = eb.ebcdic_zoned_signed(chunk.balance_cents[r], 9)
        count = chunk.cov_count[r]
        rec[:, 223:225] = eb.binary_be(count, 2, signed=True)
        coverages: list[dict[str, list[Any]]] = []
        for k in range(3):
            used = k < count
            base = 225 + 20 * k
            cov_type = np.where(used, chunk.cov_type[r, k], -1)
            limit = np.where(used, chunk.cov_limit_cents[r, k], 0)
            cov_codes = _POOL["cov"][cov_type]
            if k == 0:
                cov_codes[in_group] = np.frombuffer(UNKNOWN_COVERAGE_CODE, dtype=np.uint8)
            text(base, cov_codes)
            rec[:, base + 3 : base + 9] = eb.packed_decimal(limit, 11)
            rec[:, base + 9 : base + 15] = eb.packed_decimal(limit * 2, 11)
            deduct = np.where(used, chunk.cov_deduct_cents[r, k], 0)
            rec[:, base + 15 : base + 20] = eb.packed_decimal(deduct, 9)
            coverages.append(
                {
                    "COV_CD": texts(written[base]),
                    "COV_LMT": decimals(limit),
                    "COV_AGG_LMT": decimals(limit * 2),
                    "COV_DED": decimals(deduct),
                }
            )
        rated = ymd(chunk.rated_days[r])
        rec[:, 285:293] = eb.ebcdic_unsigned(rated, 8)
        stamp = ymd(chunk.rated_days[r] + 1) * 1_000_000 + 23_015 + chunk.number[r] % 1000
        rec[:, 293:307] = eb.ebcdic_unsigned(stamp, 14)
        self._file.write(rec.tobytes())
        expected = _expected_columns(
            written,
            insured,
            dates,
            premium,
            chunk.balance_cents[r],
            count,
            coverages,
            rated,
            stamp,
        )
        self.capture(SOURCE, self.sources[SOURCE].records, expected)
        self.sources[SOURCE].records += m
        self._expected.write(expected)

    def close(self) -> None:
        self._file.close()
        self._expected.close()


def _expected_columns(
    written: dict[int, np.ndarray],
    insured: np.ndarray,
    dates: dict[str, np.ndarray],
    premium: np.ndarray,
    balance: np.ndarray,
    count: np.ndarray,
    coverages: list[dict[str, list[Any]]],
    rated: np.ndarray,
    stamp: np.ndarray,
) -> dict[str, list[Any]]:
    """Decoded values of one chunk's records (see evals/estate/expected.py).

    ``insured`` is the 43-byte INSD-DTL area: both REDEFINES views are read from the same bytes.
    """
    slots = [
        [dict(zip(cov, values, strict=True)) for values in zip(*cov.values(), strict=True)]
        for cov in coverages
    ]
    return {
        "POL_NBR": texts(written[0]),
        "POL_STAT_CD": texts(written[10]),
        "LOB_CD": texts(written[11]),
        "CARR_CD": texts(written[14]),
        **{name: ints(values) for name, values in dates.items()},
        "INSD_TYP_CD": texts(written[38]),
        "INSD_NM": texts(written[39]),
        "INSD_DTL.INSD_PERS.FRST_NM": texts(insured[:, 0:15]),
        "INSD_DTL.INSD_PERS.LAST_NM": texts(insured[:, 15:35]),
        "INSD_DTL.INSD_PERS.BIRTH_DT": display_ints(insured[:, 35:43]),
        "INSD_DTL.INSD_CORP.CORP_REG_NBR": texts(insured[:, 0:12]),
        "INSD_DTL.INSD_CORP.INC_DT": display_ints(insured[:, 12:20]),
        "INSD_DTL.INSD_CORP.CORP_TYP_CD": texts(insured[:, 20:23]),
        "INSD_ADDR.ADDR_LN1": texts(written[122]),
        "INSD_ADDR.ADDR_LN2": texts(written[152]),
        "INSD_ADDR.CITY_NM": texts(written[172]),
        "INSD_ADDR.ST_CD": texts(written[192]),
        "INSD_ADDR.ZIP_CD": texts(written[194]),
        "INSD_ADDR.CNTRY_CD": ["USA"] * len(premium),
        "AGT_CD": texts(written[202]),
        "PREM_AMT": decimals(premium),
        "PREM_FREQ_CD": texts(written[213]),
        "BAL_DUE_AMT": decimals(balance),
        "COV_CNT": ints(count),
        # OCCURS 0 TO 3 DEPENDING ON COV-CNT: only the counted coverages are real.
        "COVERAGES": [
            list(row)[: max(0, min(int(n), 3))]
            for row, n in zip(zip(*slots, strict=True), count.tolist(), strict=True)
        ],
        "LST_RATE_DT": ints(rated),
        "LST_UPD_TS": [f"{v:014d}" for v in stamp.tolist()],
    }
