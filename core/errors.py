"""Errors a user can act on.

Every entry point turns a :class:`DataMashError` into one line: the CLI prints it on stderr and
exits 1, an MCP server raises it as a tool error. The message names *what* is wrong, *where*
(file, line, byte offset, field, setting) and *how to fix it*, so nobody needs a traceback.
"""

from __future__ import annotations


class DataMashError(Exception):
    """A problem with the user's input, configuration or environment that they can fix."""

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        return f"{text} ({self.fix})" if self.fix else text


class InputError(DataMashError):
    """A bad file, record, copybook, rule, mapping or argument."""


class ConfigError(DataMashError):
    """A bad setting: environment variable, data-mash.yaml, database URL, workspace."""


class NotFoundError(DataMashError):
    """A source, mapping, plan, wave, policy or thread id that does not exist."""
