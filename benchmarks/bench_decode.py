"""Benchmark: vectorised mainframe decoding vs a naive per-record pure-Python decoder.

Builds a fixed-length EBCDIC (cp037) file of 300-byte policy records (text, COMP-3, zoned with
overpunch, binary, an OCCURS group) in a temp dir, decodes it with ``CobolReader`` and with the
straightforward struct/loop decoder below, and prints records/s, MB/s and the speed-up. Then checks
memory: peak RSS decoding 1,000,000 vs 100,000 records (fresh subprocess each).

    .venv/bin/python benchmarks/bench_decode.py [--records 350000] [--naive-records N] [--no-memory]
"""

from __future__ import annotations

import argparse
import resource
import struct
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.content.cobol import CobolReader  # noqa: E402

COPYBOOK = """\
       01  POLICY-REC.
           05  POLICY-ID          PIC X(12).
           05  HOLDER-NAME        PIC X(40).
           05  ADDRESS-LINE       PIC X(60).
           05  CITY               PIC X(30).
           05  STATE              PIC XX.
           05  ZIP                PIC 9(5).
           05  PREMIUM            PIC S9(9)V99  COMP-3.
           05  SUM-INSURED        PIC S9(13)V99 COMP-3.
           05  DEDUCTIBLE         PIC S9(7)V99  COMP-3.
           05  START-DATE         PIC 9(8).
           05  END-DATE           PIC 9(8).
           05  AGE                PIC 9(3).
           05  CLAIMS-COUNT       PIC S9(4)     COMP.
           05  AGENT-ID           PIC 9(9)      COMP.
           05  RISK-SCORE         PIC S9(3)V99.
           05  BALANCE            PIC S9(11)V99.
           05  COVERAGES OCCURS 3 TIMES.
               10  COV-CODE       PIC X(4).
               10  COV-LIMIT      PIC S9(9)V99  COMP-3.
           05  NOTES              PIC X(59).
"""
# (name, kind, length, scale, signed) in record order; kinds: x, p (packed), z (zoned), b (binary)
FIELDS: list[tuple[str, str, int, int, bool]] = [
    ("POLICY_ID", "x", 12, 0, False),
    ("HOLDER_NAME", "x", 40, 0, False),
    ("ADDRESS_LINE", "x", 60, 0, False),
    ("CITY", "x", 30, 0, False),
    ("STATE", "x", 2, 0, False),
    ("ZIP", "z", 5, 0, False),
    ("PREMIUM", "p", 6, 2, True),
    ("SUM_INSURED", "p", 8, 2, True),
    ("DEDUCTIBLE", "p", 5, 2, True),
    ("START_DATE", "z", 8, 0, False),
    ("END_DATE", "z", 8, 0, False),
    ("AGE", "z", 3, 0, False),
    ("CLAIMS_COUNT", "b", 2, 0, True),
    ("AGENT_ID", "b", 4, 0, False),
    ("RISK_SCORE", "z", 5, 2, True),
    ("BALANCE", "z", 13, 2, True),
    *[
        (f"COV{i}_{n}", k, ln, sc, sg)
        for i in range(3)
        for n, k, ln, sc, sg in (("CODE", "x", 4, 0, False), ("LIMIT", "p", 6, 2, True))
    ],
    ("NOTES", "x", 59, 0, False),
]
REC_LEN = 300


def _packed(value: int, nbytes: int) -> bytes:
    return bytes.fromhex(str(abs(value)).rjust(nbytes * 2 - 1, "0") + ("D" if value < 0 else "C"))


def _zoned(value: int, width: int, signed: bool) -> bytes:
    digits = bytearray(str(abs(value)).rjust(width, "0").encode("cp037"))
    if signed:
        digits[-1] = (0xD0 if value < 0 else 0xC0) | (digits[-1] & 0x0F)
    return bytes(digits)


