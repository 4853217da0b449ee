"""The demo journey on the sample estate: generate, ingest and profile, map, route, run wave 0.

Each step is a plain function over the store so the CLI (`data-mash demo`), the evals and the
tests run exactly the same journey. Steps that a capability does not provide yet report
``{"status": "not available"}`` rather than pretending.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from evals.estate import EstateManifest, generate_estate
from tools.errors import InputError
from tools.settings import Settings

StepProgress = Callable[[str, int, int], None]  # (step label, done, total)


def estate_dir(settings: Settings, policies: int, seed: int) -> Path:
    return settings.path("estates", f"seed{seed}-{policies}")


def estate_step(settings: Settings, *, policies: int, seed: int,
                progress: StepProgress | None = None) -> tuple[Path, EstateManifest]:
    """Generate (or reuse) the estate for this size and seed in the workspace."""
    if policies < 1:
        raise InputError(f"--policies must be at least 1, got {policies}",
                         fix="pass a positive number, e.g. --policies 5000")
    out = estate_dir(settings, policies, seed)
    manifest_file = out / "estate.json"
    if manifest_file.exists():
        from evals.estate import load_manifest

        return out, load_manifest(out)

    def forward(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(f"estate: {stage}", done, total)

    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    manifest = generate_estate(partial, policies=policies, seed=seed, progress=forward)
    partial.rename(out)  # a crashed generation never looks like a finished estate
    return out, manifest


def estate_summary(out: Path, manifest: EstateManifest) -> dict[str, Any]:
    systems = []
    for system in manifest.systems:
        records = sum(manifest.source(name).records for name in system.sources)
        systems.append({
            "system": system.name, "format": system.format, "files": system.files,
            "sources": system.sources, "records": records,
            "injected_problems": sum(system.problems.values()),
            "problems": system.problems,
        })
    return {"path": str(out), "seed": manifest.seed, "policies": manifest.policies,
            "systems": systems,
            "records": sum(s.records for s in manifest.sources),
            "injected_problems": sum(manifest.problems.values())}


def run_demo(engine: Engine | None, settings: Settings, *, policies: int, seed: int,
             progress: StepProgress | None = None) -> dict[str, Any]:
    """Run every available step and return the `data-mash demo --json` document."""
    out, manifest = estate_step(settings, policies=policies, seed=seed, progress=progress)
    not_yet = {"status": "not available"}
    return {"estate": estate_summary(out, manifest), "sources": not_yet, "mapping": not_yet,
            "routing": not_yet, "waves": not_yet, "reconciliation": not_yet}
