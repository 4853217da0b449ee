"""Evidence that conditions a column's candidates on more than its own name.

- business roles (``knowledge/glossary/roles.yaml``): a name that speaks of one role (producer,
  writing company, policyholder) is not a field of another role;
- values lead: when a code column's values are a code table's codes, fields whose tables do not
  know them lose to it, whatever the names say;
- twins: fields with the same leaf in several components (``effective_date`` of the policy,
  of a coverage, of an endorsement) are told apart by the source's role, i.e. which
  component the column's siblings belong to (the other columns of a flat file, the other
  leaves of the same repeated group).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from knowledge.glossary import business_roles

ROLE_CONFLICT = 0.8
"""Score factor for a field of another business role than the one the column's name speaks of."""
VALUES_LEAD = 0.8
"""Score factor for a field whose codes do not cover a code column whose values another
field's code table knows (share >= ``LEAD_SHARE``)."""
LEAD_SHARE = 0.6
LEAD_GAP = 0.4
LEAD_MIN_CODES = 3
TWIN_OFF = 0.85
"""Score factor for a twin whose component the column's siblings do not point to."""
_SEQUENCE = re.compile(r"^\d{1,3}$")


class Target(Protocol):
    """What this module needs of a canonical field (``canonical.TargetField``)."""

    @property
    def path(self) -> str: ...
    @property
    def component(self) -> str: ...
    @property
    def is_list(self) -> bool: ...


def role_matrix(role_readings: Sequence[str], targets: Sequence[Target]) -> np.ndarray:
    """Factor per (column, field): ``ROLE_CONFLICT`` where the column's reading names one role
    and the field belongs to another (or the role has no field in the model), else 1."""
    roles = business_roles()
    owner: dict[int, str] = {}
    for j, t in enumerate(targets):
        for role in roles:
            if any(t.path.startswith(prefix) for prefix in role.fields):
                owner[j] = role.name
    words = {role.canonical: role.name for role in roles}
    out = np.ones((len(role_readings), len(targets)))
    for i, reading in enumerate(role_readings):
        spoken = {words[w] for w in reading.split() if w in words}
        if len(spoken) != 1:
            continue  # no role, or two (agent of the insured?): say nothing
        (named,) = spoken
        for j in range(len(targets)):
            if owner.get(j) not in (None, named):
                out[i, j] = ROLE_CONFLICT
    return out


def is_sequence(values: Sequence[str]) -> bool:
    """Small integers counting items (1, 2, 3): a line number, never a code."""
    return bool(values) and all(_SEQUENCE.match(v) for v in values)


def is_counter(values: Sequence[str], present: int) -> bool:
    """An item's number within its parent (coverage line 1, 2, 3 of each policy): the distinct
    values are the integers from 0 or 1 up without a gap, and they repeat (the count restarts
    for every parent; a surrogate key 1..N of a root table does not repeat)."""
    if not values or not all(v.isdigit() and len(v) <= 3 for v in values):
        return False
    numbers = sorted({int(v) for v in values})
    return (
        numbers[0] <= 1
        and numbers == list(range(numbers[0], numbers[-1] + 1))
        and (present >= 2 * len(numbers))
    )


COUNTER_OFF = 0.7
"""Score factor for any field but a list item's identifier when a column is an item counter."""


def counter_matrix(counters: Sequence[bool], targets: Sequence[Target]) -> np.ndarray:
    """Factor per (column, field): ``COUNTER_OFF`` for fields other than the identifier of a
    list item (``coverage_id``, ``endorsement_id``...) when the column counts items within
    their parent (``is_counter``). A line number 1, 2, 3 is not an address line, a limit or a
    coverage type, however its name reads ("line", "number")."""
    item_ids = np.array([t.is_list and _leaf(t.path).endswith("_id") for t in targets], bool)
    rows = np.array(counters, dtype=bool)
    return np.where(rows[:, None] & ~item_ids[None, :], COUNTER_OFF, 1.0)


