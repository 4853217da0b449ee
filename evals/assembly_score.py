"""Assemble every policy of a generated estate and score the result against its ground truth.

One assembly per home system (the policy master, the agency book, the life system and the
acquired company each hold one row per policy of theirs), every source mapped by the reviewed
ground-truth mapping (:mod:`evals.assembly_truth`). Scored, with recall and excess against the
generator's logs:

- orphans per child key (``relationships.json``), duplicates per source and record
  (``problems.jsonl``), cross-system conflicts per policy and field (``conflicts.jsonl``),
  unknown codes per source column (``inconsistent_code`` problems);
- the share of clean policies whose assembled document equals the true one the generator
  wrote (``ground_truth/policies.jsonl``), every component and every field.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from core.settings import Settings
from evals.assembly_truth import (
    ROOTS,
    DocumentScore,
    install_reviewed_mappings,
    load_policy_truth,
    score_documents,
)
from evals.estate.keys import number_of
from evals.estate.problems import DUPLICATE, INCONSISTENT_CODE
from knowledge.canonical import arrow_to_records
from tools.assembly.contracts import AssemblyRunResult, AssemblySpec
from tools.assembly.output import assembled_batches, assembly_dir, side_table
from tools.assembly.run import run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly


@dataclass
class Tally:
    """Found against injected: recall and excess."""

    injected: int = 0
    found: int = 0
    hits: int = 0
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.hits / self.injected if self.injected else None

    @property
    def excess(self) -> int:
        return self.found - self.hits

    def sets(self, want: set[Any], got: set[Any]) -> Tally:
        self.injected += len(want)
        self.found += len(got)
        self.hits += len(want & got)
        self.missed += [str(x) for x in sorted(want - got, key=str)[:5]]
        self.extra += [str(x) for x in sorted(got - want, key=str)[:5]]
        return self

    def counts(self, label: str, want: int, got: int) -> Tally:
        self.injected += want
        self.found += got
        self.hits += min(want, got)
        if got < want:
            self.missed.append(f"{label}: {want - got}")
        if got > want:
            self.extra.append(f"{label}: {got - want}")
        return self


@dataclass
class EstateAssembly:
    """The assemblies of an estate and how they score."""

    specs: dict[str, AssemblySpec]
    runs: dict[str, AssemblyRunResult]
    documents: dict[str, DocumentScore]
    orphans: Tally
    duplicates: Tally
    conflicts: Tally
    unknown_codes: Tally
    unexplained: int  # fields two systems disagree on that no conflict log explains

    @property
    def clean(self) -> int:
        return sum(d.clean for d in self.documents.values())

    @property
    def equal(self) -> int:
        return sum(d.equal for d in self.documents.values())

    @property
    def equal_share(self) -> float | None:
        return self.equal / self.clean if self.clean else None


def _problems(estate: Path) -> list[dict[str, Any]]:
    path = estate / "ground_truth" / "problems.jsonl"
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def assemble_estate(
    engine: Engine, settings: Settings, estate: Path, ids: dict[str, str], *, tenant: str
) -> EstateAssembly:
    """Map, assemble and score every home system's policies (see the module docstring).

    Args:
        ids: source name -> source id of every ingested estate source.
    """

    install_reviewed_mappings(engine, estate, tenant=tenant)
    # the generator's true document of every clean policy (ground_truth/policies.jsonl)
    truth = load_policy_truth(estate)
    specs, runs, documents = {}, {}, {}
    found_dups: set[tuple[str, int]] = set()
    found_conflicts: set[tuple[int | None, str]] = set()
    for root in ROOTS:
        if root not in ids:
            continue
        draft = propose_assembly(engine, settings, ids[root], None, tenant=tenant)
        spec = approve_assembly(engine, draft.assembly_id, tenant=tenant)
        run = run_assembly(engine, settings, spec.assembly_id, tenant=tenant)
        specs[root], runs[root] = spec, run
        docs = (
            doc
            for batch in assembled_batches(settings, tenant, spec.assembly_id)
            for doc in arrow_to_records(pa.Table.from_batches([batch]))
        )
        documents[root] = score_documents(docs, truth.documents.get(root, {}))
        stage = assembly_dir(settings, tenant, spec.assembly_id) / "stage"
        dups = pq.read_table(stage / "duplicates.parquet", columns=["source", "row"])
        found_dups |= set(
            zip(dups.column("source").to_pylist(), dups.column("row").to_pylist(), strict=True)
        )
        conflicts = side_table(settings, tenant, spec.assembly_id, "conflicts")
        if conflicts is not None:
            found_conflicts |= {
                (number_of(p), f)
                for p, f in zip(
                    conflicts.column("policy_id").to_pylist(),
                    conflicts.column("field").to_pylist(),
                    strict=True,
                )
            }
    problems = _problems(estate)
    truth_rel = json.loads((estate / "ground_truth" / "relationships.json").read_text("utf-8"))
    orphans = Tally()
    for child, want in sorted(truth_rel["orphans"].items()):
        reported = [
            c.orphans
            for run in runs.values()
            for c in run.components
            if c.source == child and c.kind == "child"
        ]
        orphans.counts(child, want["count"], max(reported, default=0))
    duplicates = Tally().sets(
        {(p["source"], int(p["record_index"])) for p in problems if p["kind"] == DUPLICATE},
        found_dups,
    )
    conflict_truth = set()
    with (estate / "ground_truth" / "conflicts.jsonl").open(encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            conflict_truth.add((number_of(c["policy_id"]), c["canonical"]))
    conflicts = Tally().sets(conflict_truth, found_conflicts)
    injected = Counter(
        (p["source"], p["field"]) for p in problems if p["kind"] == INCONSISTENT_CODE
    )
    reported: dict[tuple[str, str], int] = {}
    for spec in specs.values():
        for xw in spec.crosswalks:
            reported[(xw.source_name, xw.column)] = sum(
                v.count for v in xw.values if v.canonical is None
            )
    unknown = Tally()
    for key in sorted(set(injected) | set(reported)):
        unknown.counts(".".join(key), injected.get(key, 0), reported.get(key, 0))
    return EstateAssembly(
        specs,
        runs,
        documents,
        orphans,
        duplicates,
        conflicts,
        unknown,
        len(truth.unexplained),
    )
