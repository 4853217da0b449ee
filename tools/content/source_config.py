"""Source configs: the YAML file that lists a legacy estate's sources, every option explicit.

```yaml
version: 1
sources:
  - name: billing            # unique
    system: billing          # legacy system it belongs to
    path: billing/billing.csv  # relative to this YAML file
    format: csv              # a data_mash.readers entry-point name
    options: {delimiter: ";", encoding: latin-1, decimal: ",", header: true}
```

Errors name the YAML file, the line and the source entry: YAML syntax (line/column), unknown
keys, an unknown format (listing the known ones), a missing data file, bad reader options.
Option values that are files (``copybook``, ``layout_file``) are resolved relative to the YAML too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.bounded_yaml import compose_bounded, load_bounded
from core.errors import InputError
from tools.content.readers.base import SourceReader
from tools.content.readers.registry import known_formats, reader_for

PATH_OPTIONS = frozenset({"copybook", "layout_file"})


class SourceEntry(BaseModel):
    """One source: a file, the system it comes from, and how to read it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    system: str = Field(min_length=1)
    path: Path  # absolute after loading
    format: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("format")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    def reader(self) -> SourceReader:
        """Instantiate the reader for this source (validates the options)."""
        return reader_for(self.format)(self.path, self.options)


class SourceConfig(BaseModel):
    """A whole source config file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    sources: list[SourceEntry] = Field(min_length=1)
    config_path: Path | None = None  # the YAML it was loaded from

    def source(self, name: str) -> SourceEntry:
        """The entry called ``name``; InputError listing the names if there is none."""
        for entry in self.sources:
            if entry.name == name:
                return entry
        raise InputError(
            f"no source named {name!r}",
            where=str(self.config_path or "config"),
            fix=f"use one of: {', '.join(s.name for s in self.sources)}",
        )


def _node_lines(node: yaml.Node | None) -> dict[tuple[Any, ...], int]:
    """Map every key path of a composed YAML document to its 1-based line."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(n: yaml.Node, path: tuple[Any, ...]) -> None:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                k = key.value
                lines[(*path, k)] = key.start_mark.line + 1
                walk(value, (*path, k))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return lines


def _line_for(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _entry_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and raw.get("name"):
        return f"source {raw['name']!r}"
    return f"sources[{index}]"


def load_source_config(
    path: Path | str, *, check_files: bool = True, check_options: bool = True
) -> SourceConfig:
    """Load and validate a source config.

    Args:
        path: The YAML file.
        check_files: Require every source's data file to exist.
        check_options: Instantiate each reader so bad options fail now, not mid-ingest.

    Returns:
        The config with absolute ``path`` (and path-valued options) per source.

    Raises:
        InputError: Anything wrong, naming the file, line and source entry.
    """
    config_path = Path(path)
    if not config_path.is_file():
        raise InputError(
            "source config not found", where=str(config_path), fix="check the path of the YAML file"
        )
    try:
        text = config_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"is not UTF-8 text (byte {exc.start})",
            where=str(config_path),
            fix="save the source config as UTF-8 YAML",
        ) from None
    try:
        node = compose_bounded(text)
        raw = load_bounded(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = (
            f"{config_path}: line {mark.line + 1}, column {mark.column + 1}"
            if mark
            else str(config_path)
        )
        context = ""
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            cm = exc.context_mark
            context = f" ({exc.context} at line {cm.line + 1}, column {cm.column + 1})"
        raise InputError(
            f"invalid YAML: {exc.problem or exc}{context}",
            where=where,
            fix="fix the YAML syntax (indentation, quotes, colons)",
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", where=str(config_path)) from None
    if not isinstance(raw, dict):
        raise InputError(
            "a source config must be a mapping with version and sources",
            where=f"{config_path}: line 1",
            fix="start with 'version: 1'",
        )
    lines = _node_lines(node)
    try:
        config = SourceConfig.model_validate(raw)
    except ValidationError as exc:
        # a misspelt key also makes the real one "missing": report the misspelling first
        err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        loc = tuple(err["loc"])
        line = _line_for(lines, loc)
        label = ""
        if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
            items = raw.get("sources")
            item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
            label = _entry_label(item, loc[1]) + ": "
        field = ".".join(str(p) for p in loc)
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if loc == ("version",):
            msg = "version must be 1"
        raise InputError(
            f"{label}{field}: {msg}",
            where=f"{config_path}: line {line}" if line else str(config_path),
            fix="see the source config format in docs (version, sources: name, "
            "system, path, format, options)",
        ) from None
    config.config_path = config_path.resolve()
    _resolve_and_check(
        config, config_path, lines, check_files=check_files, check_options=check_options
    )
    return config


def _resolve_and_check(
    config: SourceConfig,
    config_path: Path,
    lines: dict[tuple[Any, ...], int],
    *,
    check_files: bool,
    check_options: bool,
) -> None:
    base = config_path.resolve().parent
    seen: dict[str, int] = {}
    formats = None
    for i, entry in enumerate(config.sources):
        line = lines.get(("sources", i), None)
        where = f"{config_path}: line {line}" if line else str(config_path)
        label = f"source {entry.name!r}"
        if entry.name in seen:
            raise InputError(
                f"{label}: duplicate source name (also in entry {seen[entry.name]})",
                where=where,
                fix="give every source a unique name",
            )
        seen[entry.name] = i
        entry.path = (base / entry.path).resolve() if not entry.path.is_absolute() else entry.path
        for key in PATH_OPTIONS & entry.options.keys():
            value = entry.options[key]
            if isinstance(value, str) and not Path(value).is_absolute():
                entry.options[key] = str((base / value).resolve())
        formats = formats or known_formats()
        if entry.format not in formats:
            fmt_line = lines.get(("sources", i, "format"), line)
            raise InputError(
                f"{label}: unknown format {entry.format!r}",
                where=f"{config_path}: line {fmt_line}",
                fix=f"use one of: {', '.join(formats)}",
            )
        if check_files and not entry.path.is_file():
            path_line = lines.get(("sources", i, "path"), line)
            raise InputError(
                f"{label}: data file not found: {entry.path}",
                where=f"{config_path}: line {path_line}",
                fix="paths are relative to the YAML file's folder",
            )
        if check_options:
            try:
                entry.reader()
            except InputError as exc:
                opt_line = lines.get(("sources", i, "options"), line)
                raise InputError(
                    f"{label}: {exc.what}", where=f"{config_path}: line {opt_line}", fix=exc.fix
                ) from None
