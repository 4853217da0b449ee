"""Whole policies of a small book that nothing in tools/assembly was tuned to, with its own
generator and its own truth: a mutual's members (``mb-000123``), their representatives, dues
keyed by the bare number (``123``) and contacts keyed upper-case without padding (``MB123``).
Injected: orphans, duplicate dues, payer names that disagree with the member file (conflicts),
unknown mode and medium codes. Every figure of the estate's acceptance holds here too."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.settings import Settings
from core.store import open_store
from evals.assembly_truth import normal, score_documents
from knowledge.canonical import arrow_to_records
from tools.assembly.output import assembled_batches, assembly_dir, side_table
from tools.assembly.run import run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly
from tools.canonical.repository import approve_mapping, create_mapping
from tools.content.ingest import ingest_file
from tools.content.sources import SourceRegistry

MEMBERS = 600
STATUS = {"IF": "active", "LA": "inactive", "CX": "cancelled"}
MODES = {"MO": "monthly", "QT": "quarterly", "YR": "annual"}
MEDIA = {"E": "email", "P": "phone", "L": "letter"}
NAMES = ["Ada Moreau", "Bo Lind", "Cai Rossi", "Dev Nair", "Eli Sato", "Fay Okafor", "Gus Berg"]


@dataclass
class Book:
    """What the generator wrote and the truth of it."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # clean members
    orphans: dict[str, int] = field(default_factory=dict)
    duplicates: set[tuple[str, int]] = field(default_factory=set)  # (source, record index)
    conflicts: set[str] = field(default_factory=set)  # member keys with a disagreeing payer
    unknown: dict[tuple[str, str], int] = field(default_factory=dict)


def _csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)


def make_book(folder: Path, seed: int) -> Book:  # noqa: PLR0915 - one generator, read top down
    rng = np.random.default_rng(seed)
    book = Book()
    reps = {f"R-{r:02d}": (f"Rep {r}", ["North", "South", "Coast"][r % 3]) for r in range(1, 41)}
    _csv(folder / "reps.csv", ["rep_id", "rep_name", "office"], [[k, *v] for k, v in reps.items()])
    dirty: set[int] = set()
    members = []
    truth: dict[int, dict[str, Any]] = {}
    for n in range(1, MEMBERS + 1):
        key, rep = f"mb-{n:06d}", f"R-{int(rng.integers(1, 41)):02d}"
        status = ["IF", "LA", "CX"][int(rng.integers(0, 3))]
        day, month, year = int(rng.integers(1, 29)), int(rng.integers(1, 13)), 2010 + n % 12
        name = NAMES[n % len(NAMES)]
        members.append([key, name, status, f"{day:02d}/{month:02d}/{year}", rep])
        truth[n] = {
            "policy_core": {
                "policy_id": key,
                "status": STATUS[status],
                "effective_date": f"{year}-{month:02d}-{day:02d}",
                "insured_party": {"name": name},
                "agent_info": {"agent_id": rep, "name": reps[rep][0], "agency": reps[rep][1]},
            }
        }
    _csv(folder / "members.csv", ["member_no", "holder_name", "state_cd", "joined", "rep"], members)
    dues: list[list[object]] = []
    book.orphans["dues"] = 0
    book.unknown[("dues", "mode")] = 0
    for n in range(1, MEMBERS + 1):
        mode = list(MODES)[n % 3]
        for line in range(1, int(rng.integers(1, 4)) + 1):
            ref, payer, code = n, truth[n]["policy_core"]["insured_party"]["name"], mode
            amount = f"{int(rng.integers(500, 90000)) / 100:.2f}"
            paid = f"2023{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"
            draw = rng.random()
            if draw < 0.01:
                ref = n + 80_000
                book.orphans["dues"] += 1
            elif draw < 0.02:
                code = "ZZ"
                book.unknown[("dues", "mode")] += 1
                dirty.add(n)
            elif draw < 0.05 and line == 1:
                payer = NAMES[(n + 3) % len(NAMES)]
                book.conflicts.add(f"mb-{n:06d}")
            row = [str(ref), f"DU{n}/{line}", paid, amount, payer, code]
            dues.append(row)
            if ref == n and code != "ZZ":
                item = {"payment_id": f"DU{n}/{line}", "payment_date": _iso(paid)}
                item["amount"] = Decimal(amount)
                payments = truth[n].setdefault("payments", {"billing_frequency": MODES[mode]})
                payments.setdefault("payment_history", []).append(item)
            if ref == n and rng.random() < 0.01:
                book.duplicates.add(("dues", len(dues)))
                dues.append(list(row))
                dirty.add(n)
    _csv(folder / "dues.csv", ["MemberRef", "due_id", "paid_on", "amount", "payer", "mode"], dues)
    book.orphans["contacts"] = 0
    book.unknown[("contacts", "medium")] = 0
    with (folder / "contacts.jsonl").open("w", encoding="utf-8") as f:
        serial = 0
        for n in range(1, MEMBERS + 1):
            for _ in range(int(rng.integers(0, 3))):
                serial += 1
                ref, medium = n, list(MEDIA)[serial % 3]
                draw = rng.random()
                if draw < 0.02:
                    ref = n + 60_000
                    book.orphans["contacts"] += 1
                elif draw < 0.03:
                    medium = "Q"
                    book.unknown[("contacts", "medium")] += 1
                    dirty.add(n)
                on = f"2024-{serial % 12 + 1:02d}-{serial % 27 + 1:02d}"
                cid = f"CT/{serial:06d}"
                body = {"member": f"MB{ref}", "contact_id": cid, "medium": medium, "on": on}
                f.write(json.dumps(body) + "\n")
                if ref == n and medium != "Q":
                    item = {"communication_id": cid, "channel": MEDIA[medium], "sent_date": on}
                    corr = truth[n].setdefault("correspondence", {})
                    corr.setdefault("communications", []).append(item)
    book.documents = {
        doc["policy_core"]["policy_id"]: normal(doc) for n, doc in truth.items() if n not in dirty
    }
    return book


