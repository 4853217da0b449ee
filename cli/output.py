"""Output: one JSON document under --json, rich tables otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table


def emit(
    state: Any,
    data: BaseModel,
    render: Callable[[Console], None],
    *,
    by_alias: bool = False,
    exclude_none: bool = False,
) -> None:
    """Under --json write ``data.model_dump(mode="json")`` as one line, else call ``render``.

    ``data`` is the command's contract model, the same one its MCP tool returns, so a key
    cannot drift between doors; a plain dict is refused.
    """
    if not isinstance(data, BaseModel):
        raise TypeError(
            f"emit takes the command's contract model (a pydantic BaseModel), "
            f"not {type(data).__name__}"
        )
    if state.json:
        dumped = data.model_dump(mode="json", by_alias=by_alias, exclude_none=exclude_none)
        sys.stdout.write(json.dumps(dumped, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        render(Console())


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    out = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        out.add_column(name, overflow="fold")
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out
