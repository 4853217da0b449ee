"""Write legacy sources the matcher has never seen, with their ground truth.

Five systems, one per naming convention unlike the sample estate's:

- ``upper``: UPPER_SNAKE abbreviated by rule (``PLCY_NMBR``), CSV; a policy root file and two
  child files (coverage lines, payment transactions) keyed by the policy number;
- ``lower``: lower_snake whole words, pipe-delimited; root and coverage-line child;
- ``camel``: nested camelCase JSON; the insured, the producer and the address as objects,
  coverages and payment transactions as arrays of objects whose leaves are bare
  (``producer.code``, ``transactions[].status``);
- ``pascal``: XML in PascalCase with attributes (``<Contract Number=..><Holder Name=..>``),
  repeated ``Cover``/``Receipt`` elements;
- ``french``: Title Case French headers and French values, semicolon-delimited, day-first dates;
  root and both child files.

The layout mirrors the sample estate (``sources.yaml`` plus ``ground_truth/mapping.json``) so
``evals.matching_estate.evaluate_on_estate`` scores it unchanged. Which phrasing, abbreviation
style, date style and subset of fields each file uses depends on the seed.
"""

from __future__ import annotations

import csv
import json
import random
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from evals.unseen import conventions as cv
from evals.unseen.values import make_value, noise_value
from evals.unseen.vocabulary import NOISE, PHRASES

SYSTEMS = ("upper", "lower", "camel", "pascal", "french")
ROOT = [p for p in PHRASES if not p.startswith(("coverage_sections", "payments.payment_history"))]
COVERAGE = [p for p in PHRASES if p.startswith("coverage_sections")]
PAYMENT = [p for p in PHRASES if p.startswith("payments.payment_history")]
KEY = "policy_core.policy_id"
DROP_SHARE = 0.2
"""Share of optional root fields a file leaves out (each file has its own subset)."""
PARENTS = {
    "holder": ("policyholder", "insured", "client"),
    "producer": ("producer", "broker", "intermediary"),
    "coverages": ("coverages", "coverage lines", "covers"),
    "payments": ("transactions", "receipts", "remittances"),
}
_ROLE_WORDS = {
    "policyholder",
    "insured",
    "producer",
    "broker",
    "coverage",
    "payment",
    "transaction",
}

Row = dict[str, Any]


def _phrases(rng: random.Random, paths: list[str]) -> dict[str, str]:
    return {p: cv.pick(rng, PHRASES[p]) for p in paths}


def _subset(rng: random.Random, paths: list[str]) -> list[str]:
    kept = [p for p in paths if p == KEY or rng.random() >= DROP_SHARE]
    rng.shuffle(kept)
    kept.remove(KEY)
    return [KEY, *kept]


def _leaf(phrase: str) -> str:
    """A nested field's own words: the role word its parent already says is dropped."""
    parts = cv.words(phrase)
    return " ".join(parts[1:]) if len(parts) > 1 and parts[0] in _ROLE_WORDS else phrase


