"""Human- and machine-readable summaries of attestations, provenance and bundles.

Nothing here verifies anything: ``inspect`` shows what a file *claims* (the
statement, the signer recorded in the certificate, the log entry) so a person
can decide which identity to verify against.  Every field is decoded
defensively: a malformed part is reported in place, never as a traceback.

>>> report = inspect_file("tests/data/rfc8785-0.1.2-py3-none-any.whl.publish.attestation")
>>> report["type"], report["attestations"][0]["statement"]["subject"]
('attestation', 'rfc8785-0.1.2-py3-none-any.whl')
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from attestkit.core.certificate import CertificateClaims
from attestkit.core.constants import PUBLISH_PREDICATE_V1, SLSA_PREDICATE_V1
from attestkit.core.encoding import loads_json, read_bytes
from attestkit.core.models import Attestation, Provenance
from attestkit.errors import AttestkitError, InputError

__all__ = ["inspect_file", "render_text", "summarize_attestation"]

_PREDICATE_NAMES = {PUBLISH_PREDICATE_V1: "publish/v1", SLSA_PREDICATE_V1: "SLSA provenance v1"}


def inspect_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Summarise an attestation, provenance or Sigstore bundle file.

    Raises :class:`InputError` (naming the file) if it is none of those.
    """
    source = str(path)
    try:
        obj = loads_json(read_bytes(path), what="file")
        if not isinstance(obj, dict):
            raise InputError(
                "not an attestation, provenance or Sigstore bundle (not a JSON object)"
            )
        if "attestation_bundles" in obj:
            prov = Provenance.from_dict(obj)
            return {
                "file": source,
                "type": "provenance",
                "bundles": [
                    {
                        "publisher": b.publisher.to_dict(),
                        "publisher_summary": b.publisher.summary(),
                        "attestations": [summarize_attestation(a) for a in b.attestations],
                    }
                    for b in prov.attestation_bundles
                ],
            }
        if "mediaType" in obj or "media_type" in obj:
            from attestkit.core.convert import attestation_from_bundle

            conversion = attestation_from_bundle(obj, raw=True, keep_timestamps=True)
            return {
                "file": source,
                "type": "bundle",
                "media_type": obj.get("mediaType", obj.get("media_type")),
                "notes": list(conversion.notes),
                "attestations": [summarize_attestation(conversion.attestation)],
            }
        att = Attestation.from_dict(obj)
        return {"file": source, "type": "attestation", "attestations": [summarize_attestation(att)]}
    except AttestkitError as exc:
        raise InputError(exc.reason, source=source) from None


