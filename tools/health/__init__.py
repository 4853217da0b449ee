"""Health: liveness, readiness checks and the doctor's report. No HTTP in here."""

from tools.health.checks import liveness, readiness
from tools.health.contracts import (
    HEALTH_MEDIA_TYPE,
    CheckResult,
    DoctorReport,
    HealthReport,
    HealthStatus,
)
from tools.health.doctor import doctor

__all__ = [
    "HEALTH_MEDIA_TYPE",
    "CheckResult",
    "DoctorReport",
    "HealthReport",
    "HealthStatus",
    "doctor",
    "liveness",
    "readiness",
]
