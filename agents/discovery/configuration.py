"""What a discovery journey starts from, and its tunables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

import knowledge.rules

DEFAULT_RULES = Path(knowledge.rules.__file__).resolve().parent / "example_rules.yaml"


class SourceInput(BaseModel):
    """One legacy file to ingest (the same fields as an entry of a source config)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    format: str
    options: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None
    system: str | None = None


class DiscoveryInputs(BaseModel):
    """Legacy files (or a source config), which source to map, and the rule set to propose."""

    model_config = ConfigDict(extra="forbid")

    files: list[SourceInput] = Field(default_factory=list)
    source_config: str | None = Field(None, description="A source config YAML instead of files.")
    source: str | None = Field(None, description="Name of the source to map (asked if several).")
    canonical: str = "policy_v1"
    rules: str = Field(str(DEFAULT_RULES), description="Routing rule set YAML to propose.")
    rule_set_name: str = "discovery_rules"
    export_formats: list[str] = Field(default_factory=lambda: ["json", "yaml"])
    review_threshold: float = Field(
        0.7, ge=0, le=1, description="Fields below this confidence are flagged."
    )

    @model_validator(mode="after")
    def _something_to_ingest(self) -> DiscoveryInputs:
        if not self.files and not self.source_config:
            raise ValueError("give 'files' (path, format, options) or 'source_config'")
        return self
