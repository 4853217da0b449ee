"""Free-form questions between journey steps: a tool-calling loop over the hub's MCP tools.

The loop streams the model's answer (so a terminal can show it as it comes), counts tokens per
tenant against the budget, and turns every endpoint failure into one readable line. Without an
LLM it answers with the note that free-form questions need one.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.utils import message_chunk_to_message

from agents.llm import LlmAccess, describe_llm_error
from agents.mcp_client import CapabilityMissing, McpHub, ToolFailed
from core.retry import retry_call_async

MAX_TOOL_ROUNDS = 6
MAX_TOOL_RESULT_CHARS = 8_000
HISTORY_MESSAGES = 8


async def answer_question(
    llm: LlmAccess,
    hub: McpHub,
    text: str,
    *,
    system: str,
    history: list[BaseMessage],
    thread_id: str | None,
) -> list[BaseMessage]:
    """The new messages of one question: the question, tool calls and results, the answer."""
    asked = HumanMessage(content=text)
    if not llm.available:
        return [asked, AIMessage(content=llm.why_not())]
    if llm.ledger.remaining(llm.tenant) <= 0:
        return [
            asked,
            AIMessage(
                content=(
                    f"The LLM token budget of tenant '{llm.tenant}' "
                    f"({llm.ledger.budget} tokens) is "
                    "used up; raise DATA_MASH_LLM_TOKEN_BUDGET to ask more. The journey continues."
                )
            ),
        ]
    assert llm.model is not None
    tools = await hub.langchain_tools()
    model = llm.model.bind_tools(tools) if tools else llm.model
    earlier = [
        m
        for m in history
        if isinstance(m, HumanMessage) or (isinstance(m, AIMessage) and not m.tool_calls)
    ][-HISTORY_MESSAGES:]
    convo: list[BaseMessage] = [SystemMessage(content=system), *earlier, asked]
    new: list[BaseMessage] = [asked]
    for _ in range(MAX_TOOL_ROUNDS):
        try:
            reply = await _stream(model, convo, llm)
        except Exception as exc:  # noqa: BLE001  (every endpoint failure becomes one line)
            message, fatal = describe_llm_error(exc, getattr(llm.model, "openai_api_base", None))
            if fatal:
                llm.off_reason = message
            return [*new, AIMessage(content=message)]
        usage = dict(reply.usage_metadata) if reply.usage_metadata else None
        llm.ledger.record(llm.tenant, usage, model=llm.model_name, thread_id=thread_id)
        convo.append(reply)
        new.append(reply)
        if not reply.tool_calls:
            return new
        for call in reply.tool_calls:
            result = await _run_tool(hub, call["name"], call.get("args") or {})
            answer = ToolMessage(
                content=result, tool_call_id=call["id"] or call["name"], name=call["name"]
            )
            convo.append(answer)
            new.append(answer)
    final = AIMessage(
        content=f"I stopped after {MAX_TOOL_ROUNDS} rounds of tool calls without "
        "an answer; ask a narrower question."
    )
    return [*new, final]


async def _stream(model: Any, convo: list[BaseMessage], llm: LlmAccess) -> AIMessage:
    """Stream one model turn, forwarding text as it comes; return the whole message.

    A transient failure (429, 5xx, timeout, reset) is retried with backoff or the server's
    ``Retry-After`` (operation ``llm_chat``) as long as no text has been shown yet: a retry
    after that would show the answer twice.
    """
    shown = False

    async def once() -> Any:
        nonlocal shown
        total: Any = None
        async for chunk in model.astream(convo):
            if llm.on_text is not None and isinstance(chunk.content, str) and chunk.content:
                llm.on_text(chunk.content)
                shown = True
            total = chunk if total is None else total + chunk
        return total

    total = await retry_call_async("llm_chat", once, retry_if=lambda _exc: not shown, **llm.retry)
    if total is None:
        return AIMessage(content="")
    if isinstance(total, AIMessageChunk):
        return message_chunk_to_message(total)  # type: ignore[return-value]
    return total


async def _run_tool(hub: McpHub, name: str, args: dict[str, Any]) -> str:
    try:
        data = await hub.call(name, args)
    except (CapabilityMissing, ToolFailed) as exc:
        return f"ERROR: {exc}"
    text = json.dumps(data, default=str, ensure_ascii=False)
    if len(text) > MAX_TOOL_RESULT_CHARS:
        text = (
            text[:MAX_TOOL_RESULT_CHARS] + f" ... [truncated {len(text)} chars; page with "
            "limit/cursor or ask about one column]"
        )
    return text
