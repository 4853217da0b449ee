"""Asking before destructive work: on a terminal only, skipped with ``--yes``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation on a terminal.")
]


def interactive() -> bool:
    """True when a person can answer: stdin is a terminal (never in scripts or CI)."""
    return sys.stdin.isatty()


def confirm_or_stop(question: str, *, yes: bool) -> None:
    """Ask ``question`` on a terminal unless ``yes``; a "no" stops the command with exit 1.

    The prompt goes to stderr so that ``--json`` output on stdout stays one document.
    """
    if yes or not interactive():
        return
    if not typer.confirm(question, default=False, err=True):
        sys.stderr.write("data-mash: nothing changed (not confirmed)\n")
        raise typer.Exit(1)