class _Writer:
    """Shared state of one generated estate: seed, folder, sources and ground truth."""

    def __init__(self, out_dir: Path, seed: int, policies: int) -> None:
        self.out = out_dir
        self.rng = random.Random(seed)
        self.policies = policies
        self.sources: list[dict[str, Any]] = []
        self.truth: dict[str, dict[str, str | None]] = {}

    def key(self, system: str, n: int) -> str:
        return {
            "upper": f"{n + 700000:09d}",
            "lower": f"PL-{n + 1000:06d}",
            "camel": f"C{n + 55000}",
            "pascal": f"K-{n + 31000}-X",
            "french": f"FR{n + 8000:07d}",
        }[system]

    def register(self, name: str, system: str, fmt: str, path: str, role: str, **opts: Any) -> None:
        self.sources.append(
            {
                "name": name,
                "system": system,
                "format": fmt,
                "path": path,
                "role": role,
                "options": opts,
            }
        )

    # -- flat files: a root and child files joined on the policy number -------------------
    def flat(
        self,
        system: str,
        namer: Callable[[str], str],
        *,
        lang: str,
        dates: str,
        delimiter: str,
        children: tuple[str, ...],
    ) -> None:
        rng = self.rng
        phrases = _phrases(rng, list(PHRASES))
        noise = [cv.pick(rng, n) for n in NOISE]
        folder = self.out / system
        folder.mkdir(parents=True, exist_ok=True)
        layouts = {
            "root": _subset(rng, ROOT),
            "coverage": [KEY, *COVERAGE],
            "payment": [KEY, *PAYMENT],
        }
        for part in ("root", *children):
            paths = layouts[part]
            extra = rng.randrange(len(noise))
            header = [namer(phrases[p]) for p in paths] + [namer(noise[extra])]
            rows: list[list[Any]] = []
            for n in range(self.policies):
                key = self.key(system, n)
                items = 1 if part == "root" else rng.randint(1, 3)
                for item in range(items):
                    cells = [
                        make_value(p, rng, lang=lang, dates=dates, key=key, item=item)
                        for p in paths
                    ]
                    rows.append([*cells, noise_value(extra, rng, dates)])
            path = folder / f"{_FR_FILES[part] if lang == 'fr' else namer(part)}.csv"
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f, delimiter=delimiter)
                writer.writerow(header)
                writer.writerows(rows)
            name = f"{system}_{part}"
            self.register(
                name,
                system,
                "csv",
                str(path.relative_to(self.out)),
                "root" if part == "root" else "child",
                delimiter=delimiter,
            )
            truth: dict[str, str | None] = {namer(phrases[p]): p for p in paths}
            truth[namer(noise[extra])] = None
            self.truth[name] = truth

    # -- nested documents: JSON objects / XML elements -------------------------------------
    def nested_paths(self) -> dict[str, tuple[str, ...]]:
        """Canonical path -> nesting (parent words first, leaf phrase last) for one file."""
        rng = self.rng
        parents = {k: cv.pick(rng, v) for k, v in PARENTS.items()}
        out: dict[str, tuple[str, ...]] = {}
        for path in _subset(rng, ROOT) + COVERAGE + PAYMENT:
            phrase = cv.pick(rng, PHRASES[path])
            if path.startswith("policy_core.insured_party.address"):
                out[path] = (parents["holder"], "address", phrase)
            elif path.startswith("policy_core.insured_party"):
                out[path] = (parents["holder"], _leaf(phrase))
            elif path.startswith("policy_core.agent_info"):
                out[path] = (parents["producer"], _leaf(phrase))
            elif path in COVERAGE:
                out[path] = (parents["coverages"] + "[]", _leaf(phrase))
            elif path in PAYMENT:
                out[path] = (parents["payments"] + "[]", _leaf(phrase))
            else:
                out[path] = (phrase,)
        return out

    def records(self, system: str, nesting: dict[str, tuple[str, ...]], dates: str) -> list[Row]:
        """Records as nested dicts keyed by nesting words (lists for ``[]`` parents)."""
        rng = self.rng
        out = []
        for n in range(self.policies):
            key = self.key(system, n)
            record: Row = {}
            counts = {"coverages": rng.randint(1, 3), "payments": rng.randint(1, 4)}
            for path, parts in nesting.items():
                if parts[0].endswith("[]"):
                    group = "coverages" if path in COVERAGE else "payments"
                    items = record.setdefault(parts[0], [{} for _ in range(counts[group])])
                    for i, item in enumerate(items):
                        item[parts[-1]] = make_value(
                            path, rng, lang="en", dates=dates, key=key, item=i
                        )
                    continue
                node = record
                for part in parts[:-1]:
                    node = node.setdefault(part, {})
                node[parts[-1]] = make_value(path, rng, lang="en", dates=dates, key=key, item=0)
            out.append(record)
        return out

    def camel_json(self) -> None:
        nesting = self.nested_paths()
        records = self.records("camel", nesting, "iso")

        def rename(node: Any) -> Any:
            if isinstance(node, dict):
                return {cv.camel(k.removesuffix("[]")): rename(v) for k, v in node.items()}
            if isinstance(node, list):
                return [rename(v) for v in node]
            return node

        folder = self.out / "camel"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "policies.json"
        path.write_text(json.dumps({"records": [rename(r) for r in records]}), encoding="utf-8")
        self.register("camel_policies", "camel", "json", "camel/policies.json", "root")
        self.truth["camel_policies"] = {_column(parts, cv.camel): p for p, parts in nesting.items()}

    def pascal_xml(self) -> None:
        nesting = self.nested_paths()
        records = self.records("pascal", nesting, "iso")
        root = ET.Element("Contracts")
        for record in records:
            elem = ET.SubElement(root, "Contract")
            _xml_fill(elem, record)
        folder = self.out / "pascal"
        folder.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(root).write(folder / "Contracts.xml", encoding="utf-8", xml_declaration=True)
        self.register(
            "pascal_contracts",
            "pascal",
            "xml",
            "pascal/Contracts.xml",
            "root",
            record_element="Contract",
        )
        self.truth["pascal_contracts"] = {
            _column(parts, cv.pascal): p for p, parts in nesting.items()
        }


_FR_FILES = {"root": "polices", "coverage": "garanties", "payment": "paiements"}


def _column(parts: tuple[str, ...], namer: Callable[[str], str]) -> str:
    """The flattened column name of a nested leaf (``coverages[].limit``)."""
    out = []
    for part in parts:
        listed = part.endswith("[]")
        out.append(namer(part.removesuffix("[]")) + ("[]" if listed else ""))
    return ".".join(out)


def _xml_fill(elem: ET.Element, node: Row) -> None:
    """Scalars become attributes; objects child elements; lists repeated child elements."""
    for key, value in node.items():
        if isinstance(value, dict):
            _xml_fill(ET.SubElement(elem, cv.pascal(key)), value)
        elif isinstance(value, list):
            for item in value:
                _xml_fill(ET.SubElement(elem, cv.pascal(key.removesuffix("[]"))), item)
        else:
            elem.set(cv.pascal(key), str(value))


def generate_unseen(out_dir: Path, *, seed: int, policies: int = 150) -> Path:
    """Write the five systems' files, ``sources.yaml`` and ``ground_truth/mapping.json``.

    Args:
        out_dir: folder to write (created).
        seed: picks phrasings, abbreviation style, date styles and field subsets.
        policies: policies per system (child files hold one to three rows per policy).

    Returns:
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    w = _Writer(out_dir, seed, policies)
    style = cv.pick(w.rng, cv.ABBREVIATION_STYLES)
    w.flat(
        "upper",
        lambda p: cv.upper_snake(p, style),
        lang="en",
        dates=cv.pick(w.rng, ("iso", "compact")),
        delimiter=",",
        children=("coverage", "payment"),
    )
    w.flat("lower", cv.lower_snake, lang="en", dates="us", delimiter="|", children=("coverage",))
    w.camel_json()
    w.pascal_xml()
    w.flat(
        "french", cv.french, lang="fr", dates="eu", delimiter=";", children=("coverage", "payment")
    )
    (out_dir / "sources.yaml").write_text(
        yaml.safe_dump({"seed": seed, "sources": w.sources}, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    (out_dir / "ground_truth").mkdir(exist_ok=True)
    (out_dir / "ground_truth" / "mapping.json").write_text(
        json.dumps(w.truth, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    return out_dir
