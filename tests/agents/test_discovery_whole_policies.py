"""The discovery journey's whole-policy steps (issue 15 item 9) on the REAL servers over stdio,
offline (no LLM: the guided wizard): relationships, crosswalks and survivorship are each shown
and approved by the person before the canonical tools they guard, then the assembly runs.

Every test starts where the journey waits for a person: the ingest, mapping and relationship
discovery of the estate (the costly part, the same for all) run once per module; each test gets
a copy of that workspace, at the same path (the store and checkpoints name it), and resumes the
thread with its own answers. Only the servers the discovery journey calls are started.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from agents.runner import Outcome
from agents.script import run_script
from core.settings import Settings
from core.store.engine import open_store
from evals.estate import generate_estate
from tools.content.ingest import ingest_file

pytest.importorskip("servers.canonical")

#: The servers the discovery journey calls (the other built-ins would only add start-up time).
DISCOVERY_SERVERS = ("content", "canonical", "routing")
NO_LLM_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DATA_MASH_MODEL", "DATA_MASH_DB_URL")


@dataclass(frozen=True)
class Paused:
    """A journey waiting for an answer: its outcome and a copy of its workspace."""

    outcome: Outcome
    copy: Path


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("journey-estate") / "estate"
    generate_estate(root, policies=300, seed=7)
    return root


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The one workspace path of this module's journeys (restored from a copy per test)."""
    with pytest.MonkeyPatch.context() as patch:  # as tests/agents/conftest.py, module-wide
        for name in NO_LLM_ENV:
            patch.delenv(name, raising=False)
        yield tmp_path_factory.mktemp("journey") / "ws"


def _settings(home: Path) -> Settings:
    return Settings(home=home, embedding_provider="none")


def _restore(paused: Paused, home: Path) -> Settings:
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(paused.copy, home)
    return _settings(home)


def _pause(home: Path, outcome: Outcome, step: str) -> Paused:
    q = outcome.question
    assert q is not None and q["step"] == step, outcome.values.get("blocked")
    copy = home.with_name(f"{home.name}-at-{step}")
    shutil.copytree(home, copy)
    return Paused(outcome, copy)


@pytest.fixture(scope="module")
def at_relationships(home: Path, estate: Path) -> Paused:
    """The estate ingested and its mapping approved: the journey shows the relationships."""
    home.mkdir()
    answers = [{"step": "review_mapping", "answer": "approve"}]
    script = _script(home, estate, answers)
    outcome = anyio.run(lambda: run_script(_settings(home), script, only=DISCOVERY_SERVERS))
    return _pause(home, outcome, "review_relationships")


@pytest.fixture(scope="module")
def at_crosswalks(home: Path, at_relationships: Paused) -> Paused:
    """The relationships approved as discovered: the journey shows the crosswalks."""
    settings = _restore(at_relationships, home)
    answers = [{"step": "review_relationships", "answer": "approve"}]
    thread = at_relationships.outcome.thread_id
    outcome = anyio.run(lambda: _resume(settings, home, thread, answers, on_end="pause"))
    return _pause(home, outcome, "review_crosswalks")


def _script(workspace: Path, estate: Path, answers: list[Any]) -> Path:
    path = workspace / "discovery.yaml"
    inputs = {"source_config": str(estate / "sources.yaml"), "source": "agency_policies"}
    path.write_text(
        yaml.safe_dump(
            {"journey": "discovery", "inputs": inputs, "on_end": "pause", "answers": answers}
        )
    )
    return path


