"""Three-way, field-level merge of one policy: base (last agreed), legacy, new.

Record-level last-writer-wins silently reverts a field only one side changed (locorda/sync-engine
#50). Here every field is compared with the base on its own:

- changed on one side only: that side's value is applied, unconditionally;
- changed on both sides to the same value: nothing to decide;
- changed on both sides to different values: a conflict, decided by the field group's strategy
  in the conflict policy (owner wins, newest wins by hybrid logical clock, state machine), or
  queued for a person (manual), in which case the base value stays until someone decides.

A list item deleted on one side and edited on the other is one conflict on the whole item.
The merge is a pure function of its inputs: the same inputs give the same result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from pydantic import BaseModel

from tools.sync.contracts import FieldDecision, HlcStamp, MergeResult, Owner, Side, Strategy
from tools.sync.paths import MISSING, flatten, unflatten
from tools.sync.policy import ConflictPolicy, FieldGroup

Document = Mapping[str, Any] | BaseModel
#: A side's clock: one stamp for its whole change, or a stamp per flattened path.
SideStamps = HlcStamp | Mapping[str, HlcStamp]
_ITEM_END = re.compile(r"\]")


def _flat(document: Document | None) -> Mapping[str, Any]:
    """The document flattened; a flat one as it is (the merge only reads it)."""
    if document is None:
        return {}
    if isinstance(document, BaseModel):
        return flatten(document)
    for value in document.values():
        if isinstance(value, dict | list | tuple):
            return flatten(dict(document))
    return document  # already flat (dotted paths, scalar leaves): nothing to walk


def _shown(value: Any) -> Any:
    return None if value is MISSING else value


def _items(flat: Mapping[str, Any]) -> set[str]:
    return {path[: m.end()] for path in flat if "]" in path for m in _ITEM_END.finditer(path)}


def _under(path: str, prefix: str) -> bool:
    return path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] in (".", "[")


def _stamp(stamps: SideStamps | None, path: str) -> HlcStamp | None:
    if stamps is None or isinstance(stamps, HlcStamp):
        return stamps
    return stamps.get(path)


class _Decider:
    def __init__(
        self,
        policy: ConflictPolicy,
        owner: Owner,
        stamps: Mapping[Side, SideStamps | None],
    ) -> None:
        self.policy = policy
        self.owner = owner
        self.stamps = stamps

    def decide(self, path: str, base: Any, legacy: Any, new: Any) -> FieldDecision:
        group = self.policy.group_for(path)
        winner, strategy, reason = self._winner(group, group.resolve, path, legacy, new)
        value = {Side.LEGACY: legacy, Side.NEW: new}.get(winner, base) if winner else base
        return FieldDecision(
            path=path,
            group=group.name,
            strategy=strategy,
            base=_shown(base),
            legacy=_shown(legacy),
            new=_shown(new),
            winner=winner,
            value=_shown(value),
            reason=reason,
        )

    def _winner(
        self, group: FieldGroup, strategy: Strategy, path: str, legacy: Any, new: Any
    ) -> tuple[Side | None, Strategy, str]:
        if strategy is Strategy.OWNER_WINS:
            if self.owner is Owner.DUAL:
                return self._fallback(group, path, legacy, new, "owned by both sides (dual)")
            return Side(self.owner.value), strategy, f"{self.owner.value} owns the policy"
        if strategy is Strategy.NEWEST_WINS:
            left = _stamp(self.stamps.get(Side.LEGACY), path)
            right = _stamp(self.stamps.get(Side.NEW), path)
            if left is None or right is None or left == right:
                if strategy is group.fallback:
                    return None, Strategy.MANUAL, "no clock stamp for both sides; queued"
                return self._fallback(group, path, legacy, new, "no clock stamp for both sides")
            side = Side.LEGACY if left > right else Side.NEW
            return side, strategy, f"newer change: {max(left, right)} over {min(left, right)}"
        if strategy is Strategy.STATE_MACHINE:
            ranks = {value: i for i, value in enumerate(group.precedence)}
            if legacy in ranks and new in ranks:
                side = Side.LEGACY if ranks[legacy] < ranks[new] else Side.NEW
                won, lost = (legacy, new) if side is Side.LEGACY else (new, legacy)
                return side, strategy, f"{won!r} beats {lost!r}"
            return self._fallback(group, path, legacy, new, "a value outside 'precedence'")
        return None, Strategy.MANUAL, "queued for a person"

    def _fallback(
        self, group: FieldGroup, path: str, legacy: Any, new: Any, why: str
    ) -> tuple[Side | None, Strategy, str]:
        if group.fallback is Strategy.MANUAL:
            return None, Strategy.MANUAL, f"{why}; queued for a person"
        side, strategy, reason = self._winner(group, group.fallback, path, legacy, new)
        return side, strategy, f"{why}; {reason}"


def merge(
    base: Document | None,
    legacy: Document | None,
    new: Document | None,
    policy: ConflictPolicy,
    *,
    owner: Owner = Owner.DUAL,
    legacy_stamps: SideStamps | None = None,
    new_stamps: SideStamps | None = None,
) -> MergeResult:
    """Merge one policy's two sides against their last agreed version.

    Args:
        base: The version both sides last agreed on (None for a policy never synced).
        legacy: The legacy side's current document.
        new: The new platform's current document.
        policy: The conflict policy deciding two-sided changes per field group.
        owner: The policy's system of record (for ``owner_wins``).
        legacy_stamps: The legacy side's HLC stamp of its change (or one per path).
        new_stamps: The new side's stamp(s), for ``newest_wins``.

    Returns:
        The merged document (flattened), the paths applied from each side, the conflicts
        decided by policy and those queued, and which sides need the merged values.
    """
    found = merge_flat(
        _flat(base),
        _flat(legacy),
        _flat(new),
        policy,
        owner=owner,
        legacy_stamps=legacy_stamps,
        new_stamps=new_stamps,
    )
    return MergeResult(
        merged=found.merged,
        from_legacy=found.from_legacy,
        from_new=found.from_new,
        resolved=found.resolved,
        queued=found.queued,
        ping_back=found.ping_back,
    )


class FlatMerge(NamedTuple):
    """:func:`merge_flat`'s result: :class:`MergeResult`'s fields, without a model to build."""

    merged: dict[str, Any]
    from_legacy: list[str]
    from_new: list[str]
    resolved: list[FieldDecision]
    queued: list[FieldDecision]
    ping_back: list[Side]


def merge_flat(
    b: Mapping[str, Any],
    left: Mapping[str, Any],
    right: Mapping[str, Any],
    policy: ConflictPolicy,
    *,
    owner: Owner = Owner.DUAL,
    legacy_stamps: SideStamps | None = None,
    new_stamps: SideStamps | None = None,
    ping_back: bool = True,
) -> FlatMerge:
    """:func:`merge` of documents already flat (the applier's, thousands a second).

    Only read, never changed; ``merged`` is a new dict the caller may keep. ``ping_back=False``
    skips working out which sides lack the merged values (``ping_back`` is then empty): the
    applier compares each side with what it should hold itself.
    """
    decider = _Decider(policy, owner, {Side.LEGACY: legacy_stamps, Side.NEW: new_stamps})
    merged: dict[str, Any] = {}
    from_legacy: list[str] = []
    from_new: list[str] = []
    resolved: list[FieldDecision] = []
    queued: list[FieldDecision] = []

    def changed(side: Mapping[str, Any], prefix: str) -> bool:
        return any(
            side.get(p, MISSING) != b.get(p, MISSING)
            for p in set(side) | set(b)
            if _under(p, prefix)
        )

    # Delete-versus-edit of a list item is decided once, for the whole item.
    base_items = _items(b)
    left_items, right_items = (_items(left), _items(right)) if base_items else (set(), set())
    item_conflicts = sorted(
        prefix
        for prefix in base_items
        if (prefix not in left_items and prefix in right_items and changed(right, prefix))
        or (prefix not in right_items and prefix in left_items and changed(left, prefix))
    )
    item_conflicts = [
        p for p in item_conflicts if not any(_under(p, q) for q in item_conflicts if q != p)
    ]
    settled: set[str] = set()
    for prefix in item_conflicts:
        paths = sorted(p for p in set(b) | set(left) | set(right) if _under(p, prefix))
        settled.update(paths)

        def sub(side: Mapping[str, Any], paths: list[str] = paths) -> Any:
            part = {p: side[p] for p in paths if p in side}
            return part or MISSING

        decision = decider.decide(prefix, sub(b), sub(left), sub(right))
        source = {Side.LEGACY: left, Side.NEW: right}.get(decision.winner) if decision.winner else b
        for p in paths:
            merged[p] = source.get(p, MISSING) if source is not None else MISSING
        decision = decision.model_copy(
            update={k: _unflat(getattr(decision, k)) for k in ("base", "legacy", "new", "value")}
        )
        (resolved if decision.winner else queued).append(decision)

    every = set(b).union(left, right)
    for path in sorted(every - settled if settled else every):
        was, lv, nv = b.get(path, MISSING), left.get(path, MISSING), right.get(path, MISSING)
        if lv == was and nv == was:
            merged[path] = was
        elif lv == was:
            merged[path] = nv
            from_new.append(path)
        elif nv in (was, lv):
            merged[path] = lv
            if nv == was:
                from_legacy.append(path)
        else:
            decision = decider.decide(path, was, lv, nv)
            won = {Side.LEGACY: lv, Side.NEW: nv}
            merged[path] = won[decision.winner] if decision.winner else was
            (resolved if decision.winner else queued).append(decision)

    owed = []
    if ping_back and policy.ping_back:
        held = {d.path for d in queued}
        shared = (
            merged
            if not held
            else {p: v for p, v in merged.items() if not any(p == q or _under(p, q) for q in held)}
        )
        for side, values in ((Side.LEGACY, left), (Side.NEW, right)):
            if any(values.get(p, MISSING) != v for p, v in shared.items()):
                owed.append(side)
    return FlatMerge(
        merged={p: v for p, v in merged.items() if v is not MISSING},
        from_legacy=from_legacy,
        from_new=from_new,
        resolved=resolved,
        queued=queued,
        ping_back=owed,
    )


def _unflat(value: Any) -> Any:
    if isinstance(value, dict):
        return unflatten(value)
    return _shown(value)


def merged_document(result: MergeResult) -> dict[str, Any]:
    """The merged policy as a nested document again."""
    return unflatten(result.merged)
