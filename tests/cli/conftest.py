"""Fixtures of the CLI tests: one `data-mash demo` run shared by the tests that read its report."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli.main import main


@dataclass(frozen=True)
class DemoRun:
    """`data-mash demo --policies 300 --seed 7 --json` in a workspace of its own."""

    home: Path
    code: int
    report: dict[str, Any]
    err: str


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo journey costs seconds whatever its size, so the tests that only read its report
    (and its estate's files) share one run. A test that runs the demo again in ``home`` (the
    re-run) leaves the estate as it is: the demo reuses an estate it already generated."""
    home = tmp_path_factory.mktemp("demo-300")
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATA_MASH_HOME", str(home))
        env.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
        env.delenv("DATA_MASH_DB_URL", raising=False)
        env.delenv("DATA_MASH_TENANT", raising=False)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["demo", "--policies", "300", "--seed", "7", "--json"])
    return DemoRun(home=home, code=code, report=json.loads(out.getvalue()), err=err.getvalue())
