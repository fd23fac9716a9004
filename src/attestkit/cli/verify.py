"""``attestkit verify attestation|provenance``: verify files, one result line each.

Output: ``OK <dist>: <summary>`` or ``FAIL <dist>: <reason>`` on stdout, one per
distribution; warnings on stderr.  Exit code: 0 all verified, 1 any
verification failed, 2 any usage or input error (which wins over 1).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attestkit.cli._common import fail_usage, policy_from_args, print_json, say, verifier_from_args
from attestkit.cli._options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_identity,
    add_json,
    add_trust,
    add_verbose,
)
from attestkit.errors import AttestkitError, InputError, VerificationError

if TYPE_CHECKING:
    from attestkit.core.policy import Policy
    from attestkit.sigstore.verify.attestation import VerificationResult, Verifier

_SIDE_SUFFIXES = (".attestation", ".provenance", ".sigstore", ".sigstore.json", ".asc")
_PREDICATES = {
    "https://docs.pypi.org/attestations/publish/v1": "publish",
    "https://slsa.dev/provenance/v1": "SLSA provenance",
}


@dataclass
class _Outcome:
    file: str
    code: int = EXIT_OK
    reason: str | None = None
    results: list[tuple[str, VerificationResult]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "ok": self.code == EXIT_OK}
        if self.reason:
            out["error"] = self.reason
            out["error_kind"] = "input" if self.code == EXIT_USAGE else "verification"
        out["attestations"] = [{"file": f, **r.to_dict()} for f, r in self.results]
        if self.notes:
            out["notes"] = self.notes
        return out


def run(args: argparse.Namespace) -> int:
    """Entry point of ``attestkit verify``."""
    if args.verify_command == "lock":
        from attestkit.cli.verify_lock import run_lock

        return run_lock(args)
    if args.verify_command == "index":
        from attestkit.cli.verify_lock import run_index

        return run_index(args)
    if args.verify_command == "bundle":
        return _verify_bundle(args)
    dists = _select_dists(args.dists)
    policy = policy_from_args(args)
    assert policy is not None
    try:
        verifier = verifier_from_args(args)
    except InputError as exc:
        print(f"attestkit verify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.verify_command == "attestation":
        if args.attestation and len(dists) != 1:
            fail_usage("--attestation can only be used with exactly one DIST")
        outcomes = [_verify_attestations(verifier, policy, d, args.attestation) for d in dists]
    else:
        if args.provenance and len(dists) != 1:
            fail_usage("--provenance can only be used with exactly one DIST")
        outcomes = [_verify_provenance(verifier, policy, d, args.provenance) for d in dists]
    for outcome in outcomes:
        for note in outcome.notes:
            say(f"warning: {outcome.file}: {note}", file=sys.stderr)
        if not args.json:
            say(_line(outcome))
    if args.json:
        print_json([o.to_dict() for o in outcomes])
    return max((o.code for o in outcomes), default=EXIT_OK)


def _verify_bundle(args: argparse.Namespace) -> int:
    """``attestkit verify bundle``: one DSSE bundle for one artifact (file or sha256:HEX)."""
    import hashlib
    import re

    from attestkit.core.encoding import read_bytes
    from attestkit.sigstore.verify.bundle import OutOfScopeError, verify_bundle

    policy = policy_from_args(args)
    assert policy is not None
    artifact = args.artifact
    if re.fullmatch(r"sha256:[0-9a-fA-F]{64}", artifact):
        sha256 = artifact.removeprefix("sha256:")
    else:
        try:
            sha256 = hashlib.sha256(read_bytes(artifact)).hexdigest()
        except InputError as exc:
            fail_usage(str(exc))
    try:
        data = read_bytes(args.bundle)
        verifier = verifier_from_args(args)
        verdict = verify_bundle(verifier, data, sha256, policy)
    except OutOfScopeError as exc:
        return _bundle_outcome(args, False, f"{args.bundle}: {exc}", EXIT_USAGE, out_of_scope=True)
    except VerificationError as exc:
        return _bundle_outcome(args, False, str(exc), EXIT_FAILED)
    except InputError as exc:
        return _bundle_outcome(args, False, str(exc.with_source(args.bundle)), EXIT_USAGE)
    claims = verdict.claims
    summary = (
        f"{verdict.subject or artifact} signed by {claims.identity} ({claims.issuer})"
        f" at {verdict.time.isoformat()}, {verdict.log_kind} entry"
    )
    return _bundle_outcome(args, True, summary, EXIT_OK)


def _bundle_outcome(
    args: argparse.Namespace, ok: bool, text: str, code: int, *, out_of_scope: bool = False
) -> int:
    if args.json:
        out: dict[str, Any] = {"bundle": args.bundle, "artifact": args.artifact, "ok": ok}
        out["summary" if ok else "error"] = text
        if out_of_scope:
            out["out_of_scope"] = True
        print_json(out)
    elif ok:
        say(f"OK {args.artifact}: {text}")
    elif code == EXIT_USAGE:
        print(f"attestkit verify: error: {text}", file=sys.stderr)
    else:
        say(f"FAIL {args.artifact}: {text}")
    return code


def _select_dists(paths: list[str]) -> list[str]:
    """Drop attestation/provenance files whose distribution is also given (``verify dist/*``)."""
    given = set(paths)
    dists: list[str] = []
    for path in paths:
        if path.endswith(_SIDE_SUFFIXES):
            stem = path
            for suffix in _SIDE_SUFFIXES:
                stem = stem.removesuffix(suffix)
            if any(stem == d or stem.startswith(d + ".") for d in given if d != path):
                continue
        dists.append(path)
    return dists


def _load_dist(outcome: _Outcome) -> Any:
    from attestkit.core.distribution import Distribution

    return Distribution.from_file(outcome.file)


def _verify_attestations(
    verifier: Verifier, policy: Policy, dist_path: str, explicit: list[str] | None
) -> _Outcome:
    from attestkit.core.models import Attestation
    from attestkit.sigstore.verify.attestation import find_attestations

    outcome = _Outcome(dist_path)
    try:
        dist = _load_dist(outcome)
        paths = [Path(p) for p in explicit] if explicit else find_attestations(Path(dist_path))
        if not paths:
            raise InputError(
                f"no attestations found (looked for {Path(dist_path).name}.publish.attestation,"
                " .slsa.attestation and other <dist>.<kind>.attestation files; use --attestation)"
            )
        atts = [(str(p), Attestation.from_file(p)) for p in paths]
        results = verifier.verify_all((a for _, a in atts), policy, dist)
        outcome.results = [(p, r) for (p, _), r in zip(atts, results, strict=True)]
        for _, result in outcome.results:
            outcome.notes.extend(result.warnings)
    except VerificationError as exc:
        outcome.code, outcome.reason = EXIT_FAILED, exc.reason
    except AttestkitError as exc:
        outcome.code, outcome.reason = EXIT_USAGE, str(exc)
    return outcome


def _verify_provenance(
    verifier: Verifier, policy: Policy, dist_path: str, explicit: str | None
) -> _Outcome:
    from attestkit.core.models import Provenance

    outcome = _Outcome(dist_path)
    try:
        dist = _load_dist(outcome)
        prov_path = explicit or f"{dist_path}.provenance"
        if not explicit and not Path(prov_path).is_file():
            raise InputError(
                f"no provenance found (looked for {Path(prov_path).name}; use --provenance)"
            )
        provenance = Provenance.from_file(prov_path)
        result = verifier.verify_provenance(provenance, dist, policy)
        outcome.results = [(prov_path, r) for _, r in result.results]
        outcome.notes.extend(result.unsupported)
        for _, r in result.results:
            outcome.notes.extend(r.warnings)
    except VerificationError as exc:
        outcome.code, outcome.reason = EXIT_FAILED, exc.reason
    except AttestkitError as exc:
        outcome.code, outcome.reason = EXIT_USAGE, str(exc)
    return outcome


def _line(outcome: _Outcome) -> str:
    if outcome.reason is not None:
        return f"FAIL {outcome.file}: {outcome.reason}"
    results = [r for _, r in outcome.results]
    kinds = ", ".join(_PREDICATES.get(r.predicate_type, r.predicate_type) for r in results)
    first = results[0]
    count = len(results)
    noun = "attestation" if count == 1 else "attestations"
    when = first.time.strftime("%Y-%m-%dT%H:%M:%SZ")
    simulated = " [SIMULATED identity: development instance]" if first.claims.simulated else ""
    return (
        f"OK {outcome.file}: {count} {noun} ({kinds}) signed by {first.claims.summary()}"
        f" at {when}{simulated}"
    )


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit verify attestation|provenance|lock|index``."""
    p = sub.add_parser("verify", help="verify attestations or provenance for distributions")
    add_verbose(p)
    vsub = p.add_subparsers(dest="verify_command", metavar="KIND", required=True)
    va = vsub.add_parser(
        "attestation",
        help="verify <dist>.*.attestation files against an expected signer",
        description="Verify the attestations of each distribution file: the Sigstore"
        " signature, transparency log, subject name and digest, predicate type, and the"
        " signer against the expected Trusted Publisher or identity. Attestations are"
        " found next to each file as <dist>.<kind>.attestation, or given with --attestation.",
    )
    add_verbose(va)
    va.add_argument("dists", nargs="+", metavar="DIST", help="wheel or sdist files")
    va.add_argument(
        "--attestation",
        action="append",
        metavar="FILE",
        help="attestation file to use instead of discovery (repeatable; needs one DIST)",
    )
    va.add_argument("--strict-names", action="store_true", help="subject must equal the filename")
    add_json(va)
    add_identity(va)
    add_trust(va)

    vp = vsub.add_parser(
        "provenance",
        help="verify a provenance file (Integrity API object) for distributions",
        description="Verify every attestation in a provenance object against its publisher,"
        " and against the expected signer given by flags. The provenance is read from"
        " --provenance or <dist>.provenance.",
    )
    add_verbose(vp)
    vp.add_argument("dists", nargs="+", metavar="DIST")
    vp.add_argument("--provenance", metavar="FILE", help="provenance JSON (needs one DIST)")
    vp.add_argument("--strict-names", action="store_true", help="subject must equal the filename")
    add_json(vp)
    add_identity(vp)
    add_trust(vp)

    vb = vsub.add_parser(
        "bundle",
        help="verify a Sigstore DSSE bundle for an artifact (as Sigstore clients' verify-bundle)",
        description="Verify a Sigstore bundle whose signature is a DSSE envelope: certificate"
        " chain and identity, transparency log entry (Rekor v1 or v2), RFC 3161 timestamps,"
        " and that a subject of the in-toto statement has the artifact's SHA-256. Bundles that"
        " sign a plain message are out of scope (exit 2).",
        epilog="Exit codes: 0 verified, 1 verification failed, 2 usage or input error, or a"
        " message-signature bundle.",
    )
    add_verbose(vb)
    vb.add_argument("artifact", metavar="ARTIFACT", help="the artifact file, or sha256:HEX")
    vb.add_argument("--bundle", metavar="FILE", required=True, help="the Sigstore bundle")
    add_json(vb)
    add_identity(vb)
    add_trust(vb)
    vb.set_defaults(strict_names=False)

    from attestkit.cli.verify_lock import add_index_options, add_lock_options

    vl = vsub.add_parser(
        "lock",
        help="verify every file a lock file pins: provenance on its index, policy, pins",
        description="Read a pylock.toml (PEP 751), uv.lock, requirements file with --hash or"
        " pip installation report; for every pinned file, fetch its provenance from its index"
        " (PEP 691/740), verify it against the pinned SHA-256, and apply the policy"
        " (--policy), the lock's attestation-identities and the pins (trust on first use).",
        epilog="Exit codes: 0 nothing failed, 1 a file failed verification or policy,"
        " 2 usage or input error.",
    )
    add_lock_options(vl)

    vi = vsub.add_parser(
        "index",
        help="verify files on an index (or local copies) by their provenance",
        description="Like pypi-attestations' `verify pypi`, on any PEP 691 index: find each"
        " file (pypi:FILENAME, a file URL, NAME==VERSION, or a local file), check its bytes"
        " against the index's hashes, fetch its provenance and verify every attestation;"
        " files without provenance fail unless a --policy allows them.",
        epilog="Exit codes: 0 verified, 1 a file failed, 2 usage or input error.",
    )
    add_index_options(vi)
