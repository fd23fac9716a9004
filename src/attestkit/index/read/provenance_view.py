"""How a file's provenance is shown on the pages: table cells, summaries, log links.

Plain values for the templates (:mod:`attestkit.index.read.pages` renders them):
a :class:`Cell` is text, shown as a link only when its ``href`` is a URL vetted
here as ``http(s)``; the views turn a :class:`~attestkit.index.provenance.FileProvenance`
(the verdict and what each attestation claims) into rows.  A transparency-log
entry links to where it can be looked up: Sigstore's search for the public
log, the log's own ``/api/v1/log/entries?logIndex=N`` for another Rekor v1 log
(found by its log id among the index's trust roots), nothing for a v2 log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attestkit.core.constants import PUBLISH_PREDICATE_V1, SLSA_PREDICATE_V1
from attestkit.index.provenance import FileProvenance

__all__ = [
    "Cell",
    "Row",
    "attestation_view",
    "badge_kind",
    "human_size",
    "link",
    "local_link",
    "log_entry_url",
    "non_empty",
    "provenance_summary",
    "provenance_view",
]

_PREDICATES = {PUBLISH_PREDICATE_V1: "publish/v1", SLSA_PREDICATE_V1: "SLSA provenance v1"}

Row = tuple[str, "Cell"]


@dataclass(frozen=True)
class Cell:
    """One table value: text, shown as a link only when ``href`` is set (a vetted URL)."""

    text: str
    href: str | None = None
    mono: bool = False
    note: str | None = None

    def __bool__(self) -> bool:
        return bool(self.text)


def link(url: Any, text: str | None = None) -> Cell:
    """A link for an http(s) URL; anything else is shown as text only."""
    if not isinstance(url, str) or not url:
        return Cell("")
    label = text if text is not None else url
    if url.startswith(("https://", "http://")):
        return Cell(label, href=url)
    return Cell(label)


def local_link(href: str, text: str) -> Cell:
    """A link to one of the index's own pages."""
    return Cell(text, href=href)


def commit_cell(repository: Any, commit: Any) -> Cell:
    if not isinstance(commit, str) or not commit:
        return Cell("")
    if isinstance(repository, str) and repository.startswith("https://github.com/"):
        return link(f"{repository}/commit/{commit}", commit)
    if isinstance(repository, str) and repository.startswith("https://gitlab.com/"):
        return link(f"{repository}/-/commit/{commit}", commit)
    return Cell(commit)


def workflow_cell(signer: dict[str, Any]) -> Cell:
    """The build config relative to the repository (``.github/workflows/x.yml@ref``)."""
    config = signer.get("workflow")
    if not isinstance(config, str):
        return Cell("")
    repo = signer.get("repository")
    if isinstance(repo, str) and repo and config.startswith(repo + "/"):
        config = config[len(repo) :].lstrip("/")
    return Cell(config)


def badge_kind(verdict: FileProvenance | None) -> str:
    if verdict is None:
        return "not-attested"
    if verdict.status == "verified":
        return "simulated" if verdict.simulated else "verified"
    return "unchecked" if verdict.status == "unchecked" else "failed"


def non_empty(rows: Sequence[Row]) -> list[Row]:
    return [(label, cell) for label, cell in rows if cell]


#: Where the public-good Rekor's entries are shown to people (by log index).
_PUBLIC_SEARCH = {"https://rekor.sigstore.dev": "https://search.sigstore.dev/?logIndex={index}"}


def log_entry_url(entry: dict[str, Any], logs: Mapping[str, str]) -> str | None:
    """Where a log entry can be looked at: Sigstore's search for the public log, else the
    log's own ``/api/v1/log/entries?logIndex=`` (Rekor v1 API; a v2 log has no such lookup)."""
    base = logs.get(str(entry.get("log_id", "")))
    index = entry.get("log_index")
    if not base or not isinstance(index, int) or not entry.get("integrated_time"):
        return None
    base = base.rstrip("/")
    if base in _PUBLIC_SEARCH:
        return _PUBLIC_SEARCH[base].format(index=index)
    return f"{base}/api/v1/log/entries?logIndex={index}"


def log_cell(entries: Sequence[dict[str, Any]], logs: Mapping[str, str]) -> Cell:
    """The log index(es) of an attestation, linked when the log is known (first one linked)."""
    text = ", ".join(str(e["log_index"]) for e in entries)
    urls = [u for u in (log_entry_url(e, logs) for e in entries) if u]
    return link(urls[0], text) if urls else Cell(text)


def signer_rows(att: dict[str, Any], logs: Mapping[str, str]) -> list[Row]:
    signer = att.get("signer") or {}
    if "error" in signer:
        return [("certificate", Cell(f"unreadable: {signer['error']}"))]
    repository = signer.get("repository")
    entries = [e for e in att.get("transparency_entries", []) if "log_index" in e]
    return non_empty(
        [
            ("repository", link(repository)),
            ("workflow", workflow_cell(signer)),
            ("commit", commit_cell(repository, signer.get("commit"))),
            ("run", link(signer.get("run"))),
            ("log index", log_cell(entries, logs)),
        ]
    )


