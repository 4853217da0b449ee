"""System 5: the correspondence index, streamed XML of <Document> records (kebab-case tags)."""

from __future__ import annotations

from typing import IO, Any
from xml.sax.saxutils import escape

import numpy as np

from evals.estate import pools
from evals.estate.problems import (
    DUPLICATE,
    INCONSISTENT_CODE,
    INVALID_DATE,
    MISSING,
    ORPHAN_REFERENCE,
    ProblemLog,
)
from evals.estate.systems.base import SourceDef, SystemWriter, pick
from evals.estate.universe import PolicyChunk, iso

SOURCE = "correspondence"
KINDS = (MISSING, INVALID_DATE, DUPLICATE, INCONSISTENT_CODE, ORPHAN_REFERENCE)
PROBLEM_FIELDS = {
    MISSING: "doc-type",
    INVALID_DATE: "sent-date",
    DUPLICATE: "doc-id",
    INCONSISTENT_CODE: "channel",
    ORPHAN_REFERENCE: "policy-ref",
}
MAPPING: dict[str, str | None] = {
    "doc-id": "correspondence.documents[].document_id",
    "policy-ref": "policy_core.policy_id",
    "doc-type": "correspondence.documents[].document_type",
    "sent-date": "correspondence.communications[].sent_date",
    "channel": "correspondence.communications[].channel",
    "recipient.name": "policy_core.insured_party.name",
    "recipient.postal-code": "policy_core.insured_party.address.postal_code",
    "archive-path": None,
    "indexed-by": None,
}
TRANSFORMS: dict[str, dict[str, Any]] = {
    "doc-type": {"kind": "code", "table": pools.code_table("correspondence.doc_type")},
    "sent-date": {"kind": "date", "format": "%Y-%m-%dT%H:%M:%S"},
    "channel": {"kind": "code", "table": {c: c.lower() for c in pools.CHANNELS}},
}
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<CorrespondenceIndex system="DOCARCH">\n'
FOOTER = "</CorrespondenceIndex>\n"


class CorrespondenceWriter(SystemWriter):
    """correspondence_index.xml: one <Document> per letter, notice or statement sent."""

    system = "correspondence"
    format = "xml"
    description = "Document archive index: XML <Document> records, kebab-case elements"

    def define_sources(self) -> list[SourceDef]:
        self._file: IO[str] = (self.dir / "correspondence_index.xml").open(
            "w", encoding="utf-8", newline="\n"
        )
        self._file.write(HEADER)
        return [
            SourceDef(
                name=SOURCE,
                path=f"{self.system}/correspondence_index.xml",
                format="xml",
                options={"record_element": "Document", "encoding": "utf-8"},
                mapping=MAPPING,
                transforms=TRANSFORMS,
            )
        ]

    def write(self, chunk: PolicyChunk, log: ProblemLog) -> None:
        child = self.child_rows(
            chunk,
            chunk.documents,
            log,
            source=SOURCE,
            kinds=KINDS,
            problem_fields=PROBLEM_FIELDS,
            key_format="correspondence",
        )
        plan, r, seq, ids, m = child.plan, child.rows, child.seq, child.ids, len(child)
        rng = chunk.rng
        doc_type = pick(pools.CODES["correspondence.doc_type"], rng.integers(0, 6, size=m))
        for i in np.nonzero(plan.mask(MISSING))[0].tolist():
            doc_type[i] = ""
        sent_days = chunk.eff_days[r] + rng.integers(-30, 365, size=m)
        secs = rng.integers(6 * 3600, 20 * 3600, size=m).tolist()
        sent = [
            f"{d}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
            for d, s in zip(iso(sent_days), secs, strict=True)
        ]
        for i in np.nonzero(plan.mask(INVALID_DATE))[0].tolist():
            sent[i] = f"{sent[i][:4]}-13{sent[i][7:]}"
        channel = pick(pools.CHANNELS, rng.integers(0, 4, size=m))
        for i in np.nonzero(plan.mask(INCONSISTENT_CODE))[0].tolist():
            channel[i] = "PIGEON"
        plain = chunk.names(r)
        names = [escape(n) for n in plain]
        zips = chunk.postal_codes(r)
        batch = pick([f"IDX{b:02d}" for b in range(12)], rng.integers(0, 12, size=m))
        parts = []
        for num, s, pid, dtp, st, ch, nm, zp, bt in zip(
            chunk.number[r].tolist(),
            seq.tolist(),
            ids,
            doc_type,
            sent,
            channel,
            names,
            zips,
            batch,
            strict=True,
        ):
            doc_id = f"D{num:09d}-{s:02d}"
            parts.append(
                f"  <Document>\n    <doc-id>{doc_id}</doc-id>\n"
                f"    <policy-ref>{pid}</policy-ref>\n"
                f"    <doc-type>{dtp}</doc-type>\n    <sent-date>{st}</sent-date>\n"
                f"    <channel>{ch}</channel>\n"
                f"    <recipient>\n      <name>{nm}</name>\n"
                f"      <postal-code>{zp}</postal-code>\n    </recipient>\n"
                f"    <archive-path>/archive/{st[:4]}/{doc_id}.pdf</archive-path>\n"
                f"    <indexed-by>{bt}</indexed-by>\n  </Document>\n"
            )
        self._file.write("".join(parts))
        # only the columns the document takes (the reader names nested elements with dots)
        self.capture(
            SOURCE,
            self.sources[SOURCE].records,
            {
                "doc-id": [
                    f"D{num:09d}-{s:02d}"
                    for num, s in zip(chunk.number[r].tolist(), seq.tolist(), strict=True)
                ],
                "policy-ref": ids,
                "doc-type": doc_type,
                "sent-date": sent,
                "channel": channel,
                "recipient.name": plain,
                "recipient.postal-code": zips,
            },
        )
        self.sources[SOURCE].records += m

    def close(self) -> None:
        self._file.write(FOOTER)
        self._file.close()
