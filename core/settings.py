"""The one Settings object: read at the edge (CLI, server main), passed down everywhere else.

Sources, strongest first: explicit keyword arguments, ``DATA_MASH_*`` environment variables,
``data-mash.yaml`` (in the current directory, or the file named by ``DATA_MASH_CONFIG``), defaults.
Secrets (the LLM API key) are held as ``SecretStr`` and never written to files, logs or the
audit log.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from core.bounded_yaml import load_bounded
from core.errors import ConfigError
from core.ids import is_tenant

DEFAULT_TENANT = "default"


def _yaml_config_path() -> Path:
    return Path(os.environ.get("DATA_MASH_CONFIG", "data-mash.yaml"))


class _BoundedYamlSource(YamlConfigSettingsSource):
    """``data-mash.yaml`` read under the YAML bounds, a bad file as one located ConfigError."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            data = load_bounded(Path(file_path).read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{file_path}: line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(
                f"invalid YAML: {problem}",
                where=where or str(file_path),
                fix="fix data-mash.yaml (or the file named by DATA_MASH_CONFIG)",
            ) from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(
                "must be a mapping of setting names to values",
                where=str(file_path),
                fix="write e.g. 'tenant: acme' on its own line",
            )
        # A misspelt key (DATA_MASH_HOME: for home:) ignored would run the work in the wrong
        # workspace, so every key must be a setting.
        unknown = [str(key) for key in data if str(key) not in known_setting_keys()]
        if unknown:
            lines = _key_lines(file_path, unknown)
            raise ConfigError(
                f"unknown setting {', '.join(repr(k) for k in unknown)}",
                where=f"{file_path}: line {lines}" if lines else str(file_path),
                fix="known settings: " + ", ".join(sorted(Settings.model_fields)),
            )
        return data


def known_setting_keys() -> set[str]:
    """Keys data-mash.yaml may hold: every setting's name, and the aliases some settings take."""
    keys: set[str] = set()
    for name, info in Settings.model_fields.items():
        keys.add(name)
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            keys.update(c for c in alias.choices if isinstance(c, str))
        elif isinstance(alias, str):
            keys.add(alias)
    return keys


def _key_lines(file_path: Any, keys: list[str]) -> str:
    """The line numbers where top-level ``keys`` appear (best effort, for the message)."""
    try:
        text = Path(file_path).read_text(encoding="utf-8")
    except OSError:
        return ""
    found = [
        str(number)
        for number, line in enumerate(text.splitlines(), start=1)
        if any(line.split(":", 1)[0].strip().strip("'\"") == key for key in keys)
    ]
    return ", ".join(found)


