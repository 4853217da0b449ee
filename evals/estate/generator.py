"""Generates the sample estate: eight legacy systems, ground truth and a manifest."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from core.errors import InputError
from evals.estate.model import EstateManifest, SourceEntry, SystemEntry
from evals.estate.policy_truth import PolicyTruthWriter
from evals.estate.problems import ProblemLog
from evals.estate.relationships import relationship_truth
from evals.estate.systems.acquired import AcquiredWriter
from evals.estate.systems.agency import AgencyWriter
from evals.estate.systems.base import SystemWriter
from evals.estate.systems.billing import BillingWriter
from evals.estate.systems.claims import ClaimsWriter
from evals.estate.systems.correspondence import CorrespondenceWriter
from evals.estate.systems.endorsements import EndorsementsWriter
from evals.estate.systems.life import LifeWriter
from evals.estate.systems.policy_master import PolicyMasterWriter
from evals.estate.universe import CHUNK_POLICIES, HOME_SYSTEMS, make_chunk

Progress = Callable[[str, int, int], None]
MANIFEST_FILE = "estate.json"


def _writers(out_dir: Path, seed: int) -> list[SystemWriter]:
    # The order is part of the format: writers draw from the chunk generator in turn.
    return [
        PolicyMasterWriter(out_dir),
        BillingWriter(out_dir),
        ClaimsWriter(out_dir),
        AgencyWriter(out_dir, seed),
        CorrespondenceWriter(out_dir),
        LifeWriter(out_dir),
        AcquiredWriter(out_dir),
        EndorsementsWriter(out_dir),
    ]


def generate_estate(
    out_dir: Path,
    *,
    policies: int = 5000,
    seed: int = 7,
    progress: Progress | None = None,
    policy_truth: bool = True,
) -> EstateManifest:
    """Write a synthetic legacy estate of ``policies`` policies into ``out_dir``.

    The same seed and size give byte-identical files. Policies are generated and written in
    chunks of :data:`CHUNK_POLICIES`, so memory stays flat at any size.

    Args:
        out_dir: Directory to write into (created; existing estate files are overwritten).
        policies: Number of policies, partitioned over the four policy-level systems.
        seed: Random seed.
        progress: Called as ``progress(stage, done, total)`` after each chunk.
        policy_truth: Also write the assembled document of every clean policy
            (``ground_truth/policies.jsonl``, what the assembly eval scores against). It costs
            about 4x the generation's CPU; the demo, which scores nothing, leaves it out.

    Returns:
        The manifest, also written as ``out_dir/estate.json``.

    Raises:
        InputError: if ``policies`` is not positive.
    """
    if policies < 1:
        raise InputError(
            f"policies must be at least 1, got {policies}",
            where="generate_estate(policies=...)",
            fix="pass a positive number of policies",
        )
    out_dir = Path(out_dir)
    (out_dir / "ground_truth").mkdir(parents=True, exist_ok=True)
    writers = _writers(out_dir, seed)
    log = ProblemLog(out_dir / "ground_truth" / "problems.jsonl")
    truth = None
    if policy_truth:
        truth = PolicyTruthWriter(
            out_dir,
            {s.name: s.mapping for w in writers for s in w.sources.values()},
            {s.name: s.transforms for w in writers for s in w.sources.values()},
        )
        for writer in writers:  # what a writer captured before the first chunk (the roster)
            truth.add_static(writer.take_captured())
    else:
        for writer in writers:
            writer.capturing = False
            writer.take_captured()
    homes = np.zeros(len(HOME_SYSTEMS), dtype=np.int64)
    try:
        for index, start in enumerate(range(0, policies, CHUNK_POLICIES)):
            chunk = make_chunk(seed, index, start, min(CHUNK_POLICIES, policies - start))
            homes += np.bincount(chunk.home, minlength=len(HOME_SYSTEMS))
            records: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            for writer in writers:
                writer.write(chunk, log)
                records.update(writer.take_captured())
            # every record of a policy is written within its chunk: join them now
            if truth is not None:
                truth.write_chunk(records, *log.take_chunk())
            else:
                log.take_chunk()
            if progress is not None:
                progress("generate", start + chunk.n, policies)
    finally:
        for writer in writers:
            writer.close()
        log.close()
        if truth is not None:
            truth.close()
    manifest = _manifest(writers, log, seed, policies, homes)
    if truth is None:
        for key in ("policies", "policies.summary"):
            del manifest.ground_truth[key]
    _write_ground_truth(out_dir, writers, manifest)
    links: Counter[tuple[str, str]] = Counter()
    for writer in writers:
        links.update(writer.links)
    _dump_json(
        out_dir / manifest.ground_truth["relationships"],
        relationship_truth(links, log.counts, log.conflicts),
    )
    if progress is not None:
        progress("finalize", 1, 1)
    return manifest


def _manifest(
    writers: list[SystemWriter],
    log: ProblemLog,
    seed: int,
    policies: int,
    homes: np.ndarray,
) -> EstateManifest:
    sources: list[SourceEntry] = []
    systems: list[SystemEntry] = []
    totals: Counter[str] = Counter()
    for writer in writers:
        system_problems: Counter[str] = Counter()
        for src in writer.sources.values():
            counts = dict(sorted(log.counts.get(src.name, Counter()).items()))
            system_problems.update(counts)
            sources.append(
                SourceEntry(
                    name=src.name,
                    system=writer.system,
                    path=src.path,
                    format=src.format,
                    options=src.options,
                    records=src.records,
                    problems=counts,
                )
            )
        totals.update(system_problems)
        systems.append(
            SystemEntry(
                name=writer.system,
                description=writer.description,
                format=writer.format,
                files=writer.files(),
                sources=list(writer.sources),
                problems=dict(sorted(system_problems.items())),
            )
        )
    return EstateManifest(
        seed=seed,
        policies=policies,
        policies_by_system=dict(zip(HOME_SYSTEMS, homes.tolist(), strict=True)),
        systems=systems,
        sources=sources,
        problems=dict(sorted(totals.items())),
        conflicts=dict(sorted(log.conflicts.items())),
    )


def _write_ground_truth(
    out_dir: Path, writers: list[SystemWriter], manifest: EstateManifest
) -> None:
    mapping = {s.name: s.mapping for w in writers for s in w.sources.values()}
    transforms = {s.name: s.transforms for w in writers for s in w.sources.values()}
    _dump_json(out_dir / "ground_truth" / "mapping.json", mapping)
    _dump_json(out_dir / "ground_truth" / "transforms.json", transforms)
    config = {
        "version": 1,
        "sources": [
            {
                "name": s.name,
                "system": s.system,
                "path": s.path,
                "format": s.format,
                "options": s.options,
            }
            for s in manifest.sources
        ],
    }
    with (out_dir / manifest.sources_config).open("w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False, allow_unicode=True)
    (out_dir / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\n", "utf-8")


def _dump_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_manifest(out_dir: Path) -> EstateManifest:
    """Read ``out_dir/estate.json``.

    Raises:
        InputError: if the directory holds no estate manifest.
    """
    path = Path(out_dir) / MANIFEST_FILE
    if not path.is_file():
        raise InputError("no estate manifest", where=str(path), fix="generate the estate first")
    return EstateManifest.model_validate_json(path.read_text("utf-8"))
