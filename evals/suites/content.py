"""Content suite: the cobrix conformance corpus and the estate's ground truth.

1. cobrix: every variant of the corpus decoded with CobolReader and compared with cobrix's golden
   rows (pass/fail with the first difference); variants we do not support are listed as expected
   failures with why; layouts compared with cobrix's layout tables.
2. estate: every source ingested and profiled through ``tools.content`` exactly as
   ``data-mash ingest`` does; record counts against the manifest, decoded policy-level values
   against the true values recomputed from the seed, and the profiler's findings against the
   injected problems, per kind (see evals/suites/content_estate.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.cobrix import run_layout, run_variant
from evals.cobrix_cases import LAYOUTS, VARIANTS, XFAIL
from evals.result import CaseStatus, EvalConfig, SuiteResult
from evals.suites.content_estate import estate_part


def run(config: EvalConfig) -> SuiteResult:
    """Run both parts."""
    result = SuiteResult(suite="content")
    cobrix_part(config, result)

    estate_part(config, result)
    result.lower_is_better(
        "cobrix.failed",
        "cobrix.unexpected_passes",
        "cobrix.layouts_failed",
        "estate.records_mismatched",
        "estate.decoded_value_mismatches",
    )
    return result


def cobrix_part(config: EvalConfig, result: SuiteResult) -> None:
    """Run the cobrix variants and layouts; a missing corpus is noted, not faked."""

    corpus = Path(config.cobrix_corpus)
    if not corpus.is_dir():
        result.notes.append(f"cobrix corpus not found at {corpus}: cobrix part skipped")
        return
    wanted = set(config.cobrix_cases) if config.cobrix_cases else None

    def chosen(case_id: str) -> bool:
        return wanted is None or case_id in wanted

    rows: list[dict[str, Any]] = []
    specs = [(v, None) for v in VARIANTS] + [(v[:-1], v[-1]) for v in XFAIL]
    specs = [(v, why) for v, why in specs if chosen(f"{v[0]}-{v[1]}")]
    for n, (spec, why) in enumerate(specs):
        config.note("content: cobrix", n, len(specs))
        rows.append({"group": "cobrix", **run_variant(spec, corpus, expected_failure=why)})
    layouts = [s for s in LAYOUTS if chosen(f"{s[0]}-{s[1]}")]
    for spec in layouts:
        rows.append({"group": "cobrix_layout", **run_layout(spec, corpus)})
    result.cases.extend(rows)
    variants = [r for r in rows if r["group"] == "cobrix"]
    supported = [r for r in variants if r["status"] in (CaseStatus.PASS, CaseStatus.FAIL)]
    passed = sum(r["status"] == CaseStatus.PASS for r in supported)
    layout_rows = [r for r in rows if r["group"] == "cobrix_layout"]
    layouts_passed = sum(r["status"] == CaseStatus.PASS for r in layout_rows)
    result.metrics.update(
        {
            "cobrix.variants": len(supported),
            "cobrix.passed": passed,
            "cobrix.failed": len(supported) - passed,
            "cobrix.pass_rate": passed / len(supported) if supported else None,
            "cobrix.expected_failures": sum(
                r["status"] == CaseStatus.EXPECTED_FAILURE for r in variants
            ),
            "cobrix.unexpected_passes": sum(
                r["status"] == CaseStatus.UNEXPECTED_PASS for r in variants
            ),
            "cobrix.layouts": len(layout_rows),
            "cobrix.layouts_failed": len(layout_rows) - layouts_passed,
            "cobrix.layout_pass_rate": layouts_passed / len(layout_rows) if layout_rows else None,
        }
    )
