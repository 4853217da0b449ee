"""Assigning policies to waves: wave 0 = clean candidates, then line of business, complexity and
state, packed up to a size cap. Pure numpy over the plan's columns; no I/O."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COMPLEXITY_NAMES = ("simple", "moderate", "complex")
_MAX_STATES_IN_LABEL = 4


@dataclass(frozen=True)
class WaveGroup:
    number: int
    label: str
    size: int


def complexity_of(coverages: np.ndarray, bounds: tuple[int, int]) -> np.ndarray:
    """0 simple, 1 moderate, 2 complex, by coverage count."""
    return np.where(coverages <= bounds[0], 0, np.where(coverages <= bounds[1], 1, 2)).astype(
        np.int8
    )


def _chunks(indices: np.ndarray, cap: int | None) -> list[np.ndarray]:
    if cap is None or len(indices) <= cap:
        return [indices]
    return [indices[i : i + cap] for i in range(0, len(indices), cap)]


def assign_waves(
    clean: np.ndarray,
    lob: np.ndarray,
    state: np.ndarray,
    complexity: np.ndarray,
    *,
    max_size: int,
    wave0_max: int | None = None,
) -> tuple[np.ndarray, list[WaveGroup]]:
    """Wave number per policy, and each wave's label and size.

    Args:
        clean: True where every record gate is predicted to pass (wave 0).
        lob: Line of business per policy (strings; ``"unknown"`` where missing).
        state: State per policy (strings).
        complexity: 0/1/2 per policy (:func:`complexity_of`).
        max_size: Size cap of the later waves.
        wave0_max: Cap of wave 0 (None: one wave 0 of every clean candidate).
    """
    waves = np.full(len(clean), -1, np.int32)
    groups: list[WaveGroup] = []
    clean_idx = np.flatnonzero(clean)
    parts = _chunks(clean_idx, wave0_max) if len(clean_idx) else []
    for part_no, part in enumerate(parts):
        label = "clean candidates" + (f" (part {part_no + 1})" if len(parts) > 1 else "")
        waves[part] = len(groups)
        groups.append(WaveGroup(len(groups), label, len(part)))
    rest = np.flatnonzero(~clean)
    if not len(rest):
        return waves, groups
    lob_u, lob_code = np.unique(lob[rest], return_inverse=True)
    state_u, state_code = np.unique(state[rest], return_inverse=True)
    order = rest[np.lexsort((state_code, complexity[rest], lob_code))]
    keys = np.stack([lob_code, complexity[rest], state_code], axis=1)[
        np.lexsort((state_code, complexity[rest], lob_code))
    ]
    # Runs of equal (lob, complexity, state) in sorted order.
    change = np.flatnonzero(np.any(keys[1:] != keys[:-1], axis=1)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(order)]])
    current: list[np.ndarray] = []
    current_states: list[str] = []
    current_key: tuple[int, int] | None = None

    def close() -> None:
        nonlocal current, current_states
        if current:
            members = np.concatenate(current)
            lob_name = current_lob[0]
            shown = current_states[:_MAX_STATES_IN_LABEL]
            more = len(current_states) - len(shown)
            label = (
                f"{lob_name} / {COMPLEXITY_NAMES[current_cx[0]]} / "
                f"{', '.join(shown)}{f' +{more}' if more > 0 else ''}"
            )
            waves[members] = len(groups)
            groups.append(WaveGroup(len(groups), label, len(members)))
        current, current_states = [], []

    current_lob: list[str] = [""]
    current_cx: list[int] = [0]
    for start, end in zip(starts, ends, strict=True):
        lob_c, cx, st_c = (int(v) for v in keys[start])
        if current_key != (lob_c, cx):
            close()
            current_key = (lob_c, cx)
            current_lob[0], current_cx[0] = str(lob_u[lob_c]), cx
        run = order[start:end]
        size = sum(len(c) for c in current)
        if size + len(run) > max_size:
            close()
            for chunk in _chunks(run, max_size)[:-1]:
                current, current_states = [chunk], [str(state_u[st_c])]
                close()
            run = _chunks(run, max_size)[-1]
        current.append(run)
        current_states.append(str(state_u[st_c]))
    close()
    return waves, groups
