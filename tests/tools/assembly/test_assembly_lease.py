"""A second assembly run of the same assembly is refused naming the live one (pid, host, since),
and writes nothing; the lease is free again afterwards."""

from __future__ import annotations

import os
import socket

import pytest
from assembly_estates import IngestedEstate

from core.store.leases import LeaseHeld, hold_lease
from tools.assembly.output import run_dir
from tools.assembly.run import run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly
from tools.canonical.repository import approve_mapping, get_mapping


def test_a_second_assembly_run_is_refused_while_one_holds_the_lease(
    estate7: IngestedEstate,
) -> None:
    engine, settings = estate7.engine, estate7.settings
    spec = propose_assembly(
        engine, settings, estate7.ids["agency_policies"], None, tenant="default"
    )
    if get_mapping(engine, spec.root_mapping_id, tenant="default").approved_version is None:
        approve_mapping(engine, spec.root_mapping_id, tenant="default")
    spec = approve_assembly(engine, spec.assembly_id, tenant="default")
    name = f"assembly:{spec.assembly_id}"
    with hold_lease(engine, "default", name, what=f"assembly run {spec.assembly_id}"):
        with pytest.raises(LeaseHeld) as refused:
            run_assembly(engine, settings, spec.assembly_id, tenant="default")
    assert (
        f"assembly run {spec.assembly_id} is already running (pid {os.getpid()} on "
        f"{socket.gethostname()[:255]}, since 20" in refused.value.message
    )
    folder = run_dir(settings, "default", spec.assembly_id)
    assert not folder.exists() or not any(folder.iterdir())  # the refused run wrote nothing
    result = run_assembly(engine, settings, spec.assembly_id, tenant="default", batch_policies=80)
    assert result.policies > 0