def test_relationships_crosswalks_and_survivorship_are_approved_then_assembled(
    home: Path, at_crosswalks: Paused
) -> None:
    settings = _restore(at_crosswalks, home)
    answers = [{"step": "review_crosswalks", "answer": "approve"}]
    thread = at_crosswalks.outcome.thread_id
    outcome = anyio.run(lambda: _resume(settings, home, thread, answers, on_end="pause"))
    # The survivorship review is the approval point before approve_assembly: nothing frozen yet.
    q = outcome.question
    assert q is not None and q["step"] == "review_survivorship"
    assert {c["action"] for c in q["choices"]} == {"approve", "rule", "continue", "ask", "stop"}
    (rules,) = q["details"]
    assert rules["columns"][:3] == ["field", "rule", "sources (first wins)"] and rules["rows"]
    values = outcome.values
    assert values["assembly"]["status"] == "draft" and "assembly_run" not in values
    titles = [n.get("title") or "" for n in values["notes"]]
    assert any(t.startswith("Relationships among 13 sources") for t in titles)
    relationship_rows = values["relationships"]
    assert any(r["child"].startswith("billing.") for r in relationship_rows)
    assert any("crosswalk" in r["keys"] for r in relationship_rows)  # the acquired book
    # the crosswalk review showed every coded value with its proposed canonical value
    assert values["assembly"]["crosswalks"]

    # The same thread, resumed where it waits (as `data-mash chat --thread` would).
    outcome = anyio.run(lambda: _resume(settings, home, outcome.thread_id))
    assert outcome.status == "done", outcome.values.get("blocked")
    values = outcome.values
    assert values["assembly"]["status"] == "approved"
    run = values["assembly_run"]
    assert run["policies"] == run["complete"] + run["partial"] + run["quarantined"] > 0
    sources = {c["source"] for c in run["components"]}
    assert {"agency_policies", "billing", "correspondence", "endorsements"} <= sources
    texts = [n.get("text") or "" for n in values["notes"]]
    hint = f"data-mash generate-plan --assembly {values['assembly']['assembly_id']}"
    assert any(hint in t for t in texts)


async def _resume(
    settings: Settings,
    workspace: Path,
    thread: str,
    answers: list[Any] | None = None,
    on_end: str = "error",
) -> Any:
    path = workspace / "resume.yaml"
    answers = answers or [
        {"step": "review_survivorship", "answer": "approve"},
        {"step": "review_rules", "answer": "approve"},
    ]
    script = {"journey": "discovery", "thread": thread, "answers": answers, "on_end": on_end}
    path.write_text(yaml.safe_dump(script))
    return await run_script(settings, path, only=DISCOVERY_SERVERS)


def test_the_person_can_continue_without_assembling(home: Path, at_relationships: Paused) -> None:
    settings = _restore(at_relationships, home)
    answers = [
        {"step": "review_relationships", "answer": "continue"},
        {"step": "review_rules", "answer": "approve"},
    ]
    thread = at_relationships.outcome.thread_id
    outcome = anyio.run(lambda: _resume(settings, home, thread, answers))
    assert outcome.status == "done"
    assert not outcome.values.get("assembly") and not outcome.values.get("assembly_run")


def test_the_person_states_a_relationship_and_it_is_stored(
    home: Path, at_relationships: Paused
) -> None:
    settings = _restore(at_relationships, home)
    answers = [
        # a source the journey does not know: refused before any tool, the review asks again
        {"step": "review_relationships", "answer": "link ledger.NO billing.PolicyNo number"},
        # the endorsements key is written like the agency's: the person says "by number"
        {
            "step": "review_relationships",
            "answer": 'link "agency_policies.Policy Number" endorsements.POL_NBR number',
        },
        {"step": "review_relationships", "answer": "approve"},
    ]
    thread = at_relationships.outcome.thread_id
    outcome = anyio.run(lambda: _resume(settings, home, thread, answers, on_end="pause"))
    q = outcome.question
    assert q is not None and q["step"] == "review_crosswalks", outcome.values.get("blocked")
    values = outcome.values
    texts = [n.get("text") or "" for n in values["notes"]]
    assert any("'ledger.NO' names no ingested source" in t for t in texts)
    stored = values["relationship_set"]
    assert (stored["status"], stored["version"]) == ("confirmed", 1)
    (edited,) = [
        r
        for r in stored["relationships"]
        if (r["parent_name"], r["child_name"]) == ("agency_policies", "endorsements")
    ]
    assert edited["key_transform"]["kind"] == "number" and edited["match_rate"] > 0.1
    assert edited["evidence"]["edited"] == "yes"
    # the other relationships were kept, and the assembly is built on the confirmed version
    assert any(r["child_name"] == "billing" for r in stored["relationships"])
    assert values["assembly"]["relationships_version"] == 1
    assert any("Stored relationships version 1" in t for t in texts)


