"""Write-ahead audit log and policy locations (ARCHITECTURE section 5)."""

from tools.audit.contracts import AuditRecord, AuditStatus
from tools.audit.locations import LocationRecord, Move, MoveRecord, PolicyLocations
from tools.audit.log import COMPENSATED, FAILED, OK, PENDING, AuditLog, Operation

__all__ = [
    "COMPENSATED",
    "FAILED",
    "OK",
    "PENDING",
    "AuditLog",
    "AuditRecord",
    "AuditStatus",
    "LocationRecord",
    "Move",
    "MoveRecord",
    "Operation",
    "PolicyLocations",
]
