"""Insurance knowledge: legacy abbreviations (with a tokenizer) and code tables."""

from knowledge.glossary.codes import (
    CodeEntry,
    CodeTable,
    code_table,
    list_code_tables,
    lookup_code,
    normalize_code,
)
from knowledge.glossary.languages import Language, english_name, fold, languages
from knowledge.glossary.roles import BusinessRole, business_roles, role_phrase
from knowledge.glossary.terms import (
    ContextRule,
    GlossaryEntry,
    expand_name,
    expand_tokens,
    glossary,
    lookup_abbreviation,
    resolve,
    tokenize,
)

__all__ = [
    "BusinessRole",
    "CodeEntry",
    "CodeTable",
    "ContextRule",
    "GlossaryEntry",
    "Language",
    "business_roles",
    "code_table",
    "english_name",
    "expand_name",
    "expand_tokens",
    "fold",
    "glossary",
    "languages",
    "list_code_tables",
    "lookup_abbreviation",
    "lookup_code",
    "normalize_code",
    "resolve",
    "role_phrase",
    "tokenize",
]
