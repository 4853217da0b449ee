"""`data-mash journey run|list`, `chat` and `mcp-config` from the command line (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli.main import main
from core.settings import Settings
from tests.agents.fake_servers import config_for

CSV = "POLICY_NO;PREMIUM;EFF_DATE\nA001;100,50;2024-01-02\nA002;200,00;2024-13-45\n"


@pytest.fixture(autouse=True)
def _env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    for name in ("DATA_MASH_DB_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _script(folder: Path, name: str, **body: object) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(body))
    return path


def test_a_paused_script_resumes_and_a_bad_answer_names_its_step(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "p.csv").write_text(CSV)
    fakes = config_for(["canonical"], tmp_path)  # FAKE canonical test server
    first = _script(
        workspace,
        "first.yaml",
        journey="discovery",
        thread="t-1",
        on_end="pause",
        inputs={
            "files": [
                {"path": "p.csv", "format": "csv", "options": {"delimiter": ";", "decimal": ","}}
            ]
        },
    )
    assert main(["journey", "run", str(first), "--json", "--servers", str(fakes)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "waiting" and out["question"]["step"] == "review_mapping"
    assert any("invalid dates in EFF_DATE" in (n.get("text") or "") for n in out["notes"])

    bad = _script(
        workspace,
        "bad.yaml",
        journey="discovery",
        thread="t-1",
        answers=[{"step": "review_mapping", "answer": "edit NOPE policy_core.status"}],
    )
    assert main(["journey", "run", str(bad), "--servers", str(fakes)]) == 1
    err = capsys.readouterr().err
    assert "answers[0], step 'review_mapping'" in err
    assert "field 'NOPE' is not one of this step's fields" in err

    wrong_step = _script(
        workspace,
        "wrong.yaml",
        journey="discovery",
        thread="t-1",
        answers=[{"step": "review_rules", "answer": "approve"}],
    )
    assert main(["journey", "run", str(wrong_step), "--servers", str(fakes)]) == 1
    assert "for step 'review_rules' but the journey asks step 'review_mapping'" in (
        capsys.readouterr().err
    )

    assert main(["journey", "list", "--json"]) == 0
    threads = json.loads(capsys.readouterr().out)["threads"]
    assert [(t["thread_id"], t["journey"], t["status"]) for t in threads] == [
        ("t-1", "discovery", "running")
    ]


def test_running_out_of_answers_is_an_error_unless_paused(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script(workspace, "s.yaml", journey="migration", inputs={"source_ids": ["s1"]})
    fakes = config_for(["waves"], workspace)  # FAKE waves test server
    assert main(["journey", "run", str(script), "--servers", str(fakes)]) == 1
    err = capsys.readouterr().err
    assert "ran out of answers; the journey waits at step 'approve_wave'" in err
    assert "on_end: pause" in err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"journey": "teleport"}, "s.yaml: journey"),
        ({"journey": "migration", "inputs": {}}, "inputs: give 'source_ids'"),
        (
            {"journey": "discovery", "inputs": {"files": [{"path": "x"}]}},
            "inputs.files.0.format: Field required",
        ),
    ],
)
def test_bad_scripts_name_file_and_key(
    workspace: Path, body: dict, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journey", "run", str(_script(workspace, "s.yaml", **body))]) == 1
    assert message in capsys.readouterr().err


def test_unknown_thread_and_malformed_server_config_are_clear_errors(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "--thread", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no journey thread 'nope'" in err and "journeys.sqlite" in err
    bad = workspace / "servers.json"
    bad.write_text('{"mcpServers": {"weather": {"command": 42}}}')
    script = _script(workspace, "s.yaml", journey="migration", inputs={"source_ids": ["s"]})
    assert main(["journey", "run", str(script), "--servers", str(bad)]) == 1
    assert f"{bad}: mcpServers.weather.command: needs 'command'" in capsys.readouterr().err


def test_mcp_config_prints_a_snippet_per_client(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["mcp-config", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"claude", "cursor", "vscode"}
    content = out["claude"]["config"]["mcpServers"]["data-mash-content"]
    assert content["args"][-2:] == ["serve", "content"]
    assert content["env"]["DATA_MASH_HOME"] == str(workspace.resolve())
    # The allowed roots are explicit, and the server reads them back as written.
    roots = json.loads(content["env"]["DATA_MASH_ALLOWED_ROOTS"])
    assert str(workspace.resolve()) in roots
    monkeypatch.setenv("DATA_MASH_ALLOWED_ROOTS", content["env"]["DATA_MASH_ALLOWED_ROOTS"])
    assert [str(p) for p in Settings().allowed_roots] == roots
    assert out["vscode"]["config"]["servers"]["data-mash-content"]["type"] == "stdio"
    assert main(["mcp-config", "--client", "emacs"]) == 1
