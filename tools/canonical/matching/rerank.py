"""Optional LLM re-ranking of low-confidence fields (any OpenAI-compatible chat client).

The prompt is ``prompts/rerank_mapping.md``: the column, sample values and the matcher's
candidates with their evidence go in; one JSON object ``{"target", "confidence", "reason"}``
comes out and is validated (the target must be one of the candidates, or null). A reply that
fails validation leaves the column as the matcher ranked it.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from tools.canonical.matching.types import ColumnMatch, MatchResult

PROMPT_FILE = Path(__file__).resolve().parents[3] / "prompts" / "rerank_mapping.md"
_JSON = re.compile(r"\{.*\}", re.S)


class RerankChoice(BaseModel):
    """The model's validated answer."""

    target: str | None
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str = ""


def render_prompt(result: MatchResult, match: ColumnMatch, template: str | None = None) -> str:
    """Fill the prompt template for one column."""
    text = template if template is not None else PROMPT_FILE.read_text(encoding="utf-8")
    lines = [
        f"{k}. {c.target} (score {c.score:.2f}, confidence {c.confidence:.2f}; signals: "
        + ", ".join(f"{n}={v:.2f}" for n, v in c.signals.items())
        + ")"
        for k, c in enumerate(match.candidates, start=1)
    ]
    values = {
        "canonical": result.canonical,
        "source_name": result.source_name or "(unnamed)",
        "column": match.column,
        "sample_values": ", ".join(repr(v) for v in match.sample_values) or "(none)",
        "candidates": "\n".join(lines),
    }
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def parse_choice(reply: str, match: ColumnMatch) -> RerankChoice | None:
    """Validate a model reply against the column's candidates; None when unusable."""
    found = _JSON.search(reply or "")
    if not found:
        return None
    try:
        choice = RerankChoice.model_validate(json.loads(found.group(0)))
    except (json.JSONDecodeError, ValidationError):
        return None
    if choice.target is not None and choice.target not in {c.target for c in match.candidates}:
        return None
    return choice


def _ask(client: Any, model: str, prompt: str) -> str:
    response = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        temperature=0,
    )
    return response.choices[0].message.content or ""


def rerank_with_llm(
    result: MatchResult,
    client: Any,
    model: str,
    *,
    below: float | None = None,
    template: str | None = None,
) -> MatchResult:
    """Ask the model to choose among the candidates of every low-confidence column.

    Args:
        result: the matcher's result (left unchanged; a new result is returned).
        client: an OpenAI-compatible client (``client.chat.completions.create``).
        model: model name.
        below: re-rank columns whose best confidence is below this (default: the threshold).
        template: prompt text instead of ``prompts/rerank_mapping.md``.

    Returns:
        A new :class:`MatchResult`; re-ranked columns carry ``reranked_by=model``. The model's
        confidence is capped just below the auto-accept threshold: an LLM choice goes to a
        person for approval, it is not auto-accepted.
    """
    limit = result.threshold if below is None else below
    cap = max(0.0, result.threshold - 0.01)
    columns: list[ColumnMatch] = []
    for match in result.columns:
        best = match.candidates[0] if match.candidates else None
        if best is None or (match.best is not None and best.confidence >= limit):
            columns.append(match)
            continue
        choice = parse_choice(_ask(client, model, render_prompt(result, match, template)), match)
        if choice is None:
            columns.append(match)
            continue
        if choice.target is None:
            columns.append(
                replace(
                    match,
                    unmapped_reason=f"LLM: {choice.reason or 'no candidate fits'}",
                    reranked_by=model,
                )
            )
            continue
        chosen = next(c for c in match.candidates if c.target == choice.target)
        chosen = replace(
            chosen,
            confidence=round(min(choice.confidence, cap), 4),
            signals={**chosen.signals, "llm": round(choice.confidence, 4)},
        )
        rest = [c for c in match.candidates if c.target != choice.target]
        columns.append(
            replace(match, candidates=[chosen, *rest], unmapped_reason=None, reranked_by=model)
        )
    return replace(result, columns=columns)
