"""Runs one ingest in a subprocess, pausing at a chosen point so the test can SIGKILL it.

Usage: python -m tests.tools.content.ingest_runner HOME FILE POINT
POINT is ``staging`` (after the first batch is written to the partial folder) or ``indexing``
(after the source is committed, while its columns are being indexed). On reaching it the runner
writes HOME/at-point and sleeps until it is killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from core.settings import Settings
from core.store import open_store
from tools.content import indexing, staging
from tools.content.ingest import ingest_file


def _pause(home: Path, point: str) -> None:
    (home / "at-point").write_text(point)
    time.sleep(120)  # the test kills us here


def main() -> None:
    home, file, point = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    settings = Settings(home=home, embedding_provider="none", batch_size=100)
    if point == "staging":
        original = staging.PartWriter.write

        def write(self, batch):  # type: ignore[no-untyped-def]
            original(self, batch)
            _pause(home, point)

        staging.PartWriter.write = write  # type: ignore[method-assign]
    else:
        indexing.index_source = lambda *_args, **_kw: _pause(home, point)  # type: ignore[assignment]
    ingest_file(open_store(settings), settings, file, fmt="csv", options={"header": True})


if __name__ == "__main__":
    main()
