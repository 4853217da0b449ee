"""Mainframe (COBOL copybook) decoding: copybook parser, layout, vectorised decoder, reader.

Public API:
    describe_layout(copybook_text_or_path) -> dict   -- the ``data-mash layout`` output
    render_layout(desc) -> str                         -- cobrix-style layout table
    load_layout(copybook) -> Layout                    -- parsed copybook with offsets
    CobolReader(path, options)                         -- SourceReader for format ``cobol``
"""

from tools.content.cobol.layout import Layout, describe_layout, load_layout, render_layout
from tools.content.cobol.reader import CobolReader

__all__ = ["CobolReader", "Layout", "describe_layout", "load_layout", "render_layout"]