def _iso(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"


def _code(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"kind": "code", "values": values, "case_insensitive": False}]


# The reviewer's mappings: what a person confirms for this book.
RULES: dict[str, list[dict[str, Any]]] = {
    "members": [
        {"source": "member_no", "target": "policy_core.policy_id"},
        {"source": "holder_name", "target": "policy_core.insured_party.name"},
        {"source": "state_cd", "target": "policy_core.status", "transform": _code(STATUS)},
        {
            "source": "joined",
            "target": "policy_core.effective_date",
            "transform": [{"kind": "date", "format": "DD/MM/YYYY"}],
        },
        {"source": "rep", "target": "policy_core.agent_info.agent_id"},
    ],
    "reps": [
        {"source": "rep_id", "target": "policy_core.agent_info.agent_id"},
        {"source": "rep_name", "target": "policy_core.agent_info.name"},
        {"source": "office", "target": "policy_core.agent_info.agency"},
    ],
    "dues": [
        {"source": "MemberRef", "target": "policy_core.policy_id"},
        {"source": "due_id", "target": "payments.payment_history[].payment_id"},
        {
            "source": "paid_on",
            "target": "payments.payment_history[].payment_date",
            "transform": [{"kind": "date", "format": "YYYYMMDD"}],
        },
        {"source": "amount", "target": "payments.payment_history[].amount"},
        {"source": "payer", "target": "policy_core.insured_party.name"},
        {"source": "mode", "target": "payments.billing_frequency", "transform": _code(MODES)},
    ],
    "contacts": [
        {"source": "member", "target": "policy_core.policy_id"},
        {"source": "contact_id", "target": "correspondence.communications[].communication_id"},
        {"source": "medium", "target": "correspondence.communications[].channel"},
        {
            "source": "on",
            "target": "correspondence.communications[].sent_date",
            "transform": [{"kind": "date", "format": "YYYY-MM-DD"}],
        },
    ],
}
RULES["contacts"][2]["transform"] = _code(MEDIA)


@pytest.mark.parametrize("seed", [31, 32])
def test_whole_policies_of_an_unseen_book(tmp_path: Path, seed: int) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    book = make_book(folder, seed)
    settings = Settings(home=tmp_path / "ws", embedding_provider="none")
    engine = open_store(settings)
    ids = {}
    for path in sorted(folder.iterdir()):
        fmt = "jsonl" if path.suffix == ".jsonl" else "csv"
        options = (
            {"encoding": "utf-8"}
            if fmt == "jsonl"
            else {"delimiter": ",", "header": True, "encoding": "utf-8"}
        )
        ids[path.stem] = ingest_file(
            engine, settings, path, fmt=fmt, options=options, name=path.stem
        ).source_id
    for name, rules in RULES.items():
        mapping = create_mapping(engine, ids[name], rules, tenant="default")
        if name == "members":
            approve_mapping(engine, mapping.mapping_id, tenant="default")
    draft = propose_assembly(engine, settings, ids["members"], None, tenant="default")
    kinds = {c.source_name: c.direction for c in draft.components}
    assert kinds == {"reps": "lookup", "dues": "child", "contacts": "child"}
    spec = approve_assembly(engine, draft.assembly_id, tenant="default")
    run = run_assembly(engine, settings, spec.assembly_id, tenant="default")
    assert run.policies == MEMBERS
    # orphans, per child
    orphans = {c.source: c.orphans for c in run.components if c.kind == "child"}
    assert orphans == book.orphans
    # duplicates, by record
    stage = assembly_dir(settings, "default", spec.assembly_id) / "stage"
    dups = pq.read_table(stage / "duplicates.parquet").to_pylist()
    assert {(d["source"], d["row"]) for d in dups} == book.duplicates
    # conflicts, by policy: the payer of the first due disagrees with the member file
    conflicts = side_table(settings, "default", spec.assembly_id, "conflicts")
    assert conflicts is not None
    found = set(conflicts.column("policy_id").to_pylist())
    assert found == book.conflicts
    assert set(conflicts.column("field").to_pylist()) == {"policy_core.insured_party.name"}
    # unknown codes, by source column, with their counts
    unknown = {
        (x.source_name, x.column): sum(v.count for v in x.values if v.canonical is None)
        for x in spec.crosswalks
    }
    assert {k: v for k, v in unknown.items() if v} == {k: v for k, v in book.unknown.items() if v}
    # documents of the clean members, every component and field
    docs = (
        d
        for b in assembled_batches(settings, "default", spec.assembly_id)
        for d in arrow_to_records(pa.Table.from_batches([b]))
    )
    score = score_documents(docs, book.documents)
    assert score.found == score.clean > 0.8 * MEMBERS
    assert score.equal / score.clean >= 0.995, score.differences
    assert len(SourceRegistry(engine, tenant="default").list()) == 4
