"""Migration targets (plugins in the ``data_mash.targets`` entry-point group) and their registry."""

from tools.waves.targets.base import POLICY_ID, MigrationTarget, TargetHealth
from tools.waves.targets.registry import known_targets, make_target, target_for

__all__ = [
    "POLICY_ID",
    "MigrationTarget",
    "TargetHealth",
    "known_targets",
    "make_target",
    "target_for",
]
