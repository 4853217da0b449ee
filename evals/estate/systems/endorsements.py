"""System 8: endorsements, variable-length EBCDIC records with RDWs (ENDORSE.cpy, ODO)."""

from __future__ import annotations

import shutil
from importlib import resources
from typing import IO, Any

import numpy as np

from evals.estate import ebcdic as eb
from evals.estate import pools
from evals.estate.expected import EXPECTED_FILES, ExpectedWriter, decimals, ints, texts
from evals.estate.problems import (
    DUPLICATE,
    INCONSISTENT_CODE,
    INVALID_DATE,
    MISSING,
    ORPHAN_REFERENCE,
    ProblemLog,
)
from evals.estate.systems.base import SourceDef, SystemWriter
from evals.estate.universe import PolicyChunk, ymd

COPYBOOK = "ENDORSE.cpy"
SOURCE = "endorsements"
FIXED_PART = 53  # bytes before CHG-LINES
LINE_LENGTH = 48
MAX_LINES = 5
RDW_LENGTH = 4  # the RDW's length field counts these 4 bytes too (IBM convention)
KINDS = (MISSING, INVALID_DATE, DUPLICATE, INCONSISTENT_CODE, ORPHAN_REFERENCE)
PROBLEM_FIELDS = {
    MISSING: "ENDT_TYP_CD",
    INVALID_DATE: "ENDT_EFF_DT",
    DUPLICATE: "ENDT_NBR",
    INCONSISTENT_CODE: "ENDT_TYP_CD",
    ORPHAN_REFERENCE: "POL_NBR",
}
END = "endorsements[]"
MAPPING: dict[str, str | None] = {
    "ENDT_NBR": f"{END}.endorsement_id",
    "POL_NBR": "policy_core.policy_id",
    "ENDT_TYP_CD": f"{END}.endorsement_type",
    "ENDT_EFF_DT": f"{END}.effective_date",
    "ENDT_PREM_CHG": "endorsements[].premium_change",
    "PROC_TS": None,
    "CHG_CNT": None,
    "CHG_LINES[].CHG_FLD_CD": f"{END}.changes",
    "CHG_LINES[].CHG_OLD_VAL": f"{END}.changes",
    "CHG_LINES[].CHG_NEW_VAL": f"{END}.changes",
}
TRANSFORMS: dict[str, dict[str, Any]] = {
    "ENDT_TYP_CD": {"kind": "code", "table": pools.code_table("endorsements.type")},
    "ENDT_EFF_DT": {"kind": "date", "format": "%Y%m%d"},
    "ENDT_PREM_CHG": {"kind": "decimal", "scale": 2, "storage": "comp-3"},
}
_TYPES = eb.pool_matrix(pools.CODES["endorsements.type"], 2)
_FIELDS = eb.pool_matrix(pools.ENDORSE_FIELDS, 8)
_VALUES = eb.pool_matrix(
    [
        *pools.STREETS,
        "250000.00",
        "500000.00",
        "1000000.00",
        "ACTIVE",
        "CANCELLED",
        "500.00",
        "1000.00",
        "2019 FORD F150",
        "2022 HONDA CIVIC",
        "2021 TOYOTA RAV4",
    ],
    20,
)
_ASCII0 = np.uint8(0x30)


