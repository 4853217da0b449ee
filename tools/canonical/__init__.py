"""Mapping sources to the canonical model: specs, versions, bulk mapping, change impact, exports.

The schema matcher that proposes mappings lives in `tools.canonical.matching`; everything here is
what happens to a mapping after it is proposed.
"""

from tools.canonical.export import ExportedFile, ExportResult, export_mapping
from tools.canonical.impact import ChangeImpact, assess_mapping_change
from tools.canonical.output import canonical_records, read_canonical, read_quarantine
from tools.canonical.repository import (
    approve_mapping,
    approved_mapping,
    create_mapping,
    get_mapping,
    list_mappings,
    update_field_mapping,
)
from tools.canonical.reverse import ReverseMapping, TargetColumn, map_from_canonical
from tools.canonical.run import MapRunResult, ValidationReport, map_to_canonical, validate_records
from tools.canonical.spec import (
    FieldChange,
    FieldRule,
    MappingDiff,
    MappingInfo,
    MappingSummary,
    diff_mappings,
)

__all__ = [
    "ChangeImpact",
    "ExportResult",
    "ExportedFile",
    "FieldChange",
    "FieldRule",
    "MapRunResult",
    "MappingDiff",
    "MappingInfo",
    "MappingSummary",
    "ReverseMapping",
    "TargetColumn",
    "ValidationReport",
    "approve_mapping",
    "approved_mapping",
    "assess_mapping_change",
    "canonical_records",
    "create_mapping",
    "diff_mappings",
    "export_mapping",
    "get_mapping",
    "list_mappings",
    "map_from_canonical",
    "map_to_canonical",
    "read_canonical",
    "read_quarantine",
    "update_field_mapping",
    "validate_records",
]
