"""Runs the sync relay in a subprocess until a test SIGKILLs it.

Usage: python -m tests.tools.sync.relay_runner HOME
The store comes from DATA_MASH_DB_URL when set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.settings import Settings
from core.store import open_store
from tools.sync.relay import Relay


def main() -> None:
    home = Path(sys.argv[1])
    settings = Settings(
        home=home, embedding_provider="none", db_url=os.environ.get("DATA_MASH_DB_URL") or None
    )
    relay = Relay(open_store(settings), settings, tenant="default", batch=2)
    (home / "relay-started").write_text("1")
    relay.run(poll_seconds=0.02, max_seconds=60)


if __name__ == "__main__":
    main()
