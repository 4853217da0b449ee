"""Value types shared by every canonical policy model version.

Kept in one place so v1 and v2 agree on what a date, an amount of money or a status is, and so the
field catalogue and the Arrow schema can recognise them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

POLICY_STATUSES: tuple[str, ...] = ("active", "inactive", "pending", "cancelled", "expired")
COVERAGE_TYPES: tuple[str, ...] = (
    "life",
    "health",
    "disability",
    "accident",
    "property",
    "liability",
    "auto",
    "workers_compensation",
    "umbrella",
    "marine",
    "cyber",
    "annuity",
    "travel",
    "other",
)
FREQUENCIES: tuple[str, ...] = ("annual", "semi_annual", "quarterly", "monthly", "single", "other")

PolicyStatus = Literal["active", "inactive", "pending", "cancelled", "expired"]
CoverageType = Literal[
    "life",
    "health",
    "disability",
    "accident",
    "property",
    "liability",
    "auto",
    "workers_compensation",
    "umbrella",
    "marine",
    "cyber",
    "annuity",
    "travel",
    "other",
]
Frequency = Literal["annual", "semi_annual", "quarterly", "monthly", "single", "other"]
PaymentStatus = Literal["paid", "pending", "failed", "reversed", "refunded", "other"]
CommunicationChannel = Literal["email", "letter", "phone", "sms", "portal", "other"]
Direction = Literal["inbound", "outbound"]
NoticeType = Literal[
    "cancellation",
    "non_renewal",
    "renewal",
    "lapse",
    "reinstatement",
    "premium_due",
    "other",
]
ClaimStatus = Literal["open", "closed", "reopened", "denied", "other"]
SalesChannel = Literal["agent", "broker", "direct", "online", "bancassurance", "affinity", "other"]

MONEY_DIGITS = 18
MONEY_PLACES = 2
FACTOR_PLACES = 6


def _reject_numeric_date(value: Any) -> Any:
    # Legacy systems store dates as numbers (20240131, 1240131 CYYMMDD, Excel serials); pydantic
    # would read an int as a Unix timestamp and silently produce 1970 dates, so refuse numbers.
    if isinstance(value, bool) or isinstance(value, int | float | Decimal):
        raise ValueError(
            f"{value!r} is a number, not a date; convert legacy numeric dates "
            "(YYYYMMDD, CYYMMDD, Julian, Excel serial) to an ISO date YYYY-MM-DD first"
        )
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_reject_numeric_date)]
"""A calendar date: a `datetime.date` or an ISO `YYYY-MM-DD` string, never a bare number."""

Money = Annotated[Decimal, Field(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)]
"""A signed amount of money in the policy currency, at most 2 decimal places."""

NonNegativeMoney = Annotated[
    Decimal, Field(ge=0, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
]
"""An amount of money that cannot be below zero (limits, deductibles, written premium)."""

Factor = Annotated[Decimal, Field(max_digits=MONEY_DIGITS, decimal_places=FACTOR_PLACES)]
"""A rating factor or multiplier such as 1.125 or 0.85, at most 6 decimal places."""

Identifier = Annotated[str, Field(min_length=1, max_length=64)]
"""A business key as the legacy system printed it, leading zeros kept."""
