"""Loading source-config YAML: relative paths, and errors that name file, line and entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InputError
from tools.content.source_config import load_source_config

GOOD = """\
version: 1
sources:
  - name: billing
    system: billing
    path: data/billing.csv
    format: csv
    options: {delimiter: ";", encoding: latin-1, decimal: ",", header: true}
  - name: claims
    system: claims
    path: data/claims.jsonl
    format: jsonl
"""


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "billing.csv").write_text("a;b\n1;2,5\n")
    (data / "claims.jsonl").write_text('{"a": 1}\n')
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "sources.yaml"
    path.write_text(text)
    return path


def test_loads_and_resolves_paths_relative_to_yaml(estate: Path) -> None:
    config = load_source_config(write(estate, GOOD))
    billing = config.source("billing")
    assert billing.path == (estate / "data" / "billing.csv").resolve()
    assert billing.options["decimal"] == ","
    assert config.source("claims").format == "jsonl"
    records = [b.records for b in billing.reader().batches()]
    assert records[0].column("b").to_pylist()[0] == 2.5


def test_yaml_syntax_error_names_line_and_column(estate: Path) -> None:
    path = write(estate, GOOD.replace("    format: jsonl", "    format: [jsonl"))
    with pytest.raises(InputError) as info:
        load_source_config(path)
    assert "invalid YAML" in str(info.value) and "line 11" in str(info.value)


def test_unknown_format_names_entry_line_and_known_formats(estate: Path) -> None:
    path = write(estate, GOOD.replace("format: jsonl", "format: jsonx"))
    with pytest.raises(InputError) as info:
        load_source_config(path)
    message = str(info.value)
    assert "source 'claims': unknown format 'jsonx'" in message
    assert "line 11" in message and "jsonl" in message and "parquet" in message


def test_missing_data_file_names_entry_and_path_line(estate: Path) -> None:
    path = write(estate, GOOD.replace("data/claims.jsonl", "data/nope.jsonl"))
    with pytest.raises(InputError, match=r"line 10.*source 'claims': data file not found"):
        load_source_config(path)


def test_bad_reader_option_names_entry(estate: Path) -> None:
    path = write(estate, GOOD.replace('decimal: ","', 'decimal: "x"'))
    with pytest.raises(InputError, match=r"line 7.*source 'billing'.*decimal"):
        load_source_config(path)


def test_schema_errors_name_entry_and_line(estate: Path) -> None:
    with pytest.raises(InputError, match=r"line 9.*source 'claims'.*sources.1.sytem: unknown key"):
        load_source_config(write(estate, GOOD.replace("    system: claims", "    sytem: claims")))
    with pytest.raises(InputError, match="line 1.*version must be 1"):
        load_source_config(write(estate, GOOD.replace("version: 1", "version: 2")))
    with pytest.raises(InputError, match="duplicate source name"):
        load_source_config(write(estate, GOOD.replace("name: claims", "name: billing")))


def test_missing_config_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="source config not found"):
        load_source_config(tmp_path / "none.yaml")
    with pytest.raises(InputError, match="must be a mapping"):
        load_source_config(write(tmp_path, "- just a list\n"))
