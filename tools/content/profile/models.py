"""Result models of the profiler (JSON-ready with ``model_dump(mode="json")``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ColumnType = Literal[
    "integer", "decimal", "date", "datetime", "boolean", "text", "code", "list", "empty"
]


class ValueCount(BaseModel):
    """A value and how often it occurs."""

    value: str
    count: int


class PatternCount(BaseModel):
    """A character-class pattern, its count and share of non-null values."""

    pattern: str
    count: int
    share: float


class IssueSample(BaseModel):
    """How many rows fail a check, and the keys of up to 20 of them."""

    count: int
    sample_keys: list[str] = Field(default_factory=list)


class ColumnProfile(BaseModel):
    """Everything the profiler learned about one column (see module docstring for definitions)."""

    name: str
    arrow_type: str
    type: ColumnType
    count: int
    null_count: int
    null_rate: float
    distinct: int
    distinct_exact: bool
    min: str | int | float | None = None
    max: str | int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    top_values: list[ValueCount] = Field(default_factory=list)
    pattern: str | None = None
    pattern_compressed: str | None = None
    patterns: list[PatternCount] = Field(default_factory=list)
    date_format: str | None = None
    invalid_dates: IssueSample | None = None
    type_shares: dict[str, float] = Field(default_factory=dict)
    is_key: bool = False
    completeness: float
    validity: float
    uniqueness: float | None = None
    quality: float


class SourceProfile(BaseModel):
    """The profile of one source: its columns, key checks and overall quality score."""

    records: int
    columns: list[ColumnProfile]
    key_columns: list[str] = Field(default_factory=list)
    duplicate_keys: IssueSample | None = None  # count = key values that occur more than once
    duplicate_rows: int = 0  # rows beyond the first of each duplicated key
    null_keys: int = 0
    key_uniqueness: float | None = None
    quality_score: float
