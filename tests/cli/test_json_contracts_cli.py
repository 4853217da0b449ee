"""Every command's `--json` is the dump of its contract model (issue 12).

One small demo workspace (the sample estate, assembled, planned, wave 0 run), then each command
family prints its JSON and the test validates it into the model the command (and its MCP tool)
is declared to return. The JSON must also equal the model's own dump of what it read back, so a
key the model does not declare, or a field renamed on one side only, fails here and not in a
script or an agent.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from agents.contracts import JourneyThreadList, McpClientConfigs
from cli.main import main
from core.settings import Settings
from core.store import open_store
from core.store.models import PolicyLocation
from evals.contracts import DemoReport, EvalReport
from tools.access.contracts import TokenCreated, TokenList
from tools.assembly.contracts import AssemblySpec, ConflictList, PolicyDocument, RelateResult
from tools.audit.contracts import AuditReplay, PolicyTrail
from tools.canonical.contracts import (
    CanonicalFieldList,
    ExportResult,
    MappingComparison,
    MappingList,
    MappingView,
    MapRunResult,
    SuggestedMapping,
    ValidationReport,
)
from tools.canonical.spec import MappingInfo
from tools.content.contracts import (
    CopybookLayout,
    FormatDetection,
    IngestBatch,
    IngestResult,
    RecordSlice,
    SourceList,
    SourceProfileReport,
)
from tools.health.contracts import DoctorReport
from tools.retention import RetentionResult
from tools.routing.contracts import (
    PolicyDecision,
    PolicyReroute,
    RouteRun,
    RuleFileValidation,
    RuleSetComparison,
    RuleSetInfo,
    RuleSetList,
)
from tools.sync.contracts import (
    ConflictPage,
    LedgerReport,
    LocatedPolicy,
    SyncRun,
    SyncStatus,
    WaveAdoption,
)
from tools.waves.contracts import (
    GateReport,
    Plan,
    PlanList,
    RollbackPreview,
    WaveList,
    WaveReconciliation,
    WaveStatus,
)
from tools.waves.tracker import PolicyLineage

RULES = Path(__file__).resolve().parents[2] / "knowledge" / "rules" / "example_rules.yaml"
ENV = {"DATA_MASH_EMBEDDING_PROVIDER": "none", "DATA_MASH_BATCH_SIZE": "100"}


def _run(args: list[str], codes: tuple[int, ...] = (0,)) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*args, "--json"])
    text = out.getvalue()
    assert code in codes, f"data-mash {' '.join(args)} exited {code}: {text[:500]}"
    assert text.count("\n") == 1, "one JSON document on one line"
    return text


def _conforms(model: type[BaseModel], text: str, **dump: bool) -> BaseModel:
    """``text`` validates into ``model`` and is exactly that model's dump: no key more, none
    renamed (a key the model lacks would vanish on the way back and the two would differ)."""
    parsed = model.model_validate_json(text)
    assert json.loads(text) == parsed.model_dump(mode="json", **dump)
    return parsed


@pytest.fixture(scope="module")
def ids(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A demo workspace (200 policies, whole policies, wave 0 run) and the ids in it."""
    home = tmp_path_factory.mktemp("contracts")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_MASH_HOME", str(home))
        for key, value in ENV.items():
            mp.setenv(key, value)
        for key in ("DATA_MASH_DB_URL", "DATA_MASH_TENANT"):
            mp.delenv(key, raising=False)
        demo = _conforms(DemoReport, _run(["demo", "--policies", "200", "--seed", "3"]))
        assert isinstance(demo, DemoReport) and demo.assembly is not None
        sources = {s["name"]: s["source_id"] for s in json.loads(_run(["sources"]))["sources"]}
        mappings = json.loads(_run(["mapping", "list"]))["mappings"]
        mapping = next(m for m in mappings if m["source_id"] == sources["policy_master"])
        waves = json.loads(_run(["wave", "list"]))["waves"]
        engine = open_store(Settings(home=home))
        with engine.connect() as conn:
            placed = conn.execute(
                select(PolicyLocation.policy_id, PolicyLocation.system).order_by(
                    PolicyLocation.policy_id
                )
            ).all()
        engine.dispose()
        migrated = next(p for p, system in placed if system == "new_platform")
        elsewhere = next(p for p, system in placed if system != "new_platform")
        csv = home / "tiny.csv"
        csv.write_text("policy_id,premium\nA1,10.50\nA2,3.25\n", encoding="utf-8")
        config = home / "tiny.yaml"
        config.write_text(
            f"version: 1\nsources:\n- name: tiny\n  system: tiny\n  path: {csv}\n  format: csv\n",
            encoding="utf-8",
        )
        yield {
            "home": str(home),
            "estate": str(demo.estate["path"]),
            "source": sources["policy_master"],
            "source2": sources["billing"],
            "mapping": mapping["mapping_id"],
            "assembly": demo.assembly["assembly_ids"][0],
            "wave0": waves[0]["wave_id"],
            "last_wave": waves[-1]["wave_id"],
            "migrated": migrated,
            "elsewhere": elsewhere,
            "csv": str(csv),
            "config": str(config),
            "rules": str(RULES),
        }


