"""The local MiniLM model in a child process: same vectors, no torch in the caller, released."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import psutil
import pytest

from core.errors import ConfigError
from knowledge.embeddings.semantic import LocalMiniLMEmbedder, release_local_models
from knowledge.embeddings.worker import EmbeddingWorker

REPO = Path(__file__).resolve().parents[3]
TEXTS = ["PREM_AMT premium amount", "INSD_NM insured name", "", "état d'assurance"]


def _children() -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process().children()
        if "knowledge.embeddings.worker_process" in p.cmdline()
    ]


def test_isolated_vectors_equal_in_process_ones_and_the_child_ends_on_release(
    minilm: LocalMiniLMEmbedder,
) -> None:
    isolated = LocalMiniLMEmbedder(isolated=True)
    try:
        vectors = isolated.embed(TEXTS)
        assert vectors.shape == (4, 384) and vectors.dtype == np.float32
        assert np.array_equal(vectors, minilm.embed(TEXTS))
        assert isolated.embed([]).shape == (0, 384)
        (child,) = _children()
        # A child killed between calls is replaced by the next call.
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        # Compared with the same batch in process: a batch of one is not padded like a batch of
        # four, so its floats may differ from the batch's first row in the last bits.
        single = minilm.embed(TEXTS[:1])
        np.testing.assert_allclose(single, vectors[:1], atol=1e-5)
        assert np.array_equal(isolated.embed(TEXTS[:1]), single)
        (fresh,) = _children()
        assert fresh.pid != child.pid
        # Released: the child ends (its memory goes back); the next embed starts another.
        assert release_local_models() >= 1
        assert not fresh.is_running() or fresh.status() == psutil.STATUS_ZOMBIE
        assert _children() == []
        assert np.array_equal(isolated.embed(TEXTS[:1]), single)
        assert len(_children()) == 1
    finally:
        isolated.release()


def test_a_child_dying_mid_request_is_one_clear_error() -> None:
    worker = EmbeddingWorker()
    # A child that reads the request's length, writes something on stderr and exits: the reply
    # never comes.
    worker._process = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.buffer.read(4); sys.exit('out of memory')"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with pytest.raises(ConfigError, match="embedding worker exited") as raised:
        worker.embed(["premium"], 384)
    assert raised.value.where == "local MiniLM worker"
    assert not worker.running


def test_torch_never_loads_into_the_caller(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from knowledge.embeddings.semantic import make_embedder\n"
        "from pathlib import Path\n"
        "e = make_embedder('local', cache_dir=Path(sys.argv[1]))\n"
        "v = e.embed(['premium amount', 'insured name'])\n"
        "print(json.dumps({'shape': list(v.shape), 'torch': 'torch' in sys.modules,\n"
        "  'transformers': 'sentence_transformers' in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
        timeout=600,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"shape": [2, 384], "torch": False, "transformers": False}
