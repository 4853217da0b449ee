"""Runs one legacy capture in a subprocess, pausing after a chosen batch so a test can SIGKILL it.

Usage: python -m tests.tools.sync.capture_runner HOME FEED SOURCE_ID BATCH
The store comes from DATA_MASH_DB_URL when set. After batch BATCH is committed (its changes
durable, the feed's bookmark not yet moved) the runner writes HOME/at-point and sleeps until
it is killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from core.settings import Settings
from core.store import open_store
from tools.sync.capture import LegacyCapture


def main() -> None:
    home, feed, source_id, stop = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    settings = Settings(
        home=home, embedding_provider="none", db_url=os.environ.get("DATA_MASH_DB_URL") or None
    )

    def pause(batch_no: int) -> None:
        if batch_no == stop:
            (home / "at-point").write_text(str(batch_no))
            time.sleep(120)  # the test kills us here

    capture = LegacyCapture(
        open_store(settings), settings, tenant="default", batch=3, after_batch=pause
    )
    capture.capture(feed, source_id)


if __name__ == "__main__":
    main()
