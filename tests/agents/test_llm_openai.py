"""The real OpenAI client path (langchain-openai ChatOpenAI, streaming, tool calls, retries)
against a local OpenAI-compatible stub server: no network, the code path of a real endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from agents.freeform import answer_question
from agents.llm import TokenLedger, llm_access, probe_endpoint
from agents.mcp_client import McpHub, builtin_specs
from core.metrics import ERRORS, RETRIES
from core.settings import Settings
from tests.agents.openai_stub import Reply, serve_stub
from tests.servers.clients import free_port

FAST_RETRY = {"retry-after-ms": "10", "retry-after": "1"}


def test_tool_calls_streaming_errors_and_retry_after(workspace: Path, legacy_csv: Path) -> None:
    replies = [
        Reply(tool_call=("list_sources", {}), usage=(100, 10)),  # 1: a tool call
        Reply(text="You have 1 source: policies.", usage=(150, 12)),  # 2: the answer
        Reply(status=429, headers=FAST_RETRY),  # 3: rate limited...
        Reply(text="Still 1 source.", usage=(10, 5)),  # ...then answered
        *[Reply(status=500, headers=FAST_RETRY)] * 3,  # 5: fails 3 times
    ]
    streamed: list[str] = []

    with serve_stub(replies) as (stub, base_url):
        settings = Settings(
            home=workspace,
            embedding_provider="none",
            openai_base_url=base_url,
            openai_api_key="test-key",
            model="stub-model",
            tenant="acme",
            retry_attempts=3,
        )
        retries = RETRIES.labels("llm_chat")._value.get()
        gave_up = ERRORS.labels("llm_chat", "transient")._value.get()
        assert probe_endpoint(settings) is None
        llm = llm_access(settings, on_text=streamed.append)
        specs = [s for s in builtin_specs(settings)[0] if s.name == "content"]

        async def run() -> None:
            async with McpHub(specs, log_dir=workspace / "logs") as hub:
                await hub.call(
                    "ingest_file",
                    {"path": str(legacy_csv), "format": "csv", "options": {"delimiter": ";"}},
                )
                first = await answer_question(
                    llm, hub, "How many sources?", system="sys", history=[], thread_id="t"
                )
                assert [type(m).__name__ for m in first] == [
                    "HumanMessage",
                    "AIMessage",
                    "ToolMessage",
                    "AIMessage",
                ]
                assert json.loads(first[2].content)["total"] == 1
                assert first[-1].content.strip() == "You have 1 source: policies."
                second = await answer_question(
                    llm, hub, "And now?", system="sys", history=first, thread_id="t"
                )
                assert second[-1].content.strip() == "Still 1 source."
                third = await answer_question(
                    llm, hub, "Again?", system="sys", history=[], thread_id="t"
                )
                assert "answered HTTP 500 (transient)" in third[-1].content
                assert llm.available  # a server error is not a reason to stop using the LLM

        anyio.run(run)

    body = stub.requests[0]
    assert body["model"] == "stub-model" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert "list_sources" in [t["function"]["name"] for t in body["tools"]]
    assert stub.headers[0]["Authorization"] == "Bearer test-key"
    assert stub.requests[1]["messages"][-1]["role"] == "tool"
    assert len(stub.requests) == 7  # the 429 was retried once, the 500 twice (3 attempts)
    assert RETRIES.labels("llm_chat")._value.get() - retries == 3
    assert ERRORS.labels("llm_chat", "transient")._value.get() - gave_up == 1
    assert "".join(streamed).count("source") == 2
    assert TokenLedger(workspace, budget=1).used("acme") == 110 + 162 + 15


def test_an_unreachable_endpoint_turns_the_chat_into_a_wizard(workspace: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    settings = Settings(home=workspace, openai_base_url=url, openai_api_key="k")
    assert "unreachable" in (probe_endpoint(settings, timeout=2) or "")
    llm = llm_access(settings)
    llm.model = llm.model.model_copy(update={"max_retries": 0})  # type: ignore[union-attr]

    async def run() -> None:
        async with McpHub([], log_dir=workspace / "logs") as hub:
            reply = await answer_question(llm, hub, "hi", system="s", history=[], thread_id=None)
        assert "unreachable" in reply[-1].content and "guided wizard" in reply[-1].content
        assert not llm.available
        again = await answer_question(llm, hub, "hi", system="s", history=[], thread_id=None)
        assert "unreachable" in again[-1].content  # no second attempt at the endpoint

    anyio.run(run)


def test_the_token_budget_is_per_tenant_and_persisted(workspace: Path) -> None:
    ledger = TokenLedger(workspace, budget=100)
    ledger.record(
        "acme",
        {"input_tokens": 60, "output_tokens": 40, "total_tokens": 100},
        model="m",
        thread_id="t",
    )
    assert TokenLedger(workspace, budget=100).remaining("acme") == 0
    assert TokenLedger(workspace, budget=100).remaining("other") == 100
    settings = Settings(
        home=workspace, openai_base_url="http://127.0.0.1:9/v1", llm_token_budget=100, tenant="acme"
    )

    async def run() -> None:
        async with McpHub([], log_dir=workspace / "logs") as hub:
            reply = await answer_question(
                llm_access(settings), hub, "q", system="s", history=[], thread_id=None
            )
        assert "token budget of tenant 'acme' (100 tokens) is used up" in reply[-1].content

    anyio.run(run)