def test_the_confirmed_relationships_are_used_when_the_workspace_holds_other_sources(
    home: Path, at_relationships: Paused
) -> None:
    """A source ingested outside this journey (here while it waits at the relationship review)
    does not make propose_assembly set the person's confirmed version aside and propose
    relationships of its own."""
    settings = _restore(at_relationships, home)
    other = home / "elsewhere.csv"
    other.write_text("ref,amount\nX1,10\nX2,20\n")
    engine = open_store(settings)
    ingest_file(engine, settings, other, fmt="csv", options={"header": True}, name="elsewhere")
    engine.dispose()
    answers = [
        {
            "step": "review_relationships",
            "answer": 'link "agency_policies.Policy Number" endorsements.POL_NBR number',
        },
        {"step": "review_relationships", "answer": "approve"},
    ]
    thread = at_relationships.outcome.thread_id
    outcome = anyio.run(lambda: _resume(settings, home, thread, answers, on_end="pause"))
    q = outcome.question
    assert q is not None and q["step"] == "review_crosswalks", outcome.values.get("blocked")
    values = outcome.values
    assert values["relationship_set"]["version"] == 1
    spec = values["assembly"]
    assert spec["relationships_version"] == 1
    (endorsements,) = [c for c in spec["components"] if c["source_name"] == "endorsements"]
    assert endorsements["relationship"]["evidence"]["edited"] == "yes"
    assert "elsewhere" not in {c["source_name"] for c in spec["components"]}


def test_the_person_edits_a_crosswalk_value_and_a_survivorship_rule(
    home: Path, at_crosswalks: Paused
) -> None:
    settings = _restore(at_crosswalks, home)
    outcome = at_crosswalks.outcome
    q = outcome.question
    assert q is not None and q["step"] == "review_crosswalks"
    assert "crosswalk" in {c["action"] for c in q["choices"]}
    draft = outcome.values["assembly"]
    status = next(x for x in draft["crosswalks"] if x["column"] == "Status")
    value = next(v for v in status["values"] if " " not in v["value"])
    other = next(a for a in status["allowed"] if a != value["canonical"])
    rule = draft["survivorship"][0]
    sources = list(reversed(rule["sources"]))
    column = f"{status['source_name']}.Status"
    resumed = [
        {"step": "review_crosswalks", "answer": f"crosswalk {column} {value['value']} weekly"},
        {"step": "review_crosswalks", "answer": f"crosswalk {column} {value['value']} {other}"},
        {"step": "review_crosswalks", "answer": "approve"},
        {"step": "review_survivorship", "answer": f"rule {rule['field']} nonsense"},
        {
            "step": "review_survivorship",
            "answer": f"rule {rule['field']} first_non_null {' '.join(sources)}",
        },
        {"step": "review_survivorship", "answer": "approve"},
        {"step": "review_rules", "answer": "approve"},
    ]
    outcome = anyio.run(lambda: _resume(settings, home, outcome.thread_id, resumed))
    assert outcome.status == "done", outcome.values.get("blocked")
    values = outcome.values
    texts = [n.get("text") or "" for n in values["notes"]]
    # the refused edits changed nothing and said why
    assert any("Not changed" in t and "'weekly' is not a value of" in t for t in texts)
    assert any("Not changed" in t and "nonsense" in t for t in texts)
    # two edits stored: versions 2 and 3 of the draft, then approved (frozen) with them
    spec = values["assembly"]
    assert (spec["status"], spec["version"]) == ("approved", 3)
    edited = next(x for x in spec["crosswalks"] if x["column"] == "Status")
    got = next(v for v in edited["values"] if v["value"] == value["value"])
    assert got["canonical"] == other and "edited by a person" in got["evidence"]
    first = spec["survivorship"][0]
    assert (first["field"], first["rule"], first["sources"]) == (
        rule["field"],
        "first_non_null",
        sources,
    )
    assert any(f"Assembly {spec['assembly_id']} version 3" in t for t in texts)
    assert values["assembly_run"]["policies"] > 0
