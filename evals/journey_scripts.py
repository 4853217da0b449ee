"""Scripted conversations for the journey suite: the YAML format and its validation.

A script is a ``data-mash journey run`` script (agents/script.py) plus what the eval expects::

    journey: discovery                 # discovery | migration
    description: ingest and map the policy master
    inputs: {source_config: "{estate}/sources.yaml", source: policy_master}
    answers:                           # in order, one per question the journey asks
      - approve
      - {step: review_mapping, answer: approve}
    on_end: error
    expect:                            # outcomes checked after the run
      - ended: {}                      # the journey ran to its end (status done)
      - mapping_approved: {min_fields: 10}

``{estate}`` is replaced by the run's estate folder. Every problem is reported with the file and
line and what is wrong (``InputError``) before anything runs; ``expect`` and ``description`` are
removed before the script is handed to the runner, which checks the rest itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import InputError

SCRIPTS = Path(__file__).with_name("journeys")
KEYS = ("journey", "description", "thread", "inputs", "answers", "on_end", "expect")
#: Expected outcome -> its allowed parameters (all integers).
OUTCOMES: dict[str, tuple[str, ...]] = {
    "ended": (),
    "sources_ingested": ("min",),
    "mapping_approved": ("min_fields",),
    "routed": ("min",),
    "wave_reconciled": ("wave",),
    "tool_called": ("name",),
}
FIX = "see the format in evals/journey_scripts.py or docs/evals.md"


@dataclass
class JourneyScript:
    """A validated script."""

    path: Path
    journey: str
    description: str
    answers: list[Any]
    runner_script: dict[str, Any]
    """The script without ``expect``/``description``: what ``data-mash journey run`` reads."""
    expect: list[dict[str, Any]] = field(default_factory=list)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _fail(path: Path, node: yaml.Node | int, what: str) -> InputError:
    line = node if isinstance(node, int) else _line(node)
    return InputError(what, where=f"{path}:{line}", fix=FIX)


def _mapping(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def load_script(path: Path) -> JourneyScript:
    """Parse and validate one script; InputError names the file, line and problem."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _fail(
            path,
            (mark.line + 1) if mark else 1,
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read journey script: {exc}", where=str(path), fix=FIX) from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise _fail(
            path,
            root or 1,
            "a journey script must be a mapping with journey, inputs, answers, expect",
        )
    keys = _mapping(root)
    for key, (knode, _) in keys.items():
        if key not in KEYS:
            raise _fail(path, knode, f"unknown key '{key}'")
    if "journey" not in keys:
        raise _fail(path, root, "missing 'journey' (the journey to run)")
    journey_node = keys["journey"][1]
    if not isinstance(journey_node, yaml.ScalarNode) or not journey_node.value.strip():
        raise _fail(path, journey_node, "'journey' must be a name")
    if "inputs" in keys and not isinstance(keys["inputs"][1], yaml.MappingNode):
        raise _fail(path, keys["inputs"][1], "'inputs' must be a mapping")
    _answers(path, root, keys.get("answers"))
    expect = _expect(path, keys.get("expect"))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    runner = {k: v for k, v in data.items() if k not in ("expect", "description")}
    return JourneyScript(
        path,
        journey_node.value,
        str(data.get("description") or ""),
        list(data.get("answers") or []),
        runner,
        expect,
    )


def _answers(path: Path, root: yaml.Node, entry: tuple[yaml.Node, yaml.Node] | None) -> None:
    if entry is None:
        raise _fail(path, root, "missing 'answers' (one per question the journey asks)")
    node = entry[1]
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise _fail(path, node, "'answers' must be a non-empty list")
    for item in node.value:
        if isinstance(item, yaml.MappingNode):
            fields = _mapping(item)
            if "answer" not in fields or set(fields) - {"step", "answer"}:
                raise _fail(
                    path, item, "each answer is a bare answer or {step: STEP, answer: ANSWER}"
                )
        elif not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
            raise _fail(path, item, "an answer must be non-empty")


def _expect(path: Path, entry: tuple[yaml.Node, yaml.Node] | None) -> list[dict[str, Any]]:
    if entry is None:
        return []
    node = entry[1]
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(path, node, "'expect' must be a list of outcomes")
    out = []
    for item in node.value:
        fields = _mapping(item) if isinstance(item, yaml.MappingNode) else {}
        if len(fields) != 1:
            raise _fail(path, item, "each expected outcome must be one 'name: {parameters}'")
        name, (knode, params) = next(iter(fields.items()))
        if name not in OUTCOMES:
            raise _fail(path, knode, f"unknown outcome '{name}' (known: {', '.join(OUTCOMES)})")
        values = yaml.safe_load(yaml.serialize(params)) if params is not None else {}
        if not isinstance(values, dict) or set(values) - set(OUTCOMES[name]):
            raise _fail(path, params, f"'{name}' takes {', '.join(OUTCOMES[name])}")
        for key, value in values.items():
            if key != "name" and (not isinstance(value, int) or isinstance(value, bool)):
                raise _fail(path, params, f"'{name}.{key}' must be an integer, got {value!r}")
        out.append({name: values})
    return out


def load_scripts(where: Path | None) -> list[JourneyScript]:
    """Every ``*.yaml`` script of a folder (or one file); the packaged scripts by default."""
    where = SCRIPTS if where is None else Path(where)
    if not where.exists():
        raise InputError(
            "journey scripts not found",
            where=str(where),
            fix="give a YAML script or a folder of them",
        )
    files = sorted(where.glob("*.y*ml")) if where.is_dir() else [where]
    if not files:
        raise InputError("no journey scripts (*.yaml) in this folder", where=str(where), fix=FIX)
    return [load_script(f) for f in files]
