"""Entry point of the ``data-mash`` console script: dispatch and the exit-code contract."""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any

import typer
import typer.main
from typer.exceptions import TyperException

from cli.app import app
from core.errors import DataMashError
from core.logs import get_logger, scrub
from core.tracing import setup_tracing, shutdown_tracing, span


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return 0 on success, 1 on a user error, 2 on a usage error."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("DATA_MASH_DEBUG") == "1"
    command = typer.main.get_command(app)
    started = time.perf_counter()
    try:
        setup_tracing("data-mash-cli")
    except DataMashError as exc:
        sys.stderr.write(f"data-mash: error: {exc.message}\n")
        return 1
    with span("cli.command", command=next((a for a in args if not a.startswith("-")), "")) as s:
        code = _dispatch(command, args, debug)
        s.set_attribute("exit_code", code)
        get_logger(__name__).info(
            "command_finished", exit_code=code, duration_s=round(time.perf_counter() - started, 3)
        )
    shutdown_tracing()
    return code


def _dispatch(command: Any, args: list[str], debug: bool) -> int:
    try:
        # Non-standalone click returns a command's `raise typer.Exit(n)` code instead of raising.
        returned = command.main(args=args, prog_name="data-mash", standalone_mode=False)
        if isinstance(returned, int) and returned:
            return returned
    except TyperException as exc:  # usage errors (exit 2) and typer's own failures
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"data-mash: error: {exc.format_message()}\n")
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        sys.stderr.write("data-mash: aborted\n")
        return 130
    except DataMashError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"data-mash: error: {scrub(exc.message)}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("data-mash: interrupted; work stopped at the last committed batch\n")
        return 130
    except Exception as exc:  # noqa: BLE001  (the contract: one line, no traceback)
        if debug:
            traceback.print_exc()
        sys.stderr.write(
            f"data-mash: internal error: {type(exc).__name__}: {scrub(str(exc))} "
            "(rerun with --debug for the traceback and report it)\n"
        )
        return 1
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
