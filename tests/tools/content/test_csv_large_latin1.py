"""A large latin-1 CSV loses no row (the schema probe once shared the reader's file handle)."""

from __future__ import annotations

from pathlib import Path

from tools.content.readers.delimited import CsvReader

ROWS = 120_000


def test_every_row_of_a_large_latin1_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "billing.csv"
    lines = ["PolicyNo;Holder;Amount"] + [
        f"P{i:07d};Müller-Lévesque {i};{i % 997},50" for i in range(ROWS)
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    assert path.stat().st_size > 4 * 1024 * 1024  # larger than the reader's blocks
    for _ in range(3):  # the loss was timing-dependent: read it several times
        reader = CsvReader(path, {"delimiter": ";", "encoding": "latin-1", "decimal": ","})
        seen = 0
        last = None
        for batch in reader.batches(50_000):
            assert not batch.bad
            seen += batch.records.num_rows
            last = batch.records.column("PolicyNo")[-1].as_py()
        assert seen == ROWS and last == f"P{ROWS - 1:07d}"
