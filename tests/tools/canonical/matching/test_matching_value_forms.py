"""Values lead for coded columns in generic mode (issue 20): value forms are normalised before
overlap, a standard's sparse enumeration is profiled whole, and value words count."""

from __future__ import annotations

import pyarrow as pa

from tools.canonical.matching.generic import rank_targets
from tools.canonical.matching.values import profile, value_key

N = 60


def test_value_forms_share_one_key() -> None:
    assert value_key("pN0") == value_key("N0") == "n0"
    assert value_key("cM1") == value_key("M1")
    assert value_key("pT1a (FIGO IA)") == value_key("T1a")
    assert value_key("Stage IIA") == value_key("stage-iia")
    assert value_key("Résilié") == value_key("RESILIE")
    assert value_key("Name") == "name"  # a capitalised word keeps its first letter


def test_a_sparse_enumeration_is_profiled_whole() -> None:
    # a standard lists its permissible values down an otherwise empty column
    stages = [f"Stage {s}" for s in ("0", "I", "IA", "IB", "II", "IIA", "IIB", "III", "IV")]
    column = pa.array(stages + [None] * 4000)
    assert {value_key(s) for s in stages} <= profile(column).distinct


def _target() -> dict[str, pa.Array | None]:
    rows = 40
    return {
        "lymph_nodes_tested": None,  # a count: the standard lists no values
        "pathologic_n": pa.array(["N0", "N1", "N1a", "N2", "NX", "Unknown"] + [None] * (rows - 6)),
        "site_of_resection": pa.array(
            ["Head of pancreas", "Body of pancreas", "Tail of pancreas", "Upper lobe, lung"]
            + [None] * (rows - 4)
        ),
        "tumor_depth": None,
        "gender": pa.array(["female", "male", "unknown"] + [None] * (rows - 3)),
    }


def _source() -> dict[str, pa.Array]:
    return {
        "Path_Stage_Reg_Lymph_Nodes_pN": pa.array(["pN0", "pN1", "pNX", "pN2"] * (N // 4)),
        "tumor_site": pa.array(["head", "tail", "body", "head"] * (N // 4)),
        "sex": pa.array(["Female", "Male"] * (N // 2)),
    }


def test_coded_values_lead_over_names() -> None:
    result = rank_targets(_source(), _target())
    assert result.rankings["Path_Stage_Reg_Lymph_Nodes_pN"][0].target == "pathologic_n"
    assert result.rankings["tumor_site"][0].target == "site_of_resection"
    assert result.rankings["sex"][0].target == "gender"
