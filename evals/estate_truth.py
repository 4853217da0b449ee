"""Ground truth of a generated estate, recomputed from its seed: true values per policy.

The estate generator draws every policy attribute from ``make_chunk(seed, chunk_index, ...)``,
so the true (canonical) values of any policy can be recomputed without reading the files. The
content suite compares decoded values with them and the routing suite routes them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals.estate import pools
from evals.estate.keys import number_of
from evals.estate.universe import CHUNK_POLICIES, HOME_LIFE, HOME_SYSTEMS, make_chunk

_FIELDS = (
    "home",
    "status",
    "policy_type",
    "eff_days",
    "exp_days",
    "issue_days",
    "city",
    "premium_cents",
    "frequency",
    "balance_cents",
)


@dataclass
class Universe:
    """Columns of every policy of an estate, indexed by policy number - 1."""

    home: np.ndarray
    status: np.ndarray
    policy_type: np.ndarray
    eff_days: np.ndarray
    exp_days: np.ndarray
    issue_days: np.ndarray
    city: np.ndarray
    premium_cents: np.ndarray
    frequency: np.ndarray
    balance_cents: np.ndarray

    @property
    def n(self) -> int:
        return len(self.home)

    def type_name(self, i: int) -> str:
        """Canonical policy type of row ``i`` (life policies draw from the life types)."""
        names = pools.LIFE_TYPES if self.home[i] == HOME_LIFE else pools.PC_TYPES
        return names[int(self.policy_type[i])]

    def system(self, i: int) -> str:
        """The policy's home (policy-level) system."""
        return HOME_SYSTEMS[int(self.home[i])]


def universe(policies: int, seed: int) -> Universe:
    """Recompute the true attributes of every policy (chunk by chunk, as the generator does)."""
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    for index, start in enumerate(range(0, policies, CHUNK_POLICIES)):
        chunk = make_chunk(seed, index, start, min(CHUNK_POLICIES, policies - start))
        for name in _FIELDS:
            parts[name].append(getattr(chunk, name))
    return Universe(**{name: np.concatenate(parts[name]) for name in _FIELDS})


def problems(estate: Path) -> list[dict[str, Any]]:
    """The injected problems (``ground_truth/problems.jsonl``), one dict per record and kind."""
    path = estate / "ground_truth" / "problems.jsonl"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def policy_number(value: Any) -> int | None:
    """``P000000097`` / ``97`` / ``KX-000097`` / ``kx000097-01`` / the acquired key -> 97.

    Any other value falls back to its digits; None when it holds none.
    """
    if value is None:
        return None
    number = number_of(value)
    if number is not None:
        return number
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return int(digits) if digits else None


def expected_value(u: Universe, row: int, path: str, source: str) -> Any:
    """The true value of canonical ``path`` for policy row ``row`` as source ``source`` holds it.

    Only the policy-level figures the content suite checks; None for any other path.
    Life contracts hold the modal premium (annual premium / payments per year).
    """
    if path == "policy_core.effective_date":
        return np.datetime64(int(u.eff_days[row]), "D").astype(object)
    if path == "policy_core.expiration_date":
        return np.datetime64(int(u.exp_days[row]), "D").astype(object)
    if path == "rating_components.premium_amount":
        cents = int(u.premium_cents[row])
        if source == "life":
            cents //= (1, 2, 4, 12)[int(u.frequency[row])]
        return cents / 100
    if path == "payments.outstanding_balance":
        return int(u.balance_cents[row]) / 100
    return None
