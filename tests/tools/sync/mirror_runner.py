"""Writes one policy through the platform and SIGKILLs itself at a step of the target write.

Usage: python -m tests.tools.sync.mirror_runner HOME POLICY_ID CITY WHERE
WHERE: ``before_target`` (the document and its outbox row committed, the target not written)
or ``after_target`` (the target written, its outbox row not marked). The store comes from
DATA_MASH_DB_URL when set.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from core.settings import Settings
from core.store import open_store
from tools.sync.mirror import PlatformTables
from tools.sync.platform import NewPlatform

CITY = "policy_core.insured_party.address.city"


def _die(*_args: Any, **_kwargs: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    home, policy_id, city, where = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    settings = Settings(
        home=home, embedding_provider="none", db_url=os.environ.get("DATA_MASH_DB_URL") or None
    )
    platform = NewPlatform(open_store(settings), tenant="default", settings=settings)
    if where == "before_target":
        PlatformTables.mirror = _die  # type: ignore[method-assign]
    else:
        put = PlatformTables.put

        def put_then_die(self: PlatformTables, *args: Any, **kwargs: Any) -> None:
            put(self, *args, **kwargs)
            _die()

        PlatformTables.put = put_then_die  # type: ignore[method-assign]
    document = platform.document(policy_id) or {}
    platform.write_policy(policy_id, {**document, CITY: city})
    raise SystemExit("the write finished without reaching its crash point")


if __name__ == "__main__":
    main()
