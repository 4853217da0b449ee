"""Reproducible installs: pinned versions, and the wheel working outside the source tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: '{line}' is not name==version"
            pins[canonicalize_name(name)] = version
    return pins


def test_every_dependency_is_pinned_within_its_declared_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = _pins()
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, (
            f"{requirement.name} is not pinned in constraints.txt: add the tested version "
            f"(.venv/bin/pip freeze | grep -i {requirement.name})"
        )
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]} outside pyproject's {requirement}"
        )


def _clean_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATA_MASH_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {
        **env,
        "DATA_MASH_HOME": str(home),
        "DATA_MASH_EMBEDDING_PROVIDER": "none",
        "HF_HUB_OFFLINE": "1",
    }


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-4000:])
    return done.stdout


@pytest.mark.slow
def test_the_wheel_installs_and_runs_outside_the_source_tree(tmp_path: Path) -> None:
    # Build from a copy of the tracked and new files: building in place would leave build/ and
    # *.egg-info in the work tree.
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    source = tmp_path / "src"
    for name in files:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    env = _clean_env(tmp_path / "ws")
    dist = tmp_path / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(source),
        ],
        tmp_path,
        env,
    )
    (wheel,) = dist.glob("data_mash-*.whl")
    # A fresh venv whose dependencies come from the test venv's site-packages (a plain path
    # entry: the editable install's hook there is not run), data-mash itself from the wheel.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        tmp_path,
        env,
    ).strip()
    Path(purelib, "shared-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        tmp_path,
        env,
    )
    where = _run(
        [str(python), "-c", "import servers, prompts; print(servers.__file__)"], tmp_path, env
    )
    assert where.startswith(str(venv)), where
    exe = venv / "bin" / "data-mash"
    assert _run([str(exe), "--version"], tmp_path, env).strip() == "data-mash 0.1.0"

    async def prompts() -> list[str]:
        params = StdioServerParameters(
            command=str(exe), args=["serve", "canonical"], env=env, cwd=str(tmp_path)
        )
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return [p.name for p in (await session.list_prompts()).prompts]

    assert "review_mapping" in anyio.run(prompts)
    demo = json.loads(_run([str(exe), "demo", "--policies", "200", "--json"], tmp_path, env))
    assert {"estate", "sources", "mapping", "waves", "reconciliation"} <= set(demo)
