"""Fuzz (hypothesis, derandomized and bounded): the routing YAML loader, the gate expression
parser and the source-config loader give a result or a DataMashError, nothing else.

Each property runs a few hundred generated inputs in a few seconds; the inputs mix structured
documents (dumped from generated data, then mutated) with raw text over YAML's and the
expression language's special characters, control characters included.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DataMashError
from tools.content.source_config import load_source_config
from tools.routing import load_rule_set, validate_rule_set
from tools.waves.expressions import evaluate_rule, parse_rule

FUZZ = settings(
    # The normal suite runs a few hundred inputs; benchmarks/fuzz_loaders.py runs thousands.
    max_examples=int(os.environ.get("DATA_MASH_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=True,  # the same inputs on every run: a failure reproduces
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

_YAML_CHARS = "abc xyz019:-[]{}&*!|>'\"#,?%@.\n\t\x00\x0b\u00e9\u2028"
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True),
    st.text(alphabet=_YAML_CHARS, max_size=12),
    st.sampled_from(
        [
            "routing_rules",
            "rules",
            "version",
            "name",
            "priority",
            "condition",
            "target",
            "field",
            "operator",
            "value",
            "equals",
            "in",
            "is_null",
            "sources",
            "path",
            "format",
            "options",
            "policy_core.status",
            "true",
            "NewPlatformAPI",
            "*a",
            "&a x",
        ]
    ),
)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(alphabet="abcdefgnoprstuvy_", max_size=10), inner, max_size=4),
    ),
    max_leaves=20,
)


@st.composite
def yaml_documents(draw: st.DrawFn, top: str) -> str:
    """A YAML document: dumped generated data, a rule-set-shaped one, or raw text; mutated."""
    kind = draw(st.sampled_from(["data", "shaped", "raw"]))
    if kind == "raw":
        text = draw(st.text(alphabet=_YAML_CHARS, max_size=200))
    else:
        data: Any = draw(_DATA)
        if kind == "shaped":
            data = {top: {"version": draw(_SCALARS), "rules": draw(st.lists(_DATA, max_size=3))}}
        text = yaml.safe_dump(data, allow_unicode=True)
    if text and draw(st.booleans()):  # a mutation: one character inserted somewhere
        at = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + draw(st.sampled_from(list(_YAML_CHARS))) + text[at:]
    return text + "\n"  # always more than one line: text, never read as a file path


@FUZZ
@given(yaml_documents("routing_rules"))
def test_routing_yaml_loader(text: str) -> None:
    report = validate_rule_set(text)
    assert all(isinstance(e.message, str) for e in report.errors)
    try:
        load_rule_set(text)
    except DataMashError:
        pass


_TOKENS = [
    "status",
    "premium_amount",
    "effective_date",
    "coverage_sections",
    "x.y",
    "(",
    ")",
    ",",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "true",
    "false",
    "date",
    "length",
    "lower",
    "is_null",
    "'active'",
    "'2024-01-01'",
    "'soon'",
    "0",
    "5",
    "1.5",
    "9" * 40,
    "@",
    "\x00",
    "'",
    '"',
]
BATCH = pa.RecordBatch.from_pydict(
    {
        "policy_core.status": ["active", None],
        "policy_core.effective_date": pa.array([dt.date(2024, 1, 1), None], pa.date32()),
        "rating_components.premium_amount": pa.array([100.0, 0.0]),
        "coverage_sections": pa.array([[{"a": 1}], []], pa.list_(pa.struct([("a", pa.int64())]))),
    }
)


@FUZZ
@given(
    st.one_of(
        st.lists(st.sampled_from(_TOKENS), max_size=25).map(" ".join),
        st.lists(st.sampled_from(_TOKENS), max_size=25).map("".join),
        st.text(alphabet="()+-*/<>=!'\" abcdinotrsu019.,\x00", max_size=60),
    )
)
def test_gate_expression_parser(rule: str) -> None:
    try:
        node = parse_rule(rule)
        result = evaluate_rule(rule, BATCH, node)
    except DataMashError:
        return
    assert len(result) == BATCH.num_rows


@FUZZ
@given(yaml_documents("sources"))
def test_source_config_loader(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "sources.yaml"
        config.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_source_config(config)
        except DataMashError:
            pass
