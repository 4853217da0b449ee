"""Reader options: the typed model every reader declares, its validation, and values from text.

A reader declares its options as a :class:`ReaderOptions` model (the ``cobol`` reader as the
``CobolOptions`` dataclass) and names it in its ``options_model`` class attribute. Values typed on
a command line (``-o delimiter=|``) are parsed by the option's declared type: scalars stay text
for the model to convert, only lists and mappings are read as YAML/JSON.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, Union

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from core.errors import InputError
from tools.content.readers.registry import reader_for

OptionsT = TypeVar("OptionsT", bound="ReaderOptions")


class ReaderOptions(BaseModel):
    """Base of every reader's options model: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_options(model: type[OptionsT], options: Mapping[str, Any], fmt: str) -> OptionsT:
    """Validate reader options, turning pydantic errors into one InputError naming the option.

    Args:
        model: The reader's options model.
        options: Raw options from a source config or the command line.
        fmt: Format name, used in the message.

    Returns:
        The validated options.

    Raises:
        InputError: An option is unknown, missing or of the wrong type.
    """
    try:
        return model.model_validate(dict(options or {}))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "options"
            msg = "unknown option" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{loc}: {msg}")
        known = ", ".join(sorted(model.model_fields))
        raise InputError(
            f"invalid {fmt} reader options: {'; '.join(problems)}",
            where=f"options of format {fmt!r}",
            fix=f"valid options are: {known}",
        ) from None


def _declared_types(model: Any) -> dict[str, Any]:
    """Option name -> declared type, for a ReaderOptions model or an options dataclass."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return {name: f.annotation for name, f in model.model_fields.items()}
    if dataclasses.is_dataclass(model):
        return dict(typing.get_type_hints(model))
    return {}


def _structured(declared: Any) -> bool:
    """True for list / dict / tuple / model types (possibly optional): values read as YAML."""
    origin = typing.get_origin(declared)
    if origin in (Union, types.UnionType):
        return any(_structured(a) for a in typing.get_args(declared) if a is not type(None))
    if origin in (list, dict, tuple, set, Mapping):
        return True
    return isinstance(declared, type) and (
        issubclass(declared, (list, dict, tuple, set, BaseModel))
    )


def _scalar(declared: Any, text: str) -> Any:
    """``text`` as the declared scalar type (``true`` -> True, ``5`` -> 5), else unchanged.

    Typed values keep a source's identity stable: the same options from a command line and from
    a source config hash to the same source id. A value the type rejects stays text, for the
    reader to reject with its own message.
    """
    adapter = TypeAdapter(declared)
    try:
        return adapter.validate_python(text)
    except ValidationError:
        pass
    try:  # numeric choices (Literal[0, 1]) and numbers typed as text need a number first
        return adapter.validate_python(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError):
        return text


def _is_list(declared: Any) -> bool:
    origin = typing.get_origin(declared)
    if origin in (Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(declared))
    return origin in (list, tuple, set) or declared in (list, tuple, set)


def options_from_text(model: Any, pairs: Mapping[str, str], fmt: str) -> dict[str, Any]:
    """Turn ``KEY=VALUE`` texts into option values by each option's declared type.

    Scalars are converted by their declared type (``true`` -> True, ``5`` -> 5) and text stays
    exactly as typed, so ``delimiter=|``, ``comment=#`` or ``null_values=-`` keep their
    character. Lists written in brackets and mappings are read as YAML/JSON
    (``columns=[a, b]``); any other value of a list option is a one-item list. Unknown keys
    are passed on as text for the reader to reject with its list of valid options.

    Args:
        model: the reader's declared options (a ReaderOptions model or a dataclass), or None.
        pairs: option name -> the text after ``=``.
        fmt: format name, for messages.

    Returns:
        Option values ready for the reader.

    Raises:
        InputError: a list or mapping value that is not valid YAML/JSON, naming the option.
    """
    declared = _declared_types(model) if model is not None else {}
    out: dict[str, Any] = {}
    for key, text in pairs.items():
        kind = declared.get(key)
        if kind is None or text == "":
            out[key] = text
            continue
        if not _structured(kind):
            out[key] = _scalar(kind, text)
            continue
        if _is_list(kind) and not text.lstrip().startswith("["):
            out[key] = [text]  # one item, as typed: "-" or "N/A" is a value, not YAML
            continue
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at column {mark.column + 1}" if mark is not None else ""
            raise InputError(
                f"option {key} of format {fmt!r}: {text!r} is not a valid list or mapping{at}",
                where=f"option {key}",
                fix=f'write it as JSON, e.g. -o \'{key}=["a", "b"]\' or -o \'{key}={{"k": 1}}\'',
            ) from None
        out[key] = value
    return out


def parse_option_pairs(pairs: Sequence[str], fmt: str | None) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings (``--option`` flags, chat answers) for the reader of ``fmt``.

    Args:
        pairs: the strings as typed; the value is everything after the first ``=``, unchanged.
        fmt: the format name, whose reader declares the options' types (None: all text).

    Returns:
        Option values typed as :func:`options_from_text` describes.

    Raises:
        InputError: a string without ``=`` or a malformed list/mapping value.
    """
    texts: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--option '{pair}' is not KEY=VALUE", fix="e.g. --option header=true")
        texts[key.strip()] = value
    model = None
    if fmt:
        try:
            model = getattr(reader_for(fmt), "options_model", None)
        except InputError:
            model = None  # an unknown format is reported by the ingest itself
    return options_from_text(model, texts, fmt or "unknown")
