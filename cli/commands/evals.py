"""``data-mash eval [SUITE]``: scripted eval runs with reports, baselines and thresholds."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.app import command_app
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from cli.progress import step_progress
from core.errors import InputError
from evals.compare import compare, describe, load_previous
from evals.contracts import EvalReport
from evals.journey_scripts import load_scripts
from evals.registry import check_suite_name, run_suites
from evals.report import build_document, report_dir, write_report
from evals.result import DEFAULT_CORPUS_ROOT, EvalConfig
from evals.thresholds import check as check_bounds
from evals.thresholds import describe_miss, load_thresholds

app = command_app()

CORPUS_ENV = "DATA_MASH_EVAL_CORPUS"


def resolve_corpus(path: Path | None) -> tuple[Path, Path]:
    """(cobrix folder, schema-matching folder) from --corpus or the environment.

    ``--corpus`` may be the corpus root holding ``cobrix/`` and ``schema_matching/``, or one of
    those folders itself (recognised by its contents).
    """

    given = path or (Path(os.environ[CORPUS_ENV]) if os.environ.get(CORPUS_ENV) else None)
    if given is None:
        return DEFAULT_CORPUS_ROOT / "cobrix", DEFAULT_CORPUS_ROOT / "schema_matching"
    option = "--corpus" if path else CORPUS_ENV
    if not given.exists():
        raise InputError(
            "corpus path does not exist",
            where=f"{option} {given}",
            fix="give the corpus root (holding cobrix/ and schema_matching/) "
            "or one of those folders",
        )
    if not given.is_dir():
        raise InputError(
            "corpus path is not a folder", where=f"{option} {given}", fix="give a folder"
        )
    if any(given.glob("t01_*")):
        return given, DEFAULT_CORPUS_ROOT / "schema_matching"
    if (given / "gdc").is_dir() or (given / "valentine_sampled").is_dir():
        return DEFAULT_CORPUS_ROOT / "cobrix", given
    return given / "cobrix", given / "schema_matching"


@app.command("eval")
def eval_command(
    ctx: typer.Context,
    suite: Annotated[
        str, typer.Argument(help="content, mapping, routing, journey, perf, assembly or all.")
    ] = "all",
    policies: Annotated[int, typer.Option(help="Policies in the sample estate.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the sample estate.")] = 7,
    corpus: Annotated[
        Path | None,
        typer.Option(
            help="Corpus root (holding cobrix/ and schema_matching/) or one of those folders.",
            show_default=False,
        ),
    ] = None,
    journeys: Annotated[
        Path | None,
        typer.Option(
            help="A journey script or a folder of them (default: the packaged scripts).",
            show_default=False,
        ),
    ] = None,
    against: Annotated[
        Path | None,
        typer.Option(
            help="An earlier report.json of the same suite: print what got better and worse.",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when a threshold is missed (for CI).")
    ] = False,
    thresholds: Annotated[
        Path | None,
        typer.Option(
            help="YAML overriding thresholds (layout of evals/thresholds.yaml).", show_default=False
        ),
    ] = None,
    semantic: Annotated[
        bool, typer.Option("--semantic", help="Mapping suite: also use the local MiniLM embedder.")
    ] = False,
    public_cases: Annotated[
        int | None,
        typer.Option(
            help="Mapping suite: at most N cases per public benchmark.", show_default=False
        ),
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Run eval suites on the sample estate and the public corpora; write reports.

    Reports (report.json, report.md, charts) go to DATA_MASH_HOME/evals/<suite>-<time>/.
    Example: data-mash eval content --policies 500 --check
    """

    state = state_for(ctx, json_out, tenant)
    # Every argument is checked before anything runs: one line, exit 1.
    check_suite_name(suite)
    if policies < 1:
        raise InputError(
            f"--policies must be at least 1, got {policies}",
            fix="pass a positive number, e.g. --policies 1000",
        )
    cobrix, schema = resolve_corpus(corpus)
    previous = load_previous(against, suite) if against else None
    bounds = load_thresholds(thresholds)
    if suite in ("journey", "all"):
        load_scripts(journeys)  # a malformed script fails here, with file and line
    config = EvalConfig(
        home=state.settings.home,
        policies=policies,
        seed=seed,
        cobrix_corpus=cobrix,
        schema_corpus=schema,
        journeys=journeys,
        public_cases=public_cases,
        semantic=semantic,
        settings=state.settings,
    )
    with step_progress(enabled=not state.json) as progress:
        config.progress = progress
        results = run_suites(suite, config)
    checked = [row for r in results for row in check_bounds(r, bounds.get(r.suite, {}))]
    document = build_document(suite, results, config, checked)
    files = write_report(document, results, report_dir(state.settings.home, suite))
    if previous is not None:
        document["comparison"] = compare(document, previous)
    misses = [row for row in checked if not row["ok"]]

    def render(console: Console) -> None:
        _render(console, document)
        if previous is not None:
            for line in describe(document["comparison"]):
                console.print(line, highlight=False)
        console.print("report files:")
        for f in files:
            console.print(f"  {f}", highlight=False)

    emit(state, EvalReport.model_validate(document), render)
    if check and misses:
        for row in misses:
            sys.stderr.write(f"data-mash: {describe_miss(row)}\n")
        raise typer.Exit(1)


def _render(console: Console, doc: dict[str, Any]) -> None:
    console.print(
        table(
            f"eval {doc['suite']}: {doc['status']}",
            ["suite", "status", "seconds", "reason"],
            [(n, s["status"], s["seconds"], s["reason"] or "") for n, s in doc["suites"].items()],
        )
    )
    if doc["metrics"]:
        console.print(
            table(
                "metrics",
                ["metric", "value"],
                [
                    (k, f"{v:.4f}" if isinstance(v, float) else v)
                    for k, v in sorted(doc["metrics"].items())
                ],
            )
        )
    misses = [t for t in doc["thresholds"] if not t["ok"]]
    if doc["thresholds"]:
        console.print(
            f"thresholds: {len(doc['thresholds']) - len(misses)} met, {len(misses)} missed",
            highlight=False,
        )