@pytest.fixture
def env(ids: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("DATA_MASH_HOME", ids["home"])
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    for key in ("DATA_MASH_DB_URL", "DATA_MASH_TENANT"):
        monkeypatch.delenv(key, raising=False)
    return ids


# (command line with {ids}, its contract model, exit codes it may end with). Read-only first,
# then the commands that write (they may change what a later read sees).
CASES: list[tuple[str, type[BaseModel], tuple[int, ...]]] = [
    ("sources", SourceList, (0,)),
    ("head {source} --limit 3 --offset 1", RecordSlice, (0,)),
    ("profile {source}", SourceProfileReport, (0,)),
    ("layout {estate}/policy_master/POLMAST.cpy", CopybookLayout, (0,)),
    ("ingest {csv} --detect", FormatDetection, (0,)),
    ("fields", CanonicalFieldList, (0,)),
    ("mapping list", MappingList, (0,)),
    ("mapping show {mapping}", MappingInfo, (0,)),
    ("validate-mapping {mapping}", ValidationReport, (0,)),
    ("mapping diff {mapping} 1 1 --impact", MappingComparison, (0,)),
    ("rules validate {rules}", RuleFileValidation, (0,)),
    ("rules list", RuleSetList, (0,)),
    (
        'rules evaluate example_rules --policy {{"policy_core.status":"active"}}',
        PolicyDecision,
        (0,),
    ),
    ("rules diff example_rules@1 example_rules@1 --source {source}", RuleSetComparison, (0,)),
    ("plan list", PlanList, (0,)),
    ("wave list", WaveList, (0,)),
    ("wave status {wave0}", WaveStatus, (0,)),
    ("gates {last_wave}", GateReport, (0,)),
    ("wave rollback {wave0} --dry-run", RollbackPreview, (0,)),
    ("wave reconcile {wave0}", WaveReconciliation, (0, 1)),
    ("gc --dry-run", RetentionResult, (0,)),
    ("lineage {migrated}", PolicyLineage, (0,)),
    ("locate {migrated}", LocatedPolicy, (0,)),
    ("audit {migrated}", PolicyTrail, (0,)),
    ("replay --limit 5", AuditReplay, (0,)),
    ("relate {source} {source2}", RelateResult, (0,)),
    ("assembly conflicts {assembly}", ConflictList, (0,)),
    ("policy show {migrated}", PolicyDocument, (0,)),
    ("sync status", SyncStatus, (0,)),
    ("sync conflicts", ConflictPage, (0,)),
    ("token list", TokenList, (0,)),
    ("journey list", JourneyThreadList, (0,)),
    ("mcp-config", McpClientConfigs, (0,)),
    # Writes.
    ("ingest {csv} --format csv", IngestResult, (0,)),
    ("ingest --source-config {config}", IngestBatch, (0,)),
    ("mapping run {mapping}", MapRunResult, (0,)),
    ("export {mapping} --format json --out {home}/export --overwrite", ExportResult, (0,)),
    ("rules add {rules}", RuleSetInfo, (0,)),
    ("route --rules {rules} {source} --dry-run", RouteRun, (0,)),
    ("reroute {elsewhere} --to data_quality_queue --reason contract-test", PolicyReroute, (0,)),
    ("generate-plan --assembly {assembly} --target new_platform", Plan, (0,)),
    ("sync ledger --from-wave {wave0}", LedgerReport, (0,)),
    ("sync adopt {wave0}", WaveAdoption, (0,)),
    ("sync run", SyncRun, (0,)),
    ("token create --role viewer", TokenCreated, (0,)),
    ("assembly propose --root {source}", AssemblySpec, (0,)),
    ("map-to-canonical {source}", SuggestedMapping, (0,)),
    ("approve-mapping {mapping}", MappingView, (0,)),
]


@pytest.mark.parametrize(
    ("command", "model", "codes"), CASES, ids=[c[0].split(" {")[0] for c in CASES]
)
def test_json_is_the_contract_models_dump(
    env: dict[str, str], command: str, model: type[BaseModel], codes: tuple[int, ...]
) -> None:
    args = [part.format(**env) for part in command.split()]
    _conforms(model, _run(args, codes))


def test_doctor_json_is_the_health_report(env: dict[str, str]) -> None:
    # application/health+json: camelCase keys, empty ones left out; exit 1 when a check fails.
    _conforms(DoctorReport, _run(["doctor"], (0, 1)), by_alias=True, exclude_none=True)


def test_eval_json_is_the_eval_report(env: dict[str, str]) -> None:
    report = _conforms(EvalReport, _run(["eval", "routing", "--policies", "60"]))
    assert isinstance(report, EvalReport) and report.suite == "routing"


def test_a_renamed_field_breaks_the_check() -> None:
    """The check above is strict: a key the model does not know is a failure, not ignored."""
    good = SourceList(sources=[], total=0).model_dump_json()
    _conforms(SourceList, good)
    with pytest.raises(ValidationError):  # a required field renamed
        _conforms(SourceList, good.replace('"sources"', '"source_list"'))
    with pytest.raises(AssertionError):  # an optional one renamed: its key would vanish
        _conforms(SourceList, good.replace('"note"', '"notes"'))


def test_emit_refuses_a_plain_dict() -> None:
    from cli.context import AppState
    from cli.output import emit

    with pytest.raises(TypeError, match="contract model"):
        emit(AppState(json=True), {"sources": []}, lambda _console: None)  # type: ignore[arg-type]
