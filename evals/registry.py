"""The suite registry: ``evals/suites/<name>.py`` modules, each with ``run(config)``.

Suites are looked up by name and imported only when run, so one suite whose dependencies are
being built cannot break the others: an ImportError while importing or running it becomes
``status: unavailable`` with the missing module named.
"""

from __future__ import annotations

import importlib
import time
import traceback

from core.errors import DataMashError, InputError
from evals.result import EvalConfig, SuiteResult, SuiteStatus, missing_capability

SUITES = ("content", "mapping", "routing", "journey", "perf", "assembly")
ALL = "all"


def check_suite_name(name: str) -> str:
    """The suite name, or InputError naming the known ones."""
    if name != ALL and name not in SUITES:
        raise InputError(
            f"unknown suite '{name}'", fix=f"choose one of: {', '.join((*SUITES, ALL))}"
        )
    return name


def run_suite(name: str, config: EvalConfig) -> SuiteResult:
    """Run one suite; capability gaps become ``unavailable``, crashes become ``error``.

    A user error (DataMashError: a corpus that does not exist, a malformed journey script) is
    raised to the caller, since it means the run itself is wrong rather than the product.
    """
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"evals.suites.{name}")
        result: SuiteResult = module.run(config)
    except ImportError as exc:
        result = SuiteResult.unavailable(name, missing_capability(exc))
    except DataMashError:
        raise
    except Exception as exc:  # noqa: BLE001  (report the failure; other suites still run)
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{last.filename}:{last.lineno}"
        result = SuiteResult(
            suite=name, status=SuiteStatus.ERROR, reason=f"{type(exc).__name__}: {exc} (at {where})"
        )
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def run_suites(name: str, config: EvalConfig) -> list[SuiteResult]:
    """The suites ``name`` stands for (every suite for ``all``), in registry order."""
    names = SUITES if check_suite_name(name) == ALL else (name,)
    return [run_suite(n, config) for n in names]