class EndorsementsWriter(SystemWriter):
    """ENDORSE.dat: RECFM=VB, big-endian RDW whose length includes the RDW itself."""

    system = "endorsements"
    format = "cobol"
    description = "Endorsement transaction log: variable-length EBCDIC records with RDWs"

    def define_sources(self) -> list[SourceDef]:
        ref = resources.files("evals.estate") / "copybooks" / COPYBOOK
        with resources.as_file(ref) as src:
            shutil.copyfile(src, self.dir / COPYBOOK)
        self._file: IO[bytes] = (self.dir / "ENDORSE.dat").open("wb")
        self._expected = ExpectedWriter(self.out_dir / EXPECTED_FILES[SOURCE])
        return [
            SourceDef(
                name=SOURCE,
                path=f"{self.system}/ENDORSE.dat",
                format="cobol",
                options={
                    "copybook": f"{self.system}/{COPYBOOK}",
                    "encoding": "cp037",
                    "record_format": "V",
                    "rdw_big_endian": True,
                    # RDW lengths include the 4 header bytes: data length = RDW length - 4.
                    "rdw_adjustment": -RDW_LENGTH,
                },
                mapping=MAPPING,
                transforms=TRANSFORMS,
            )
        ]

    def extra_files(self) -> set[str]:
        return {f"{self.system}/{COPYBOOK}"}

    def write(self, chunk: PolicyChunk, log: ProblemLog) -> None:
        child = self.child_rows(
            chunk,
            chunk.endorsements,
            log,
            source=SOURCE,
            kinds=KINDS,
            problem_fields=PROBLEM_FIELDS,
        )
        plan, r, seq, ids, m = child.plan, child.rows, child.seq, child.ids, len(child)
        if m == 0:
            return
        rng = chunk.rng
        lines = rng.integers(1, MAX_LINES + 1, size=m)
        data_len = FIXED_PART + LINE_LENGTH * lines
        width = RDW_LENGTH + FIXED_PART + LINE_LENGTH * MAX_LINES
        rec = np.full((m, width), 0x40, dtype=np.uint8)
        rec[:, 0:2] = eb.binary_be(data_len + RDW_LENGTH, 2, signed=False)
        rec[:, 2:4] = 0
        d = RDW_LENGTH  # record data starts after the RDW

        written: dict[int, np.ndarray] = {}  # offset -> latin-1 matrix, for the expected values

        def text(offset: int, matrix: np.ndarray) -> None:
            rec[:, d + offset : d + offset + matrix.shape[1]] = eb.to_ebcdic(matrix)
            written[offset] = matrix

        endt = np.full((m, 12), ord("E"), dtype=np.uint8)
        endt[:, 1:10] = eb.digit_matrix(chunk.number[r], 9) + _ASCII0
        endt[:, 10:12] = eb.digit_matrix(seq, 2) + _ASCII0
        text(0, endt)
        text(12, eb.text_matrix(ids, 10))
        typ = _TYPES[rng.integers(0, len(pools.ENDORSEMENT_TYPES), size=m)].copy()
        typ[plan.mask(MISSING)] = ord(" ")
        typ[plan.mask(INCONSISTENT_CODE)] = ord("Z")
        text(22, typ)
        eff = ymd(chunk.eff_days[r] + rng.integers(10, 170, size=m))
        bad = plan.mask(INVALID_DATE)
        eff[bad] = eff[bad] // 100 * 100 + 32  # day 32
        rec[:, d + 24 : d + 32] = eb.ebcdic_unsigned(eff, 8)
        prem = rng.integers(-20_000, 60_000, size=m)
        rec[:, d + 32 : d + 37] = eb.packed_decimal(prem, 9)
        stamp = ymd(chunk.eff_days[r] + 200) * 1_000_000 + 21_500
        text(37, eb.digit_matrix(stamp, 14) + _ASCII0)
        rec[:, d + 51 : d + 53] = eb.binary_be(lines, 2, signed=True)
        for k in range(MAX_LINES):
            base = FIXED_PART + LINE_LENGTH * k
            text(base, _FIELDS[rng.integers(0, len(pools.ENDORSE_FIELDS), size=m)])
            text(base + 8, _VALUES[rng.integers(0, len(_VALUES), size=m)])
            text(base + 28, _VALUES[rng.integers(0, len(_VALUES), size=m)])
        keep = np.arange(width) < (data_len + RDW_LENGTH)[:, None]
        self._file.write(rec[keep].tobytes())
        expected = _expected_columns(written, eff, prem, lines)
        self.capture(SOURCE, self.sources[SOURCE].records, expected)
        self.sources[SOURCE].records += m
        self._expected.write(expected)

    def close(self) -> None:
        self._file.close()
        self._expected.close()


def _expected_columns(
    written: dict[int, np.ndarray], eff: np.ndarray, prem: np.ndarray, lines: np.ndarray
) -> dict[str, list[Any]]:
    """Decoded values of one chunk's records; CHG_LINES holds only the CHG_CNT counted lines."""
    slots = []
    for k in range(MAX_LINES):
        base = FIXED_PART + LINE_LENGTH * k
        slots.append(
            [
                {"CHG_FLD_CD": f, "CHG_OLD_VAL": o, "CHG_NEW_VAL": n}
                for f, o, n in zip(
                    texts(written[base]),
                    texts(written[base + 8]),
                    texts(written[base + 28]),
                    strict=True,
                )
            ]
        )
    counts = ints(lines)
    per_record = zip(*slots, strict=True)
    return {
        "ENDT_NBR": texts(written[0]),
        "POL_NBR": texts(written[12]),
        "ENDT_TYP_CD": texts(written[22]),
        "ENDT_EFF_DT": ints(eff),
        "ENDT_PREM_CHG": decimals(prem),
        "PROC_TS": texts(written[37]),
        "CHG_CNT": counts,
        "CHG_LINES": [list(row[:c]) for row, c in zip(per_record, counts, strict=True)],
    }
