"""What a migration journey starts from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MigrationInputs(BaseModel):
    """The mapped sources to migrate (or an existing plan), and where they go."""

    model_config = ConfigDict(extra="forbid")

    source_ids: list[str] = Field(default_factory=list)
    mapping_id: str | None = None
    rule_set: str | None = Field(None, description="Stored rule set: NAME or NAME@VERSION.")
    target: str = Field(
        "new_platform",
        description="Migration target: new_platform, "
        "legacy_batch, coexistence_bridge, data_quality_queue or a plugin.",
    )
    canonical: str = "policy_v1"

    @model_validator(mode="after")
    def _something_to_migrate(self) -> MigrationInputs:
        if not self.source_ids:
            raise ValueError("give 'source_ids': the mapped sources to migrate")
        return self
