"""What a suite returns, and the configuration every suite receives.

A suite is a module ``evals/suites/<name>.py`` with ``run(config) -> SuiteResult``. It reports
``status="unavailable"`` with the reason when the capability it measures is not installed (the
ImportError of the module it needs), and never invents figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from core.settings import Settings


class SuiteStatus(StrEnum):
    """How a suite (or, ``PARTIAL``, a run of several) ended."""

    OK = "ok"
    UNAVAILABLE = "unavailable"  # the capability it measures is not installed
    ERROR = "error"
    PARTIAL = "partial"  # a run of several suites, not all of them ok


class CaseStatus(StrEnum):
    """The verdict on one case of a suite."""

    PASS = "pass"
    FAIL = "fail"
    EXPECTED_FAILURE = "expected_failure"  # a known gap (cobrix variants we do not support)
    UNEXPECTED_PASS = "unexpected_pass"
    ERROR = "error"
    UNAVAILABLE = "unavailable"

    @classmethod
    def of(cls, ok: bool) -> CaseStatus:
        """``PASS`` or ``FAIL``."""
        return cls.PASS if ok else cls.FAIL


Direction = Literal["higher", "lower"]

DEFAULT_CORPUS_ROOT = Path("/work/shared/corpus")


@dataclass
class EvalConfig:
    """Everything a suite may need; built once by the CLI (or a test) and passed down."""

    home: Path
    """The workspace (``DATA_MASH_HOME``): estates are cached and stores live under it."""
    policies: int = 1000
    seed: int = 7
    cobrix_corpus: Path = DEFAULT_CORPUS_ROOT / "cobrix"
    schema_corpus: Path = DEFAULT_CORPUS_ROOT / "schema_matching"
    journeys: Path | None = None
    """A journey script or a folder of them (default: the scripts shipped in evals/journeys)."""
    cobrix_cases: list[str] | None = None
    """Only these cobrix case ids (``t01-test1``); None runs them all."""
    public_cases: int | None = None
    """At most this many public schema-matching cases per benchmark (None: all)."""
    semantic: bool = False
    """Use the local MiniLM embedder in the mapping suite (slower; off by default)."""
    perf_benchmarks: list[str] | None = None
    """Only these perf benchmarks (None: all)."""
    progress: Any = None
    """Optional ``progress(label, done, total)`` callback."""
    settings: Any = None
    """``core.settings.Settings`` of the run (default: read from the environment with ``home``)."""

    def get_settings(self) -> Any:
        """The run's Settings (the store and staging of the workspace ``home``)."""
        if self.settings is None:
            self.settings = Settings(home=self.home)
        return self.settings

    def note(self, label: str, done: int = 0, total: int = 1) -> None:
        """Report progress when a callback is set."""
        if self.progress is not None:
            self.progress(label, done, total)


@dataclass
class SuiteResult:
    """The outcome of one suite: figures, per-case rows, baselines and chart data."""

    suite: str
    status: SuiteStatus = SuiteStatus.OK
    reason: str | None = None
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    """Flat dotted names (``cobrix.pass_rate``) -> number. Thresholds and comparisons use them."""
    directions: dict[str, Direction] = field(default_factory=dict)
    """Which way is better per metric; absent means higher is better."""
    cases: list[dict[str, Any]] = field(default_factory=list)
    """One row per case (``id``, ``group``, ``status``, details...)."""
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Baseline name -> ``{"metrics": {...}, "status", "reason"}``, run in the same run."""
    charts: dict[str, Any] = field(default_factory=dict)
    """Chart data: ``calibration`` (buckets per matcher), ``perf`` (figure vs baseline rows)."""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def unavailable(cls, suite: str, reason: str) -> SuiteResult:
        """A suite whose capability is missing: no figures, only why."""
        return cls(suite=suite, status=SuiteStatus.UNAVAILABLE, reason=reason)

    def lower_is_better(self, *names: str) -> None:
        """Mark metrics where a smaller number is the better one (seconds, errors, ECE)."""
        for name in names:
            self.directions[name] = "lower"

    def direction(self, name: str) -> Direction:
        """``higher`` unless the suite said otherwise."""
        return self.directions.get(name, "higher")


def missing_capability(exc: ImportError) -> str:
    """The one-line reason a suite is unavailable, naming the module it needs."""
    name = getattr(exc, "name", None)
    return (
        f"capability not installed: {exc}"
        if not name
        else (f"capability not installed: module '{name}' is missing ({exc})")
    )