class Settings(BaseSettings):
    """Configuration of one data-mash process."""

    model_config = SettingsConfigDict(env_prefix="DATA_MASH_", extra="ignore", frozen=True)

    home: Path = Field(Path(".data-mash"), description="Workspace folder (store, staging, index).")
    db_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store; default is a SQLite file in the workspace. "
        "Example: postgresql+psycopg://user@127.0.0.1:5432/datamash",
    )
    db_pool_size: int = Field(5, ge=1, description="PostgreSQL: connections kept open.")
    db_max_overflow: int = Field(10, ge=0, description="PostgreSQL: extra connections at peaks.")
    db_pool_recycle_seconds: int = Field(
        1800, ge=-1, description="PostgreSQL: reconnect connections older than this (-1: never)."
    )
    db_pool_pre_ping: bool = Field(True, description="PostgreSQL: test a connection before use.")
    tenant: str = Field(DEFAULT_TENANT, description="Tenant used when a command names none.")
    batch_size: int = Field(50_000, ge=100, description="Records per batch in bulk work.")
    # Where bulk stages run (core.executors): docs/scaling.md.
    executor: Literal["local", "process", "ray"] = Field(
        "local",
        description="Bulk stages run in this process (local), a process pool (process) or on "
        "Ray (ray: a local instance, or the cluster at ray_address).",
    )
    executor_workers: int = Field(
        2, ge=1, description="Workers of the process pool or the local Ray instance."
    )
    executor_max_retries: int = Field(
        3, ge=0, le=20, description="Ray: retries of a task whose worker died."
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster to join (ray://HEAD:10001 or HEAD:6379); unset starts Ray on "
        "this machine. A remote cluster needs a PostgreSQL store.",
    )
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Folders MCP servers may read files from, besides the workspace "
        "(never the current directory implicitly).",
    )

    # HTTP servers (MCP over streamable HTTP, later the REST API).
    http_max_sessions: int = Field(
        256, ge=1, description="Open MCP sessions per HTTP server; more get 503 until one ends."
    )
    http_session_idle_seconds: float = Field(
        300.0, gt=0, description="An MCP session with no request for this long is closed."
    )
    http_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra Host header values an HTTP server accepts (e.g. 'mcp.example:*').",
    )
    http_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Extra Origin header values an HTTP server accepts (browsers' CORS origin).",
    )

    # Retries of transient failures (targets, the store): exponential backoff with jitter.
    retry_attempts: int = Field(4, ge=1, le=20, description="Tries of a transient failure.")
    retry_initial_wait_seconds: float = Field(0.2, ge=0, description="First backoff.")
    retry_max_wait_seconds: float = Field(5.0, ge=0, description="Cap of one backoff.")

    # Retention (``data-mash gc``): what counts as abandoned or expired. The audit log is never
    # removed, whatever these say.
    retention_wave_state_seconds: float = Field(
        30 * 86400.0,
        ge=0,
        description="gc archives the run state of waves finished longer ago than this.",
    )
    retention_partial_seconds: float = Field(
        3600.0,
        ge=0,
        description="gc removes staging and temporary leftovers (.partial-*, *.partial, .*.tmp) "
        "untouched for this long whose writer is gone.",
    )
    retention_job_seconds: float = Field(
        86400.0,
        ge=0,
        description="gc removes leases of dead processes older than this; the API forgets "
        "finished jobs after it.",
    )

    # LLM: any OpenAI-compatible endpoint. The standard OpenAI variables are honoured as is.
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "DATA_MASH_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "DATA_MASH_OPENAI_BASE_URL")
    )
    model: str = Field("gpt-4o-mini", description="Chat model name at the endpoint.")
    llm_token_budget: int = Field(2_000_000, ge=0, description="Tokens per tenant before refusing.")

    # Embeddings: local MiniLM (offline) by default; "openai" when configured; "none" disables.
    embedding_provider: str = Field("local", description="local | openai | none")
    embedding_model: str = Field("text-embedding-3-small", description="OpenAI embedding model.")
    embedding_budget_usd: float = Field(5.0, ge=0, description="Remote embedding spend per tenant.")

    @field_validator("tenant")
    @classmethod
    def _tenant_is_simple(cls, value: str) -> str:
        if not is_tenant(value):
            raise ValueError("tenant must be 1-64 letters, digits, '-' or '_'")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_path = _yaml_config_path()
        if yaml_path.is_file():
            sources.append(_BoundedYamlSource(settings_cls, yaml_file=yaml_path))
        return tuple(sources)

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None

    @property
    def store_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.home / 'store.sqlite').resolve()}"

    def path(self, *parts: str) -> Path:
        """A path inside the workspace (not created)."""
        return self.home.joinpath(*parts)

    def secret_values(self) -> list[str]:
        """The secrets these settings hold (API key, database password), for log scrubbing."""
        found = [self.openai_api_key.get_secret_value()] if self.openai_api_key else []
        if self.db_url and "@" in self.db_url and "://" in self.db_url:
            creds = self.db_url.split("://", 1)[1].rsplit("@", 1)[0]
            if ":" in creds:
                found.append(creds.split(":", 1)[1])
        return found

    def redacted(self) -> dict[str, Any]:
        """Settings safe to print or log: no secret, database passwords masked."""
        data = self.model_dump(mode="json", exclude={"openai_api_key"})
        data["openai_api_key"] = "set" if self.openai_api_key else None
        if self.db_url and "@" in self.db_url and "://" in self.db_url:
            scheme, rest = self.db_url.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            data["db_url"] = f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
        return data
