"""Scripted journeys: a YAML file of inputs and answers, run without a person.

```yaml
journey: discovery            # or migration
thread: estate-a              # optional; an existing thread is resumed
inputs:                       # for a new thread (paths relative to this file)
  files: [{path: billing.csv, format: csv, options: {delimiter: ";"}}]
answers:                      # in order, one per question the journey asks
  - {step: review_mapping, answer: "edit PolicyNo policy_core.policy_id"}
  - approve                   # the bare form skips the step check
on_end: error                 # or pause: stop with the journey waiting (resume later)
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agents.journey import AnswerError
from agents.mcp_client import with_named_folders
from agents.runner import JOURNEYS, Outcome, open_journey, validate_inputs
from core.errors import InputError
from core.settings import Settings

PATH_KEYS = ("path", "source_config", "rules", "copybook", "layout_file")


class ScriptedAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str | None = None
    answer: Any


class JourneyScript(BaseModel):
    model_config = ConfigDict(extra="forbid")

    journey: Literal["discovery", "migration"]
    thread: str | None = Field(None, min_length=1, max_length=128)
    inputs: dict[str, Any] = Field(default_factory=dict)
    answers: list[ScriptedAnswer] = Field(default_factory=list)
    on_end: Literal["error", "pause"] = "error"

    @field_validator("answers", mode="before")
    @classmethod
    def _bare_answers(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [v if isinstance(v, dict) and "answer" in v else {"answer": v} for v in value]
        return value


def load_script(path: Path) -> JourneyScript:
    """Read and check a journey script; errors name the file and the key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("journey script not found", where=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', exc)}", where=where) from None
    if not isinstance(raw, dict):
        raise InputError(
            "a journey script is a mapping with 'journey' and 'answers'", where=str(path)
        )
    try:
        script = JourneyScript.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(
            first["msg"],
            where=f"{path}: {loc}",
            fix=f"journey is one of {', '.join(JOURNEYS)}" if loc == "journey" else None,
        ) from None
    script.inputs = _resolve_paths(script.inputs, path.parent.resolve())
    return script


def _resolve_paths(value: Any, base: Path, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_paths(v, base, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_paths(v, base, key) for v in value]
    if key in PATH_KEYS and isinstance(value, str) and not Path(value).is_absolute():
        return str(base / value)
    return value


async def run_script(settings: Settings, path: Path, **journey_options: Any) -> Outcome:
    """Run ``path`` to its end (or, with ``on_end: pause``, to where its answers run out)."""
    script = load_script(path)

    settings = with_named_folders(settings, script.inputs)  # the servers may read those files
    async with open_journey(
        settings, journey=script.journey, thread_id=script.thread, mode="auto", **journey_options
    ) as session:
        before = await session.outcome()
        if not before.values:
            validate_inputs(script.journey, script.inputs, where=f"{path}: inputs")
            outcome = await session.start(script.inputs)
        else:
            outcome = await session.resume()
        for index, item in enumerate(script.answers):
            where = f"{path}: answers[{index}]"
            if outcome.question is None:
                raise InputError(
                    f"answer {index + 1} is left over: the journey is {outcome.status}",
                    where=where,
                    fix="remove the extra answers",
                )
            step = outcome.question["step"]
            if item.step and item.step != step:
                raise InputError(
                    f"this answer is for step '{item.step}' but the journey asks "
                    f"step '{step}': {outcome.question['prompt']}",
                    where=where,
                )
            try:
                outcome = await session.answer(item.answer)
            except AnswerError as exc:
                raise InputError(
                    f"{exc.what} (answer {item.answer!r})",
                    where=f"{where}, step '{exc.step}'",
                    fix=exc.fix,
                ) from None
        if outcome.question is not None and script.on_end == "error":
            raise InputError(
                f"the script ran out of answers; the journey waits at step "
                f"'{outcome.question['step']}': {outcome.question['prompt']}",
                where=str(path),
                fix="add an answer for it, or set on_end: pause "
                f"to stop here and resume thread '{outcome.thread_id}' later",
            )
        return outcome
