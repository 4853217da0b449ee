"""The assembly run: whole policies from every source, the seam waves read, bad input."""

from __future__ import annotations

import pyarrow as pa
import pytest
from assembly_estates import IngestedEstate

from core.errors import InputError, NotFoundError
from knowledge.canonical import arrow_schema
from tools.assembly.contracts import AssemblySpec
from tools.assembly.output import assembled_batches, assembly_dir, show_policy
from tools.assembly.run import run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly
from tools.canonical.repository import approve_mapping


def _propose(estate: IngestedEstate, root: str) -> AssemblySpec:
    return propose_assembly(
        estate.engine, estate.settings, estate.ids[root], None, tenant="default"
    )


@pytest.fixture(scope="module")
def approved(estate7: IngestedEstate) -> AssemblySpec:
    spec = _propose(estate7, "agency_policies")
    approve_mapping(estate7.engine, spec.root_mapping_id, tenant="default")
    return approve_assembly(estate7.engine, spec.assembly_id, tenant="default")


def test_run_writes_one_canonical_document_per_policy(
    estate7: IngestedEstate, approved: AssemblySpec
) -> None:
    with pytest.raises(NotFoundError, match="has not been run") as err:
        next(assembled_batches(estate7.settings, "default", approved.assembly_id))
    assert f"data-mash assembly run {approved.assembly_id}" in (err.value.fix or "")
    result = run_assembly(
        estate7.engine,
        estate7.settings,
        approved.assembly_id,
        tenant="default",
        batch_policies=50,
    )
    assert result.policies == result.complete + result.partial + result.quarantined > 100
    assert result.batches == -(-result.policies // 50)
    batches = list(
        assembled_batches(estate7.settings, "default", approved.assembly_id, batch_size=64)
    )
    table = pa.Table.from_batches(batches)
    assert table.schema == arrow_schema("policy_v1")
    ids = table.column("policy_core.policy_id").to_pylist()
    assert len(ids) == len(set(ids)) == result.complete + result.partial
    assert ids == sorted(ids)
    # child components arrive as lists: some policies carry payments and endorsements
    assert any(table.column("endorsements").to_pylist())
    by_source = {c.source: c for c in result.components}
    assert by_source["agency_agents"].kind == "lookup"
    # the same run again is a no-op returning the same counts
    again = run_assembly(estate7.engine, estate7.settings, approved.assembly_id, tenant="default")
    assert again.model_dump(exclude={"resumed_batches"}) == result.model_dump(
        exclude={"resumed_batches"}
    )
    doc = show_policy(estate7.engine, estate7.settings, "default", ids[0], None)
    assert doc.policy.policy_core.policy_id == ids[0]
    assert doc.assembly_id == approved.assembly_id
    fields = {p.field: p for p in doc.provenance}
    assert fields["policy_core.policy_id"].source == "agency_policies"
    assert fields["policy_core.policy_id"].columns == ["Policy Number"]
    assert doc.completeness["agency_policies"].arrived == 1


def test_an_unapproved_assembly_does_not_run(estate7: IngestedEstate) -> None:
    spec = _propose(estate7, "acquired_policy")
    with pytest.raises(InputError, match="is not approved") as err:
        run_assembly(estate7.engine, estate7.settings, spec.assembly_id, tenant="default")
    assert f"assembly approve {spec.assembly_id}" in (err.value.fix or "")
    assert not assembly_dir(estate7.settings, "default", spec.assembly_id).exists()
    with pytest.raises(NotFoundError, match="no assembly 'asm-nosuch'"):
        run_assembly(estate7.engine, estate7.settings, "asm-nosuch", tenant="default")
