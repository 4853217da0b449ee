"""Fixtures for journey tests: a small legacy CSV in the workspace, the fake-server config,
settings that never reach a network, and a scripted chat model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from core.settings import Settings
from tests.agents.fake_servers import config_for

CSV = (
    "POLICY_NO;HOLDER;PREMIUM;EFF_DATE;STATE;STATUS\n"
    "A001;Ann Smith;100,50;2024-01-02;NY;active\n"
    "A002;Bob Jones;200,00;2024-13-45;CA;active\n"
    "A002;Bob Jones;200,00;2024-02-01;;cancelled\n"
    "B004;;0,00;2023-06-30;TX;pending\n"
)
CSV_OPTIONS = {"delimiter": ";", "decimal": ",", "header": True}


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DATA_MASH_MODEL", "DATA_MASH_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def legacy_csv(workspace: Path) -> Path:
    path = workspace / "policies.csv"
    path.write_text(CSV)
    return path


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    """IDE-format config replacing canonical, routing and waves by the FAKE test servers."""
    return config_for(["canonical", "routing", "waves"], tmp_path)


@pytest.fixture
def agent_settings(workspace: Path) -> Settings:
    return Settings(home=workspace, embedding_provider="none")


def discovery_inputs(path: Path) -> dict[str, Any]:
    return {"files": [{"path": str(path), "format": "csv", "options": CSV_OPTIONS}]}


class ScriptedChatModel(BaseChatModel):
    """A chat model that replies with scripted messages (tool calls included) in order."""

    replies: list[AIMessage]
    seen: list[list[BaseMessage]] = []
    bound: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        self.bound = [t.name for t in tools]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.seen.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=self.replies.pop(0))])