def summarize_attestation(att: Attestation) -> dict[str, Any]:
    """Decode one attestation's statement, signer and log entries into a dict."""
    out: dict[str, Any] = {}
    try:
        st = att.statement
        subject = st.subjects[0]
        out["statement"] = {
            "subject": subject.name,
            "digest": subject.digest,
            "subjects": len(st.subjects),
            "predicate_type": st.predicate_type,
            "predicate": st.predicate,
        }
    except InputError as exc:
        out["statement"] = {"error": exc.reason}
    try:
        claims = CertificateClaims.from_der(att.verification_material.certificate)
        c = claims.claims
        out["signer"] = {
            "identity": claims.identity,
            "issuer": claims.issuer,
            "repository": c.get("source_repository_uri"),
            "workflow": c.get("build_config_uri"),
            "ref": c.get("source_repository_ref"),
            "commit": c.get("source_repository_digest"),
            "trigger": c.get("build_trigger"),
            "runner": c.get("runner_environment"),
            "visibility": c.get("source_repository_visibility_at_signing"),
            "environment": c.get("deployment_environment"),
            "run": c.get("run_invocation_uri"),
        }
        out["certificate"] = {
            "not_before": _iso(claims.not_before),
            "not_after": _iso(claims.not_after),
            "issuer": claims.issuer_dn,
            "simulated_identity": claims.simulated,
            "serial": format(claims.serial, "x"),
            "sha256": claims.fingerprint,
            "claims": c,
        }
    except InputError as exc:
        out["signer"] = {"error": exc.reason}
    entries: list[dict[str, Any]] = []
    for i, raw in enumerate(att.verification_material.transparency_entries):
        from attestkit.core.log_entry import LogEntry

        try:
            e = LogEntry.from_dict(raw, what=f"transparency_entries[{i}]")
        except InputError as exc:
            entries.append({"error": exc.reason})
            continue
        entries.append(
            {
                "log_index": e.log_index,
                "log_id": e.log_id.hex(),
                "kind": f"{e.kind} {e.kind_version}",
                "integrated_time": (
                    _iso(datetime.fromtimestamp(e.integrated_time, UTC))
                    if e.integrated_time
                    else None
                ),
                "inclusion_promise": e.inclusion_promise is not None,
                "inclusion_proof": e.inclusion_proof is not None,
            }
        )
    out["transparency_entries"] = entries
    out["timestamps"] = len(att.verification_material.timestamps)
    return out


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_text(report: dict[str, Any]) -> str:
    """Render an :func:`inspect_file` report as aligned text lines."""
    lines = [
        f"{report['file']}: {report['type']} (contents shown unverified; use `attestkit verify`)"
    ]
    for note in report.get("notes", []):
        lines.append(f"  note          {note}")
    if report["type"] == "provenance":
        if not report["bundles"]:
            lines.append("  (no attestation bundles)")
        for i, bundle in enumerate(report["bundles"]):
            lines.append(f"  bundle {i}      publisher {bundle['publisher_summary']}")
            for att in bundle["attestations"]:
                lines.extend("    " + line for line in _render_attestation(att))
    else:
        for att in report["attestations"]:
            lines.extend("  " + line for line in _render_attestation(att))
    return "\n".join(lines)


def _render_attestation(att: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, str]] = []
    st = att["statement"]
    if "error" in st:
        rows.append(("statement", f"INVALID: {st['error']}"))
    else:
        rows.append(
            (
                "subject",
                st["subject"] + (f" (+{st['subjects'] - 1} more)" if st["subjects"] > 1 else ""),
            )
        )
        for alg, value in st["digest"].items():
            rows.append((alg, value))
        ptype = st["predicate_type"]
        name = _PREDICATE_NAMES.get(ptype)
        rows.append(
            ("predicate", f"{ptype}" + (f" ({name})" if name else " (not accepted by PyPI)"))
        )
    signer = att["signer"]
    if "error" in signer:
        rows.append(("certificate", f"INVALID: {signer['error']}"))
    else:
        rows.append(("signed by", str(signer["identity"])))
        rows.append(("issuer", str(signer["issuer"])))
        for key in ("repository", "workflow", "ref", "commit", "trigger", "environment", "run"):
            if signer.get(key):
                rows.append((key, signer[key]))
        cert = att["certificate"]
        rows.append(("valid", f"{cert['not_before']} to {cert['not_after']}"))
        rows.append(("cert issuer", cert["issuer"]))
        if cert.get("simulated_identity"):
            rows.append(
                (
                    "WARNING",
                    "issued by an attestkit development instance: the identity is simulated",
                )
            )
    for entry in att["transparency_entries"]:
        if "error" in entry:
            rows.append(("log entry", f"INVALID: {entry['error']}"))
            continue
        time = entry["integrated_time"] or "no integrated time"
        extra = "" if entry["inclusion_promise"] else ", no inclusion promise"
        rows.append(("log entry", f"#{entry['log_index']} ({entry['kind']}) at {time}{extra}"))
    if att["timestamps"]:
        rows.append(("timestamps", f"{att['timestamps']} RFC 3161 token(s)"))
    return [f"{label:<13} {value}" for label, value in rows]
