"""The estate manifest: what was generated, where, how many records and problems."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SourceEntry(BaseModel):
    """One ingestible source (a file, or one sheet / table of a file)."""

    name: str
    system: str
    path: str = Field(description="Relative to the estate directory.")
    format: str = Field(description="A data_mash.readers entry-point name.")
    options: dict[str, Any]
    records: int = Field(description="Records a reader yields (header rows excluded).")
    problems: dict[str, int] = Field(description="Injected problems by kind.")


class SystemEntry(BaseModel):
    """One legacy system of the estate."""

    name: str
    description: str
    format: str
    files: list[str]
    sources: list[str]
    problems: dict[str, int]


class EstateManifest(BaseModel):
    """Everything the demo, tests and evals need to know about a generated estate."""

    version: int = 1
    seed: int
    policies: int
    policies_by_system: dict[str, int] = Field(
        description="How the policies partition over the policy-level systems."
    )
    systems: list[SystemEntry]
    sources: list[SourceEntry]
    problems: dict[str, int] = Field(description="Injected problems by kind, all sources.")
    conflicts: dict[str, int] = Field(
        default_factory=dict,
        description="Injected cross-system conflicts by source (ground_truth/conflicts.jsonl).",
    )
    sources_config: str = "sources.yaml"
    ground_truth: dict[str, str] = Field(
        default_factory=lambda: {
            "mapping": "ground_truth/mapping.json",
            "transforms": "ground_truth/transforms.json",
            "problems": "ground_truth/problems.jsonl",
            "conflicts": "ground_truth/conflicts.jsonl",
            "relationships": "ground_truth/relationships.json",
            # the assembled document of every clean policy (see evals/estate/policy_truth.py)
            "policies": "ground_truth/policies.jsonl",
            "policies.summary": "ground_truth/policies_summary.json",
            # every decoded record of the mainframe sources (see evals/estate/expected.py)
            "expected.policy_master": "ground_truth/expected_policy_master.jsonl",
            "expected.endorsements": "ground_truth/expected_endorsements.jsonl",
        }
    )

    def source(self, name: str) -> SourceEntry:
        """The source called ``name``; KeyError if there is none."""
        for entry in self.sources:
            if entry.name == name:
                return entry
        raise KeyError(name)
