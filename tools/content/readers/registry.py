"""Find the reader class for a format name.

The entry-point group ``data_mash.readers`` is the source of truth: built-ins and plugins register
there (pyproject.toml). A built-in fallback map keeps a source checkout usable before the package
is (re)installed; an installed entry point of the same name always wins over it.
"""

from __future__ import annotations

from core.plugins import load_plugin, plugin_names
from tools.content.readers.base import SourceReader

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


def known_formats() -> list[str]:
    """All format names available: installed entry points plus the built-in fallbacks."""
    return plugin_names(GROUP, BUILTIN_READERS)


def reader_for(format_name: str) -> type[SourceReader]:
    """Return the reader class registered for ``format_name``.

    Args:
        format_name: An entry-point name in ``data_mash.readers`` (``csv``, ``cobol``, ...).

    Returns:
        The reader class (instantiate it with ``(path, options)``).

    Raises:
        InputError: No reader is registered under that name, or the plugin fails to import.
    """
    cls = load_plugin(
        GROUP,
        format_name,
        BUILTIN_READERS,
        kind="format",
        where="format",
        valid=lambda obj: isinstance(obj, type) and hasattr(obj, "batches"),
        shape="a SourceReader class",
    )
    return cls  # type: ignore[return-value]