def values_lead(code: np.ndarray, distinct: Sequence[int]) -> np.ndarray:
    """Factor per (column, field): ``VALUES_LEAD`` for fields that know far fewer of a code
    column's values than the best-knowing field does (a coverage-kind column is not the
    coverage id, even named like it), else 1. ``code`` is ``canonical.code_matrix``;
    ``distinct`` the number of distinct code values per column: two (F/M, Y/N) are too few
    to lead, any table knows them by accident."""
    hits = np.nan_to_num(code, nan=0.0)
    best = hits.max(axis=1, keepdims=True) if hits.size else hits
    enough = np.array([n >= LEAD_MIN_CODES for n in distinct], dtype=bool)[:, None]
    lead = enough & (best >= LEAD_SHARE) & (hits <= best - LEAD_GAP)
    return np.where(lead, VALUES_LEAD, 1.0)


def _leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1].replace("[]", "")


def _group(name: str) -> str:
    """The repeated group of a column (``receipts[]``), or '' for a flat column."""
    return name.rsplit("[]", 1)[0] + "[]" if "[]" in name else ""


def twin_matrix(
    names: Sequence[str], scores: np.ndarray, targets: Sequence[Target], keys: Sequence[bool]
) -> np.ndarray:
    """Factor per (column, field): ``TWIN_OFF`` for a twin outside the component its siblings
    point to.

    Twins are fields sharing a leaf (``status`` of the policy, of a payment, of a claim).
    Siblings are the columns of the same group (the same ``X[]`` prefix, or every flat column);
    each votes for the component of its best field, weighted by that score, itself and key
    columns (``keys``: the join key says nothing about the file's role) excluded.
    """
    out = np.ones(scores.shape)
    if scores.size == 0:
        return out
    twins: dict[str, list[int]] = defaultdict(list)
    for j, t in enumerate(targets):
        twins[_leaf(t.path)].append(j)
    twins = {k: v for k, v in twins.items() if len({targets[j].component for j in v}) > 1}
    if not twins:
        return out
    best = scores.argmax(axis=1)
    groups = [_group(n) for n in names]
    for i in range(len(names)):
        votes: dict[str, float] = defaultdict(float)
        for k in range(len(names)):
            if k != i and groups[k] == groups[i] and not keys[k]:
                votes[targets[best[k]].component] += float(scores[k, best[k]])
        if not votes:
            continue
        for members in twins.values():
            if not any(scores[i, j] > 0 for j in members):
                continue
            share = {j: votes.get(targets[j].component, 0.0) for j in members}
            top = max(share.values())
            if top <= 0:
                continue
            for j in members:
                if share[j] < top:
                    out[i, j] = TWIN_OFF
    return out


SHAPE_OFF = 0.7
"""Score factor for an identifier field when a column's values are words, not identifiers."""
_WORDY = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+)+$")


SINGLE_WORD_FIELDS = ("first_name", "last_name")
"""Leaves whose values are one word each: a column of full names is neither."""


def shape_matrix(samples: Sequence[Sequence[str]], targets: Sequence[Target]) -> np.ndarray:
    """Factor per (column, field): ``SHAPE_OFF`` for an identifier field (``*_id``) or a name
    part (given or family name) when most of a column's values are several words without a
    digit (``Ana Berger``): a full name, not a key nor a part of a name."""
    ids = np.array(
        [_leaf(t.path).endswith("_id") or _leaf(t.path) in SINGLE_WORD_FIELDS for t in targets],
        dtype=bool,
    )
    wordy = np.array(
        [bool(s) and sum(bool(_WORDY.match(v)) for v in s) >= 0.8 * len(s) for s in samples],
        dtype=bool,
    )
    return np.where(wordy[:, None] & ids[None, :], SHAPE_OFF, 1.0)


