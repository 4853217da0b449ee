"""Find the reader class for a format name.

The entry-point group ``data_mash.readers`` is the source of truth: built-ins and plugins register
there (pyproject.toml). A built-in fallback map keeps a source checkout usable before the package
is (re)installed; an installed entry point of the same name always wins over it.
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points

from tools.content.readers.base import SourceReader
from tools.errors import InputError

GROUP = "data_mash.readers"

BUILTIN_READERS: dict[str, str] = {
    "csv": "tools.content.readers.delimited:CsvReader",
    "fixed_width": "tools.content.readers.fixed_width:FixedWidthReader",
    "json": "tools.content.readers.jsondoc:JsonReader",
    "jsonl": "tools.content.readers.jsondoc:JsonlReader",
    "xlsx": "tools.content.readers.spreadsheet:XlsxReader",
    "xml": "tools.content.readers.xmldoc:XmlReader",
    "parquet": "tools.content.readers.columnar:ParquetReader",
    "sqlite": "tools.content.readers.sqlite_table:SqliteReader",
}


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def known_formats() -> list[str]:
    """All format names available: installed entry points plus the built-in fallbacks."""
    return sorted(set(_entry_points()) | set(BUILTIN_READERS))


def _load(target: str) -> object:
    module_name, _, attr = target.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def reader_for(format_name: str) -> type[SourceReader]:
    """Return the reader class registered for ``format_name``.

    Args:
        format_name: An entry-point name in ``data_mash.readers`` (``csv``, ``cobol``, ...).

    Returns:
        The reader class (instantiate it with ``(path, options)``).

    Raises:
        InputError: No reader is registered under that name, or the plugin fails to import.
    """
    name = (format_name or "").strip().lower()
    eps = _entry_points()
    try:
        if name in eps:
            cls = eps[name].load()
        elif name in BUILTIN_READERS:
            cls = _load(BUILTIN_READERS[name])
        else:
            raise InputError(f"unknown format {format_name!r}", where="format",
                             fix=f"use one of: {', '.join(known_formats())}")
    except InputError:
        raise
    except Exception as exc:  # a broken plugin must not look like a bug in data-mash
        raise InputError(f"the reader for format {name!r} failed to load: {exc}",
                         where=f"entry point {GROUP}:{name}",
                         fix="reinstall the plugin that provides it") from None
    if not isinstance(cls, type) or not hasattr(cls, "batches"):
        raise InputError(f"the reader registered for {name!r} is not a SourceReader class",
                         where=f"entry point {GROUP}:{name}", fix="fix the plugin")
    return cls  # type: ignore[return-value]
