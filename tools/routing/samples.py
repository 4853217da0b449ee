"""Synthetic canonical batches for tests, demos and benchmarks of routing (deterministic).

Columns follow the canonical Arrow schema (``knowledge.canonical.arrow_schema``): a subset of
scalar leaves with their real types (dates as date32, money as decimal128). Policy ids start
with A..H so prefix rules fire; about 4% of statuses are missing, 3% are not in the closed
status set and 6% of records lack both status and effective date (scores below 0.8).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pyarrow as pa

from knowledge.canonical import arrow_schema

COLUMNS = (
    "policy_core.policy_id",
    "policy_core.status",
    "policy_core.effective_date",
    "policy_core.expiration_date",
    "policy_core.policy_type",
    "policy_core.insured_party.address.state",
    "rating_components.premium_amount",
    "payments.payment_plan",
)
_STATUSES = np.array(["active"] * 6 + ["inactive", "pending", "cancelled", "expired"])
_TYPES = np.array(["auto", "homeowners", "life", "term_life", "commercial_property"])
_STATES = np.array(["NY", "CA", "TX", "FL", "OH"])
_PLANS = np.array(["monthly", "quarterly", "annual", "legacy-only"])
_EPOCH = dt.date(1970, 1, 1)


def canonical_schema() -> pa.Schema:
    """The subset of the canonical v1 Arrow schema the samples fill."""
    full = arrow_schema("policy_v1")
    return pa.schema([full.field(name) for name in COLUMNS])


def sample_batch(start: int, rows: int, *, seed: int = 7) -> pa.RecordBatch:
    """Canonical records ``start .. start+rows-1`` (the same ids and values for the same seed)."""
    rng = np.random.default_rng(seed + start)
    numbers = np.arange(start, start + rows)
    prefixes = np.array(list("ABCDEFGH"))[numbers % 8]
    ids = np.char.add(prefixes, np.char.zfill(numbers.astype(str), 8))
    status = _STATUSES[rng.integers(0, len(_STATUSES), rows)].astype(object)
    status[rng.random(rows) < 0.04] = None
    status[rng.random(rows) < 0.03] = "zombie"
    broken = rng.random(rows) < 0.06  # no status and no effective date: scores below 0.8
    status[broken] = None
    effective = rng.integers(10_000, 20_000, rows)
    expiration = effective + 365
    premium = rng.integers(10_000, 500_000, rows)
    schema = canonical_schema()
    money = schema.field("rating_components.premium_amount").type
    columns = [
        pa.array(ids, pa.string()),
        pa.array(status, pa.string()),
        pa.array(effective.astype("int32"), pa.int32(), mask=broken).cast(pa.date32()),
        pa.array(expiration.astype("int32"), pa.int32()).cast(pa.date32()),
        pa.array(_TYPES[rng.integers(0, len(_TYPES), rows)], pa.string()),
        pa.array(_STATES[rng.integers(0, len(_STATES), rows)], pa.string()),
        pa.array([Decimal(int(p)) / 100 for p in premium], money),
        pa.array(_PLANS[rng.integers(0, len(_PLANS), rows)], pa.string()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def sample_batches(policies: int, batch_size: int, *, seed: int = 7) -> Iterator[pa.RecordBatch]:
    """``policies`` canonical records in batches of ``batch_size``."""
    for start in range(0, policies, batch_size):
        yield sample_batch(start, min(batch_size, policies - start), seed=seed)
