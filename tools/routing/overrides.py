"""Manual overrides: reroute policies by hand (audited as reversals), and a policy's history.

Manual overrides (``reroute_policy``, ``reroute_selection``) are audited as ``routing/reroute``
entries carrying each policy's previous system and the entry that had placed it there. A policy
a wave migrated is refused: its row stays in the target, so roll the wave back first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine

from core.errors import InputError, NotFoundError
from core.targets import canonical_target, same_target, target_help
from tools.audit import AuditLog, AuditRecord, LocationRecord, Move, MoveRecord, PolicyLocations
from tools.routing.placements import current_locations, held_by_waves
from tools.routing.rulesets import NAMESPACE


class RerouteResult(BaseModel):
    """What a manual reroute changed."""

    target: str
    moved: list[str] = Field(description="Policies moved to the target.")
    unchanged: list[str] = Field(description="Policies already in the target (no move).")
    previous: dict[str, str] = Field(description="policy_id -> system it left.")
    entry_id: int | None = Field(description="Audit entry of the reroute; None if nothing moved.")


def _refuse_migrated(conn: Connection, tenant: str, located: dict[str, Any]) -> None:
    """Refuse to move policies whose rows a wave put into (and left in) its target.

    Rerouting changes the location only; the row would stay in the target and the location
    would stop telling the truth (reconciliation of the wave then fails).
    """
    held = held_by_waves(conn, tenant, located)
    if held:
        pid, wave = next(iter(held.items()))
        more = f" (and {len(held) - 1} more)" if len(held) > 1 else ""
        raise InputError(
            f"policy {pid}{more} was migrated to {wave.target} by wave {wave.wave_id} "
            f"({wave.status}); its row stays in {wave.target}, so rerouting would make its "
            "location lie",
            where=pid,
            fix=f"roll the wave back first (data-mash wave rollback {wave.wave_id}), then "
            "reroute; or move it out of the target with a later wave",
        )


def reroute_selection(
    engine: Engine, policy_ids: Sequence[str], target: str, reason: str, *, tenant: str
) -> RerouteResult:
    """Move routed policies to ``target`` by hand, audited as a reversal of their routing.

    Args:
        engine: The store.
        policy_ids: Policies to move; each must have been routed (have a location) before.
        target: System to move them to.
        reason: Why (kept on the moves and in the audit entry); required.
        tenant: Tenant.

    Returns:
        Moved and unchanged policies (already in ``target``: re-running is harmless).

    Raises:
        InputError: empty target, reason or selection.
        NotFoundError: a policy has never been routed.
    """
    target, reason = target.strip(), reason.strip()
    if not target:
        raise InputError("no target system given", fix=f"name the system, one of: {target_help()}")
    target = canonical_target(target, where="--to")
    if not reason:
        raise InputError("a reroute needs a reason", fix='say why, e.g. --reason "broker request"')
    wanted = list(dict.fromkeys(p.strip() for p in policy_ids if p and p.strip()))
    if not wanted:
        raise InputError("no policy ids given", fix="name at least one policy id")
    with engine.connect() as conn:
        current = current_locations(conn, tenant, wanted)
    unknown = [pid for pid in wanted if pid not in current]
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise NotFoundError(
            f"policy {shown} has not been routed yet, so it cannot be rerouted",
            fix="route its source first: data-mash route --rules RULES SOURCE",
        )
    moving = [pid for pid in wanted if not same_target(current[pid].system, target)]
    unchanged = [pid for pid in wanted if same_target(current[pid].system, target)]
    with engine.connect() as conn:
        _refuse_migrated(conn, tenant, {pid: current[pid] for pid in moving})
    previous = {pid: current[pid].system for pid in moving}
    if not moving:
        return RerouteResult(
            target=target, moved=[], unchanged=unchanged, previous={}, entry_id=None
        )
    payload = {
        "to": target,
        "reason": reason,
        "previous": previous,
        "reverses": {pid: current[pid].entry_id for pid in moving},
    }
    log = AuditLog(engine, tenant=tenant)
    with log.operation(
        NAMESPACE,
        "reroute",
        target=moving[0] if len(moving) == 1 else f"{len(moving)} policies",
        payload=payload,
        policy_ids=moving,
    ) as op:
        op.outcome = {"moved": len(moving)}
        with op.atomic() as conn:
            PolicyLocations(engine, tenant=tenant).record_moves(
                conn, [Move(pid, target, reason=reason) for pid in moving], entry_id=op.entry_id
            )
    return RerouteResult(
        target=target, moved=moving, unchanged=unchanged, previous=previous, entry_id=op.entry_id
    )


def reroute_policy(
    engine: Engine, policy_id: str, target: str, reason: str, *, tenant: str
) -> RerouteResult:
    """Move one routed policy to ``target`` by hand (see :func:`reroute_selection`)."""
    return reroute_selection(engine, [policy_id], target, reason, tenant=tenant)


class RoutingHistory(BaseModel):
    """Where a policy is, every move that took it there, and the audit entries behind them."""

    policy_id: str
    location: LocationRecord | None
    moves: list[MoveRecord]
    entries: list[AuditRecord]


def routing_history(engine: Engine, policy_id: str, *, tenant: str) -> RoutingHistory:
    """A policy's location, moves (oldest first) and audit trail.

    Raises:
        NotFoundError: nothing was ever recorded for the policy.
    """
    locations = PolicyLocations(engine, tenant=tenant)
    history = RoutingHistory(
        policy_id=policy_id,
        location=locations.locate(policy_id),
        moves=locations.history(policy_id),
        entries=AuditLog(engine, tenant=tenant).trail(policy_id),
    )
    if history.location is None and not history.moves and not history.entries:
        raise NotFoundError(
            f"nothing is recorded for policy '{policy_id}' (tenant {tenant!r})",
            fix="check the id; policies appear once their source is routed",
        )
    return history
