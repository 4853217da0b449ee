"""The index the root group loads command modules by (they live in ``cli.commands``).

``data-mash --help`` lists the commands from this index without importing any command module;
running a command imports only its module (``cli.app.LazyGroup``). Each entry is the module
under ``cli.commands`` that defines the command, and the one-line help the listing shows (the
command's own short help: ``tests/cli/test_lazy_commands_cli.py`` holds the two equal).
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "relate": (
        "assembly",
        "Discover how sources relate: which column of a child refers to which parent key.",
    ),
    "generate-plan": (
        "waves",
        "Plan migration waves: wave 0 = clean candidates, then waves by line, complexity, state.",
    ),
    "gates": ("waves", "Check a wave's quality gates, or override one with a reason (audited)."),
    "gc": (
        "waves",
        "Retention: archive finished waves' run state to gzip JSONL, remove abandoned staging "
        "folders and half-written files, and leases of dead processes.",
    ),
    "map-to-canonical": (
        "mapping",
        "Propose a mapping of a source to the canonical model (stored as a draft).",
    ),
    "approve-mapping": (
        "mapping",
        "Approve a mapping: it becomes immutable and can run; refused if mandatory fields are "
        "unmapped (the refusal lists them).",
    ),
    "validate-mapping": (
        "mapping",
        "Validate every record of the source through a mapping; writes nothing.",
    ),
    "export": (
        "mapping",
        "Export a mapping and its canonical records for a migration engine, with a manifest.",
    ),
    "fields": (
        "catalogue",
        "List the canonical model's fields (the targets of `mapping set-field`).",
    ),
    "search-columns": (
        "catalogue",
        "Find columns of every ingested source by meaning (semantic search).",
    ),
    "ingest": ("content", "Ingest a legacy file: decode it, stage it, profile it, and audit it."),
    "sources": ("content", "List ingested sources."),
    "head": ("content", "Decoded records of a source, as staged."),
    "profile": (
        "content",
        "Profile a source: per column type, nulls, distinct values, pattern, quality.",
    ),
    "layout": (
        "content",
        "Print a copybook's field layout: offsets, lengths, types, OCCURS, REDEFINES.",
    ),
    "chat": ("chat", "Chat through a journey: guided discovery or a migration, with approvals."),
    "mcp-config": (
        "chat",
        "Print the config that lets Claude Desktop, Cursor or VS Code use the data-mash servers.",
    ),
    "demo": (
        "demo",
        "Generate the sample estate of eight legacy systems and run the journey on it.",
    ),
    "doctor": (
        "doctor",
        "Check this installation: store, workspace, index, targets, LLM; versions and settings.",
    ),
    "eval": (
        "evals",
        "Run eval suites on the sample estate and the public corpora; write reports.",
    ),
    "route": (
        "route",
        "Route every policy of a source through its approved mapping, by YAML rules.",
    ),
    "reroute": (
        "route",
        "Move a routed policy to another system by hand; audited with its previous system.",
    ),
    "lineage": (
        "explain",
        "A policy's path: source file, source, mapping version, canonical, rule, wave, target.",
    ),
    "replay": ("governance", "Replay the write-ahead audit log in commit order."),
    "audit": (
        "governance",
        "The audit trail of one policy: every logged operation that touched it, oldest first.",
    ),
    "locate": (
        "governance",
        "Where a policy lives now, and every move that took it there (exit 1 if nothing is known).",
    ),
    "serve": ("serve", "Run an MCP server for IDE assistants, MCP Inspector or the chat agent."),
    "token": (
        "access",
        "Bearer tokens for the HTTP servers: one tenant and one role each, stored hashed.",
    ),
    "assembly": (
        "assembly",
        "Assemble whole policies: propose and approve which sources make one policy.",
    ),
    "policy": ("assembly", "Assembled whole policies."),
    "wave": ("waves", "Run, roll back or inspect one wave."),
    "mapping": ("mapping", "Inspect, edit, run and compare mappings."),
    "plan": ("waves", "List wave plans."),
    "journey": ("chat", "Run journeys from scripts; list journey threads."),
    "rules": ("route", "Validate, store and list routing rule sets."),
    "sync": (
        "sync",
        "Keep legacy and new in step: capture extracts, write the platform, run (apply and "
        "deliver), status, conflicts and resolve, the ownership ledger.",
    ),
}
