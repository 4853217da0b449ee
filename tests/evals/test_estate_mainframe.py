"""EBCDIC encodings, decoded by an independent decoder, and the RDW file's structure."""

from __future__ import annotations

import csv
import struct
from datetime import datetime
from pathlib import Path

import numpy as np
from estate_readers import read_source, unpack_comp3, unpack_zoned, walk_rdw

from evals.estate import EstateManifest
from evals.estate import ebcdic as eb


def test_packed_zoned_and_binary_encoders_on_known_values() -> None:
    values = np.array([12345, -12345, 0], dtype=np.int64)
    packed = eb.packed_decimal(values, 9)
    assert bytes(packed[0]) == bytes.fromhex("000012345C")
    assert bytes(packed[1]) == bytes.fromhex("000012345D")
    assert bytes(packed[2]) == bytes.fromhex("000000000C")
    assert bytes(eb.packed_decimal(np.array([1]), 11)[0]) == bytes.fromhex("00000000001C")
    zoned = eb.ebcdic_zoned_signed(values, 9)
    assert bytes(zoned[0]) == bytes.fromhex("F0F0F0F0F1F2F3F4C5")  # 'E' overpunch = +5
    assert bytes(zoned[1]) == bytes.fromhex("F0F0F0F0F1F2F3F4D5")  # 'N' overpunch = -5
    assert bytes(zoned[0]).decode("cp037") == "00001234E"
    assert bytes(eb.binary_be(np.array([-2]), 2, signed=True)[0]) == b"\xff\xfe"
    assert bytes(eb.binary_be(np.array([20240131]), 4, signed=False)[0]) == struct.pack(
        ">I", 20240131
    )
    text = eb.to_ebcdic(eb.text_matrix(["Müller"], 8))
    assert bytes(text[0]).decode("cp037") == "Müller  "
    assert unpack_comp3(bytes(packed[1]), 2) == -123.45
    assert unpack_zoned(bytes(zoned[1]), 2) == -123.45


def _by_id(rows: list[dict], column: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for row in rows:
        out.setdefault(row[column], row)  # first occurrence; duplicates come later
    return out


def test_policy_master_fields_decode_and_agree_with_billing(
    estate: tuple[Path, EstateManifest], source_configs: list[dict]
) -> None:
    root, manifest = estate
    configs = {c["name"]: c for c in source_configs}
    master = read_source(root, configs["policy_master"])
    billing = _by_id(read_source(root, configs["billing"]), "PolicyNo")
    assert len(master) == manifest.source("policy_master").records
    compared = negative = 0
    for rec in master:
        assert rec["POL_NBR"].startswith("P") and len(rec["POL_NBR"]) == 10
        assert 1 <= rec["COV_CNT"] <= 3
        issued = datetime.strptime(rec["ISS_DT"], "%Y%m%d")
        assert issued.year >= 2013
        for k, cov in enumerate(rec["COVERAGES"]):
            if k < rec["COV_CNT"]:
                assert cov["COV_CD"] and cov["COV_LMT"] > 0 and cov["COV_DED"] > 0
                assert cov["COV_AGG_LMT"] == 2 * cov["COV_LMT"]
            else:
                assert cov == {"COV_CD": "", "COV_LMT": 0, "COV_AGG_LMT": 0, "COV_DED": 0}
        if rec["INSD_TYP_CD"] == "P" and rec["INSD_NM"]:
            assert rec["INSD_NM"].endswith(rec["INSD_DTL.INSD_PERS.LAST_NM"])
        bill = billing.get(str(int(rec["POL_NBR"][1:])))  # billing writes the bare number
        if bill is None:
            continue
        # The zoned balance (sign overpunched) equals billing's comma-decimal balance.
        assert rec["BAL_DUE_AMT"] == float(bill["OutstandingBal"].replace(",", "."))
        negative += rec["BAL_DUE_AMT"] < 0
        if rec["INSD_NM"]:
            assert rec["INSD_NM"] == bill["PayorName"]
        compared += 1
    assert compared > 200 and negative > 0


def test_rdw_lengths_walk_the_endorsement_file_to_eof(
    estate: tuple[Path, EstateManifest],
) -> None:
    root, manifest = estate
    path = root / "endorsements" / "ENDORSE.dat"
    records = walk_rdw(path)  # asserts the walk lands exactly on EOF
    assert len(records) == manifest.source("endorsements").records
    assert sum(len(r) + 4 for r in records) == path.stat().st_size
    counts = set()
    for rec in records:
        (count,) = struct.unpack(">h", rec[51:53])
        assert 1 <= count <= 5 and len(rec) == 53 + 48 * count
        counts.add(count)
        assert rec[0:1].decode("cp037") == "E"
        unpack_comp3(rec[32:37], 2)  # valid packed decimal
    assert counts == {1, 2, 3, 4, 5}


def test_billing_is_semicolon_latin1_with_comma_decimals(
    estate: tuple[Path, EstateManifest],
) -> None:
    root, _ = estate
    with (root / "billing" / "billing.csv").open(encoding="latin-1", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[0][:5] == ["PolicyNo", "BillPlan", "Freq", "InstallmentAmt", "OutstandingBal"]
    assert all("," in row[4] and "." not in row[4] for row in rows[1:])
