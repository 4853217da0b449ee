"""Where journeys keep their checkpoints: a SQLite file in the workspace.

A journey survives closing the terminal because every step is checkpointed under its thread id.
When the store is on PostgreSQL (``DATA_MASH_DB_URL``) and ``langgraph-checkpoint-postgres`` is
installed, checkpoints go there instead; it is not a dependency, so SQLite is the default.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from core.errors import NotFoundError
from core.settings import Settings

CHECKPOINT_FILE = "journeys.sqlite"


def checkpoint_backend(settings: Settings) -> str:
    """``postgres`` or ``sqlite``: what ``open_checkpointer`` will use for ``settings``."""
    url = settings.db_url or ""
    if (
        url.startswith("postgresql")
        and importlib.util.find_spec("langgraph.checkpoint.postgres") is not None
    ):
        return "postgres"
    return "sqlite"


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """The journey checkpointer for ``settings``, set up and ready."""
    if checkpoint_backend(settings) == "postgres":
        # Imported here: optional dependency (the PostgreSQL checkpointer).
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver  # type: ignore  # noqa: PLC0415

        url = str(settings.db_url).replace("postgresql+psycopg://", "postgresql://", 1)
        async with AsyncPostgresSaver.from_conn_string(url) as saver:
            await saver.setup()
            yield saver
        return
    # Imported here: loaded only for the chat's SQLite checkpointer.
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: PLC0415

    path = Path(settings.home) / CHECKPOINT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        yield saver


async def thread_journey(saver: BaseCheckpointSaver[Any], thread_id: str) -> str | None:
    """The journey a thread belongs to, or None if the thread has no checkpoint."""
    found = await saver.aget_tuple({"configurable": {"thread_id": thread_id}})
    if found is None:
        return None
    return str(found.checkpoint.get("channel_values", {}).get("journey") or "") or None


async def require_thread(
    saver: BaseCheckpointSaver[Any], thread_id: str, settings: Settings
) -> str:
    """The journey of an existing thread; NotFoundError naming the thread if there is none."""
    journey = await thread_journey(saver, thread_id)
    if journey is None:
        raise NotFoundError(
            f"no journey thread '{thread_id}'",
            where=str(Path(settings.home) / CHECKPOINT_FILE),
            fix="check the id (data-mash journey list), or start a new journey "
            "with data-mash chat --journey discovery",
        )
    return journey


async def list_threads(saver: BaseCheckpointSaver[Any]) -> list[dict[str, Any]]:
    """Every thread with its journey, status and the time of its last checkpoint."""
    latest: dict[str, dict[str, Any]] = {}
    async for item in saver.alist(None):
        thread = item.config["configurable"]["thread_id"]
        if thread in latest or item.config["configurable"].get("checkpoint_ns"):
            continue
        values = item.checkpoint.get("channel_values", {})
        latest[thread] = {
            "thread_id": thread,
            "journey": values.get("journey"),
            "status": values.get("status"),
            "updated_at": item.checkpoint["ts"],
        }
    return sorted(latest.values(), key=lambda t: t["updated_at"], reverse=True)
