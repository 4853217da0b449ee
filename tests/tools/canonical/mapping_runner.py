"""Runs one mapping run in a subprocess, pausing after N records so the test can SIGKILL it.

Usage: python -m tests.tools.canonical.mapping_runner HOME MAPPING_ID RECORDS
On reaching RECORDS mapped it writes HOME/at-point and sleeps until it is killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from core.settings import Settings
from core.store import open_store
from tools.canonical import map_to_canonical


def main() -> None:
    home, mapping_id, stop = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    settings = Settings(home=home, batch_size=100, embedding_provider="none")

    def progress(done: int, _total: int) -> None:
        if done >= stop:
            (home / "at-point").write_text(str(done))
            time.sleep(120)  # the test kills us here

    map_to_canonical(open_store(settings), settings, mapping_id, progress=progress)


if __name__ == "__main__":
    main()