def build_file(path: Path, n: int, seed: int = 7) -> None:
    """Write ``n`` records: 2,000 distinct random records tiled (generation is not measured)."""
    rng = np.random.default_rng(seed)
    distinct = []
    for i in range(2000):
        v = [int(x) for x in rng.integers(-(10**9), 10**9, 8)]
        rec = b"".join(
            [
                f"POL{i:09d}".encode("cp037"),
                f"Holder {v[0] % 9973} Name".ljust(40).encode("cp037"),
                f"{abs(v[1]) % 999} Main Street".ljust(60).encode("cp037"),
                "Springfield".ljust(30).encode("cp037"),
                b"\xc9\xd3",
                _zoned(abs(v[2]) % 99999, 5, False),
                _packed(v[3] * 10, 6),
                _packed(v[4] * 1000, 8),
                _packed(v[5] % 10**8, 5),
                _zoned(20240101, 8, False),
                _zoned(20250101, 8, False),
                _zoned(abs(v[6]) % 100, 3, False),
                struct.pack(">h", v[7] % 2000 - 1000),
                struct.pack(">I", abs(v[0]) % 10**9),
                _zoned(v[1] % 99999, 5, True),
                _zoned(v[2] * 1000, 13, True),
                *[f"CV{j:02d}".encode("cp037") + _packed(v[j] % 10**10, 6) for j in range(3)],
                "no remarks".ljust(59).encode("cp037"),
            ]
        )
        assert len(rec) == REC_LEN
        distinct.append(np.frombuffer(rec, dtype=np.uint8))
    block = np.stack(distinct)
    with path.open("wb") as fh:
        done = 0
        while done < n:
            take = min(len(block) * 50, n - done)
            reps = np.tile(block, (take // len(block) + 1, 1))[:take]
            fh.write(reps.tobytes())
            done += take


# ---------------------------------------------------------------- naive baseline


def naive_decode(path: Path, limit: int | None = None) -> int:
    """Straightforward per-record, per-field pure-Python decoder (the baseline)."""
    count = 0
    with path.open("rb") as fh:
        while limit is None or count < limit:
            rec = fh.read(REC_LEN)
            if len(rec) < REC_LEN:
                break
            row: dict[str, Any] = {}
            pos = 0
            for name, kind, length, scale, signed in FIELDS:
                raw = rec[pos : pos + length]
                pos += length
                if kind == "x":
                    row[name] = raw.decode("cp037").strip()
                elif kind == "b":
                    fmt = {2: "h", 4: "i"}[length]
                    row[name] = struct.unpack(">" + (fmt if signed else fmt.upper()), raw)[0]
                elif kind == "p":
                    value = 0
                    for b in raw[:-1]:
                        value = value * 100 + (b >> 4) * 10 + (b & 0x0F)
                    value = value * 10 + (raw[-1] >> 4)
                    if raw[-1] & 0x0F == 0x0D:
                        value = -value
                    row[name] = Decimal(value).scaleb(-scale)
                else:
                    value = 0
                    for b in raw:
                        value = value * 10 + (b & 0x0F)
                    if signed and raw[-1] >> 4 == 0x0D:
                        value = -value
                    row[name] = Decimal(value).scaleb(-scale) if scale else value
            count += 1
    return count


def vector_decode(path: Path, batch_rows: int = 50_000) -> int:
    """Decode with CobolReader (vectorised); returns the record count."""
    cpy = path.with_suffix(".cpy")
    reader = CobolReader(path, {"copybook": str(cpy), "encoding": "cp037"})
    n = 0
    for batch in reader.batches(batch_rows):
        n += batch.records.num_rows
    return n


def _memory_child(n: int, workdir: str) -> None:
    path = Path(workdir) / f"mem_{n}.dat"
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    got = vector_decode(path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{got} {base} {peak}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=350_000)
    ap.add_argument(
        "--naive-records",
        type=int,
        default=None,
        help="decode only this many records with the naive decoder (default: all)",
    )
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="timing runs (best is reported)")
    ap.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child is not None:
        _memory_child(args.memory_child, args.workdir)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policies.dat"
        path.with_suffix(".cpy").write_text(COPYBOOK)
        build_file(path, args.records)
        mb = path.stat().st_size / 1e6
        vector_decode(path, 10_000)  # warm-up (imports, tables)
        # best of N for both decoders: the machine may be shared, the minimum is the least noisy
        t_vec = t_naive = float("inf")
        n_vec = n_naive = 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            n_vec = vector_decode(path)
            t_vec = min(t_vec, time.perf_counter() - t0)
            t0 = time.perf_counter()
            n_naive = naive_decode(path, args.naive_records)
            t_naive = min(t_naive, time.perf_counter() - t0)
        rate_vec, rate_naive = n_vec / t_vec, n_naive / t_naive
        print(f"file: {n_vec:,} records x {REC_LEN} B = {mb:.1f} MB")
        print(
            f"vectorised : {rate_vec:12,.0f} records/s  {rate_vec * REC_LEN / 1e6:8.1f} MB/s"
            f"  ({t_vec:.2f} s)"
        )
        print(
            f"naive      : {rate_naive:12,.0f} records/s  {rate_naive * REC_LEN / 1e6:8.1f} MB/s"
            f"  ({t_naive:.2f} s for {n_naive:,} records)"
        )
        print(f"speed-up   : {rate_vec / rate_naive:.1f}x")
        if args.no_memory:
            return
        peaks = {}
        path.unlink()
        for n in (100_000, 1_000_000):
            mem = Path(tmp) / f"mem_{n}.dat"
            mem.with_suffix(".cpy").write_text(COPYBOOK)
            build_file(mem, n)  # built here so the child's RSS is decoding only
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(n), "--workdir", tmp],
                capture_output=True,
                text=True,
                check=True,
            )
            got, base, peak = map(int, out.stdout.split())
            mem.unlink()
            peaks[n] = peak
            print(
                f"memory     : {got:>9,} records -> peak RSS {peak / 1024:.0f} MB "
                f"(before decoding {base / 1024:.0f} MB)"
            )
        print(
            f"peak RSS ratio 1M / 100k: {peaks[1_000_000] / peaks[100_000]:.2f}x (target <= 1.5x)"
        )


if __name__ == "__main__":
    main()