def provenance_summary(verdict: FileProvenance | None, logs: Mapping[str, str]) -> list[Row]:
    """The compact provenance block of a file on the project and release pages."""
    if verdict is None:
        return []
    rows: list[Row] = []
    for bundle in verdict.bundles:
        rows.append(("publisher", Cell(bundle.publisher)))
        for att in bundle.attestations:
            ptype = (att.get("statement") or {}).get("predicate_type")
            if isinstance(ptype, str):
                rows.append(("attestation", Cell(_PREDICATES.get(ptype, ptype))))
            rows.extend(signer_rows(att, logs))
    if verdict.status != "verified" and verdict.detail:
        rows.append(("reason", Cell(verdict.detail)))
    return non_empty(rows)


def human_size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


def attestation_view(att: dict[str, Any], logs: Mapping[str, str]) -> dict[str, Any]:
    """One attestation's statement, certificate, claims and log entries, as table rows."""
    view: dict[str, Any] = {"statement_error": None, "certificate_error": None}
    statement = att.get("statement") or {}
    if "error" in statement:
        view["statement_error"] = str(statement["error"])
    else:
        ptype = str(statement.get("predicate_type"))
        digests = statement.get("digest") or {}
        view["statement"] = non_empty(
            [
                ("subject", Cell(str(statement.get("subject")))),
                *((f"subject {alg}", Cell(str(v), mono=True)) for alg, v in digests.items()),
                ("predicate type", Cell(f"{ptype} ({_PREDICATES.get(ptype, 'unknown')})")),
            ]
        )
    signer = att.get("signer") or {}
    if "error" in signer:
        view["certificate_error"] = str(signer["error"])
    else:
        cert = att.get("certificate") or {}
        view["certificate"] = non_empty(
            [
                ("identity", Cell(str(signer.get("identity") or ""))),
                ("issuer", Cell(str(signer.get("issuer") or ""))),
                *signer_rows(att, logs),
                ("ref", Cell(str(signer.get("ref") or ""))),
                ("trigger", Cell(str(signer.get("trigger") or ""))),
                ("environment", Cell(str(signer.get("environment") or ""))),
                ("valid", Cell(f"{cert.get('not_before')} to {cert.get('not_after')}")),
                ("certificate issuer", Cell(str(cert.get("issuer") or ""))),
                ("serial", Cell(str(cert.get("serial") or ""), mono=True)),
                ("fingerprint", Cell(str(cert.get("sha256") or ""), mono=True)),
            ]
        )
        view["claims"] = non_empty(
            [(str(k), Cell(str(v), mono=True)) for k, v in (cert.get("claims") or {}).items()]
        )
    entries: list[Row] = []
    for entry in att.get("transparency_entries", []):
        if "error" in entry:
            entries.append(("entry", Cell(f"unreadable: {entry['error']}")))
            continue
        text = (
            f"{entry['kind']}, integrated {entry['integrated_time'] or 'never'}, "
            f"inclusion promise {'yes' if entry['inclusion_promise'] else 'no'}, "
            f"inclusion proof {'yes' if entry['inclusion_proof'] else 'no'}"
        )
        url = log_entry_url(entry, logs)
        cell = Cell(text, href=url, note=f"log id {entry['log_id']}")
        entries.append((f"log index {entry['log_index']}", cell))
    view["entries"] = non_empty(entries)
    return view


def provenance_view(verdict: FileProvenance | None, logs: Mapping[str, str]) -> dict[str, Any]:
    """The file page's provenance section: verdict, bundles, statements, certificates, logs."""
    view: dict[str, Any] = {
        "verdict": verdict,
        "badge_kind": badge_kind(verdict),
        "simulated": False,
        "signed_at": "",
        "bundles": [],
        "verdict_text": "",
    }
    if verdict is None:
        return view
    if verdict.status == "verified":
        text = "Every attestation verified against the publisher recorded in the provenance."
        if verdict.detail:
            text += f" Not verifiable: {verdict.detail}."
        view["simulated"] = verdict.simulated
        if verdict.result is not None:
            view["signed_at"] = ", ".join(
                sorted({r.time.strftime("%Y-%m-%dT%H:%M:%SZ") for _, r in verdict.result.results})
            )
    elif verdict.status == "unchecked":
        text = f"{verdict.detail}."
    else:
        text = verdict.detail
    view["verdict_text"] = text
    view["bundles"] = [
        {
            "publisher": bundle.publisher,
            "rows": non_empty([(k, Cell(str(v))) for k, v in bundle.publisher_fields.items() if v]),
            "attestations": [attestation_view(att, logs) for att in bundle.attestations],
        }
        for bundle in verdict.bundles
    ]
    return view
