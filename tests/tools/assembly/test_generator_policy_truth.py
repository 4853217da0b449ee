"""Issue 15, item 8: the estate generator itself writes the true assembled document of every
clean policy (``ground_truth/policies.jsonl``), streamed chunk by chunk, without any of
data-mash's ``tools/``; the assembly run reproduces it, and so does the plain-Python join over
the staged records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from assembly_estates import IngestedEstate, ingest_estate

from evals.assembly_score import assemble_estate
from evals.assembly_truth import truth_documents
from evals.estate.policy_truth import POLICIES_FILE, SUMMARY_FILE, load_policy_truth
from tools.assembly.keyspace import parquet_files
from tools.content.sources import SourceRegistry

_GENERATE = """
import json, sys
from pathlib import Path
from evals.estate import generate_estate
generate_estate(Path(sys.argv[1]), policies=int(sys.argv[2]), seed=7)
print(json.dumps(sorted(m for m in sys.modules if m == "tools" or m.startswith("tools."))))
"""


def test_generator_writes_the_truth_without_tools(tmp_path: Path) -> None:
    # Two chunks' worth of policies, so the per-chunk join is exercised across a boundary.
    out = subprocess.run(
        [sys.executable, "-c", _GENERATE, str(tmp_path), "600"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    lines = (tmp_path / POLICIES_FILE).read_text("utf-8").splitlines()
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text("utf-8"))
    assert summary["policies"] == 600
    assert 0.7 * 600 < summary["clean"] == len(lines) < 600
    assert summary["unexplained"] == 0
    docs = [json.loads(line) for line in lines]
    assert len({(d["root"], d["policy_id"]) for d in docs}) == len(docs)
    assert {d["root"] for d in docs} == {
        "policy_master",
        "agency_policies",
        "life",
        "acquired_policy",
    }
    # whole policies: children of other systems are in them
    assert any(d["policy"].get("claims_links") for d in docs)
    assert any(d["policy"].get("payments", {}).get("payment_history") for d in docs)
    manifest = json.loads((tmp_path / "estate.json").read_text("utf-8"))
    assert manifest["ground_truth"]["policies"] == POLICIES_FILE


def test_generator_truth_equals_the_join_of_the_staged_records(estate7: IngestedEstate) -> None:
    infos = SourceRegistry(estate7.engine, tenant="default").list()
    staged = truth_documents(estate7.root, {i.name: parquet_files(i) for i in infos})
    written = load_policy_truth(estate7.root)
    assert (written.policies, written.clean) == (staged.policies, staged.clean)
    assert written.documents == staged.documents


def test_assembly_run_equals_the_generator_truth(tmp_path: Path) -> None:
    estate = ingest_estate(tmp_path, policies=600, seed=7)
    assembled = assemble_estate(
        estate.engine, estate.settings, estate.root, estate.ids, tenant="default"
    )
    truth = load_policy_truth(estate.root)
    assert assembled.clean == truth.clean > 0.7 * 600
    assert all(d.found == d.clean for d in assembled.documents.values())
    assert assembled.equal_share is not None and assembled.equal_share >= 0.995, [
        d.differences for d in assembled.documents.values()
    ]
