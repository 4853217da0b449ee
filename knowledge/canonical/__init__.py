"""Canonical policy models (v1, v2), their field catalogue, Arrow form, registry and migrations."""

from knowledge.canonical.arrow import arrow_schema, arrow_to_records, records_to_arrow
from knowledge.canonical.catalogue import CanonicalField, field_by_path, fields, mandatory_paths
from knowledge.canonical.migrations import migrate_record, migration_path
from knowledge.canonical.parties import Address, AgentInfo, Party
from knowledge.canonical.parts import (
    ClaimLink,
    Communication,
    Coverage,
    Deductibles,
    Document,
    Endorsement,
    Limits,
    Notice,
    PaymentRecord,
    RatingCalculation,
    RatingFactor,
)
from knowledge.canonical.policy_v1 import (
    CanonicalPolicyV1,
    Correspondence,
    Payments,
    PolicyCore,
    RatingComponents,
)
from knowledge.canonical.policy_v2 import CanonicalPolicyV2, PolicyCoreV2, RatingComponentsV2
from knowledge.canonical.registry import (
    ModelVersion,
    get_model,
    get_version,
    json_schema,
    list_versions,
    register_model,
)
from knowledge.canonical.validation import FieldError, validate_record, validation_errors

__all__ = [
    "Address",
    "AgentInfo",
    "CanonicalField",
    "CanonicalPolicyV1",
    "CanonicalPolicyV2",
    "ClaimLink",
    "Communication",
    "Correspondence",
    "Coverage",
    "Deductibles",
    "Document",
    "Endorsement",
    "FieldError",
    "Limits",
    "ModelVersion",
    "Notice",
    "Party",
    "PaymentRecord",
    "Payments",
    "PolicyCore",
    "PolicyCoreV2",
    "RatingCalculation",
    "RatingComponents",
    "RatingComponentsV2",
    "RatingFactor",
    "arrow_schema",
    "arrow_to_records",
    "field_by_path",
    "fields",
    "get_model",
    "get_version",
    "json_schema",
    "list_versions",
    "mandatory_paths",
    "migrate_record",
    "migration_path",
    "records_to_arrow",
    "register_model",
    "validate_record",
    "validation_errors",
]
