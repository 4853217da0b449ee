"""One-to-one assignment of source columns to targets (Hungarian, greedy fallback)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

try:  # scipy is a declared dependency; the greedy path keeps a broken install usable
    from scipy.optimize import linear_sum_assignment
except ImportError:  # pragma: no cover - exercised only without scipy
    linear_sum_assignment = None


def assign(
    scores: np.ndarray,
    *,
    capacity: Sequence[int] | None = None,
    extra_penalty: float = 0.05,
    min_score: float = 0.0,
    allowed: np.ndarray | None = None,
) -> dict[int, int]:
    """Assign each row (source) at most one column (target) maximising the total score.

    Args:
        scores: (rows, cols) similarities in [0, 1].
        capacity: how many rows each column may take (default 1); list paths of a
            canonical model take several columns (three `CHG_LINES[]` fields feeding
            `endorsements[].changes`).
        extra_penalty: score taken off every additional slot of a column, so a column's second
            row is only given when nothing else fits it.
        min_score: pairs below this are never assigned.
        allowed: optional boolean mask of pairs that may be assigned.

    Returns:
        row index -> column index for assigned rows.
    """
    rows, cols = scores.shape
    if rows == 0 or cols == 0:
        return {}
    caps = list(capacity) if capacity is not None else [1] * cols
    slots = [j for j in range(cols) for _ in range(max(1, caps[j]))]
    rank = np.array([k for j in range(cols) for k in range(max(1, caps[j]))], dtype=float)
    expanded = scores[:, slots] - extra_penalty * rank[None, :]
    ok = scores[:, slots] >= min_score
    if allowed is not None:
        ok &= allowed[:, slots]
    expanded = np.where(ok, expanded, -1.0)
    if linear_sum_assignment is not None:
        r, c = linear_sum_assignment(expanded, maximize=True)
        pairs: Iterable[tuple[int, int]] = zip(r.tolist(), c.tolist(), strict=True)
    else:
        pairs = _greedy(expanded)
    return {i: slots[k] for i, k in pairs if ok[i, k]}


def _greedy(matrix: np.ndarray) -> list[tuple[int, int]]:
    order = np.dstack(np.unravel_index(np.argsort(-matrix, axis=None), matrix.shape))[0]
    used_r: set[int] = set()
    used_c: set[int] = set()
    out = []
    for i, k in order.tolist():
        if i in used_r or k in used_c:
            continue
        used_r.add(i)
        used_c.add(k)
        out.append((i, k))
    return out
