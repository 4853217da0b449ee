"""Progress bars on a terminal, none under --json or when output is not a terminal.

Each bar counts in a unit (``bytes`` shown as kB/MB, or ``records``...) and a step that has no
measurable amount yet (loading a model, opening a workbook) shows a status line with a spinner.
Colours follow rich, which honours ``NO_COLOR``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

StepCallback = Callable[[str, int, int], None]


class _AmountColumn(ProgressColumn):
    """``done/total unit``; bytes in decimal units (``1.2/4.5 MB``)."""

    def render(self, task: Task) -> Text:
        unit = str(task.fields.get("unit") or "")
        done, total = int(task.completed), task.total
        if unit == "bytes":
            shown = decimal(done) + (f"/{decimal(int(total))}" if total else "")
        elif unit == "":  # a status line: nothing to count
            shown = ""
        else:
            shown = f"{done:,}" + (f"/{int(total):,}" if total else "") + f" {unit}"
        return Text(shown, style="progress.download")


class Steps:
    """Drives one bar per label: ``steps(label, done, total, unit)`` and ``steps.status(...)``."""

    def __init__(self, bars: Progress) -> None:
        self._bars = bars
        self._tasks: dict[str, TaskID] = {}

    def _task(self, label: str, unit: str) -> TaskID:
        if label not in self._tasks:
            self._tasks[label] = self._bars.add_task(label, total=None, unit=unit)
        return self._tasks[label]

    def __call__(self, label: str, done: int, total: int, unit: str = "items") -> None:
        """Set the amount done of ``label`` (``total`` 0: unknown yet)."""
        task = self._task(label, unit)
        self._bars.update(task, completed=done, total=total or None, unit=unit, description=label)

    def status(self, label: str, text: str) -> None:
        """Show what ``label`` is doing while there is nothing to count (a spinner line)."""
        task = self._task(label, "")
        self._bars.update(task, description=f"{label}: {text}")

    def finish(self, label: str) -> None:
        """Mark ``label`` complete (a status line keeps its last text)."""
        if label in self._tasks:
            task = self._tasks[label]
            total = next(t.total for t in self._bars.tasks if t.id == task)
            self._bars.update(task, completed=total or 1, total=total or 1, description=label)


@contextmanager
def step_progress(*, enabled: bool) -> Iterator[Steps | None]:
    """A :class:`Steps` that drives one bar per label, or None when off (``--json``, no tty)."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        _AmountColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bars:
        yield Steps(bars)
