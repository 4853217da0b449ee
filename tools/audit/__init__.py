"""Write-ahead audit log and policy locations (ARCHITECTURE section 5)."""

from tools.audit.locations import LocationRecord, Move, MoveRecord, PolicyLocations
from tools.audit.log import COMPENSATED, FAILED, OK, PENDING, AuditLog, Operation
from tools.audit.records import AuditRecord

__all__ = [
    "COMPENSATED",
    "FAILED",
    "OK",
    "PENDING",
    "AuditLog",
    "AuditRecord",
    "LocationRecord",
    "Move",
    "MoveRecord",
    "Operation",
    "PolicyLocations",
]