GROUP_OFF = 0.8
"""Score factor for a field outside the list component a repeated group's name points to."""
_STEM = re.compile(r"[a-z]{3,}")


def _stems(text: str) -> list[str]:
    return [w[:-1] if w.endswith("s") and len(w) > 3 else w for w in _STEM.findall(text.lower())]


def group_matrix(
    names: Sequence[str],
    group_readings: Sequence[str],
    targets: Sequence[Target],
    texts: Sequence[str],
) -> np.ndarray:
    """Factor per (column, field): ``GROUP_OFF`` for the fields of list components other than
    the one a repeated group's name (``transactions[]``, ``covers[]``) speaks of most.

    ``group_readings`` is the expanded reading of each column's group ('' for flat columns);
    ``texts`` each field's path words and description. A component's weight is how often the
    group's words (plural or not) occur in its fields' texts; a tie says nothing.
    """
    out = np.ones((len(names), len(targets)))
    components: dict[str, list[str]] = defaultdict(list)
    for j, t in enumerate(targets):
        if t.is_list:
            components[t.component].extend(_stems(texts[j]))
    for i, reading in enumerate(group_readings):
        words = set(_stems(reading))
        if not words:
            continue
        weight = {c: sum(w in words for w in stems) for c, stems in components.items()}
        ranked = sorted(weight.values(), reverse=True)
        if not ranked or ranked[0] == 0 or (len(ranked) > 1 and ranked[0] == ranked[1]):
            continue
        top = max(weight, key=lambda c: weight[c])
        for j, t in enumerate(targets):
            if t.is_list and t.component != top:
                out[i, j] = GROUP_OFF
    return out


LONE_OFF = 0.85
"""Score factor for a list field that no other column of a flat file points into."""


def lone_matrix(
    names: Sequence[str], scores: np.ndarray, targets: Sequence[Target], keys: Sequence[bool]
) -> np.ndarray:
    """Factor per (column, field): ``LONE_OFF`` for a list field of a flat file when none of
    the file's other (non-key) columns has its best field in that list component.

    A flat file is a root table (one row per policy) or a child table (one row per item); a
    column that alone would put the root's row into a list component (``created_at`` of a
    policy table into ``correspondence.documents``) is weaker evidence than its name says.
    """
    out = np.ones(scores.shape)
    if scores.size == 0:
        return out
    best = scores.argmax(axis=1)
    flat = [k for k, n in enumerate(names) if "[]" not in n and not keys[k]]
    for i in flat:
        others = {targets[best[k]].component for k in flat if k != i}
        for j, t in enumerate(targets):
            if t.is_list and t.component not in others:
                out[i, j] = LONE_OFF
    return out


TENSE_OFF = 0.7
"""Score factor for a field of a record of past events when a column's name speaks of the
future (``NextDueDate`` is an instalment not yet paid, not a payment's due date)."""
FUTURE_WORDS = frozenset(
    {"next", "upcoming", "future", "forthcoming", "scheduled", "projected", "expected", "planned"}
)
"""Qualifiers of a date or amount that has not happened yet (ACORD/OED usage: NextDueDate,
NextBillDate, ScheduledPaymentAmt, ProjectedPremium)."""
PAST_EVENT_COMPONENTS = frozenset({"payments.payment_history", "claims_links"})
"""List components whose items are events that happened: a payment received or attempted, a
claim reported (see their descriptions in ``knowledge/canonical``)."""


def tense_matrix(readings: Sequence[str], targets: Sequence[Target]) -> np.ndarray:
    """Factor per (column, field): ``TENSE_OFF`` for the fields of a past-event component when
    the column's reading holds a future qualifier (``next due date``), else 1."""
    future = np.array([bool(FUTURE_WORDS & set(r.split())) for r in readings], dtype=bool)
    past = np.array([t.component in PAST_EVENT_COMPONENTS for t in targets], dtype=bool)
    return np.where(future[:, None] & past[None, :], TENSE_OFF, 1.0)
