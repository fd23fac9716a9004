"""Sign distribution files into PEP 740 attestations: plan, sign, verify, write all or nothing.

Planning checks every input before any service is contacted (:class:`PlanError`
lists each bad file).  Signing uses one :class:`~attestkit.sigstore.signer.SigningSession`
per run (one key, one certificate, concurrent Rekor v1 entries); each result is
verified with attestkit's verifier against the signing identity in its worker,
and the attestation files are written only when every file has signed (temporary
files, then renames).

Why not sigstore-python's ``Signer``: it builds pydantic bundle models for
every file and submits serially in pypi-attestations' loop; this lean client
(``requests`` + ``cryptography``, the same wire protocol) is what makes signing
100 files several times faster.  The tests check its output with
sigstore-python's verifier and pypi-attestations.

Rekor v1 only: a PEP 740 attestation has no field for RFC 3161 timestamps yet,
so a Rekor v2 entry (no integrated time, no SET) could never verify.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attestkit.core.constants import PUBLISH_PREDICATE_V1
from attestkit.core.distribution import Distribution
from attestkit.core.log_entry import LogEntry
from attestkit.core.models import Attestation
from attestkit.errors import AttestkitError, InputError
from attestkit.sigstore.http import DEFAULT_TIMEOUT
from attestkit.sigstore.services import SigningError, SigningServices
from attestkit.sigstore.signer import SigningSession

__all__ = [
    "PlanError",
    "SignedFile",
    "SigningError",
    "SigningServices",
    "SigningSession",
    "sign",
    "slsa_predicate",
]


# -- signing files ------------------------------------------------------------------


@dataclass(frozen=True)
class SignedFile:
    """The outcome for one distribution."""

    dist: Path
    written: tuple[Path, ...]
    #: Existing attestations kept because they verify for this file and identity.
    kept: tuple[Path, ...]
    log_indexes: tuple[int, ...]


class PlanError(InputError):
    """One or more inputs cannot be signed; nothing was contacted or written."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")


@dataclass
class _Job:
    path: Path
    dist: Distribution
    outputs: list[tuple[str, dict[str, Any] | None, Path]]  # (predicate type, predicate, file)
    keep: list[tuple[Path, Attestation]]


def slsa_predicate(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an SLSA v1 predicate: a bare predicate object, or a statement carrying one."""
    from attestkit.core.constants import SLSA_PREDICATE_V1
    from attestkit.core.encoding import read_json

    obj = read_json(path)
    if not isinstance(obj, dict):
        raise InputError("SLSA provenance must be a JSON object", source=str(path))
    if "predicateType" in obj and "_type" in obj:
        if obj["predicateType"] != SLSA_PREDICATE_V1:
            raise InputError(
                f"statement has predicateType {obj['predicateType']!r}, expected"
                f" {SLSA_PREDICATE_V1!r}",
                source=str(path),
            )
        predicate = obj.get("predicate")
        if not isinstance(predicate, dict):
            raise InputError("statement has no predicate object", source=str(path))
        return predicate
    return obj


def plan(
    dists: Sequence[str | os.PathLike[str]],
    *,
    slsa: dict[str, Any] | None = None,
    overwrite: bool = False,
    skip_verified: bool = False,
) -> list[_Job]:
    """Check every input before any network call; raise :class:`PlanError` listing all problems."""
    from attestkit.core.constants import SLSA_PREDICATE_V1

    jobs: list[_Job] = []
    errors: list[InputError] = []
    seen: set[Path] = set()
    for raw in dists:
        path = Path(raw)
        try:
            dist = Distribution.from_file(path)
        except InputError as exc:
            errors.append(exc.with_source(str(path)))  # type: ignore[arg-type]
            continue
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        wanted: list[tuple[str, dict[str, Any] | None, Path]] = [
            (PUBLISH_PREDICATE_V1, None, path.with_name(f"{path.name}.publish.attestation"))
        ]
        if slsa is not None:
            wanted.append(
                (SLSA_PREDICATE_V1, slsa, path.with_name(f"{path.name}.slsa.attestation"))
            )
        job = _Job(path, dist, [], [])
        for ptype, predicate, out in wanted:
            if out.exists() and not overwrite:
                if not skip_verified:
                    errors.append(
                        InputError(
                            f"{out.name} already exists (use --overwrite to replace it, or"
                            " --skip-verified to keep it if it verifies)",
                            source=str(path),
                        )
                    )
                    continue
                try:
                    job.keep.append((out, Attestation.from_file(out)))
                except InputError as exc:
                    errors.append(
                        InputError(
                            f"existing {out.name} is not a valid attestation ({exc.reason});"
                            " use --overwrite",
                            source=str(path),
                        )
                    )
                continue
            job.outputs.append((ptype, predicate, out))
        jobs.append(job)
    if errors:
        raise PlanError(errors)
    return jobs


def sign(
    dists: Sequence[str | os.PathLike[str]],
    *,
    identity_token: str | None = None,
    services: SigningServices | Callable[[], SigningServices] | None = None,
    slsa_provenance: dict[str, Any] | None = None,
    overwrite: bool = False,
    skip_verified: bool = False,
    interactive: bool | None = False,
    workers: int = 8,
    timeout: float = DEFAULT_TIMEOUT,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[SignedFile]:
    """Sign distribution files into ``<dist>.publish.attestation`` (and ``.slsa.attestation``).

    All inputs are checked first (``services`` may be a callable, resolved only
    after that, so a bad input never costs a network call); then one certificate
    is requested, every
    statement is signed and logged, and every result is verified.  Files are
    written only when all of that succeeded, atomically: on any failure nothing
    is written.

    >>> sign(["dist/pkg-1.0.tar.gz"], identity_token=jwt,  # doctest: +SKIP
    ...      services=SigningServices.from_local("http://127.0.0.1:8080"))
    """
    from attestkit.client.identity import find_identity_token
    from attestkit.core.policy import Identity
    from attestkit.sigstore.verify.attestation import Verifier

    jobs = plan(dists, slsa=slsa_provenance, overwrite=overwrite, skip_verified=skip_verified)
    # Resolved only now: fetching a trust config may be the first network call.
    if services is None:
        services = SigningServices.production()
    elif not isinstance(services, SigningServices):
        services = services()
    token, _ = find_identity_token(
        identity_token, interactive=interactive, oidc_url=services.oidc_url
    )
    session = SigningSession(services, token, timeout=timeout, workers=workers)
    session.certificate()
    san, issuer = session.identity
    identity = Identity(san, issuer)
    verifier = Verifier(services.trust_root)

    for job in jobs:
        for out, existing in job.keep:
            try:
                verifier.verify(existing, identity, job.dist)
            except AttestkitError as exc:
                raise SigningError(
                    f"{job.path}: existing {out.name} does not verify for {san}: {exc.reason}"
                    " (use --overwrite to replace it)"
                ) from None

    items = [(job, ptype, predicate, out) for job in jobs for ptype, predicate, out in job.outputs]
    done = 0

    def progress(_: int) -> None:
        nonlocal done
        done += 1
        if on_progress:
            on_progress(done, len(items))

    def check(dist: Distribution, att: Attestation) -> None:
        try:
            verifier.verify(att, identity, dist)
        except AttestkitError as exc:
            raise SigningError(
                f"{dist.name}: the new attestation does not verify ({exc.reason}); nothing written"
            ) from None

    attestations = session.sign_many(
        [(job.dist, ptype, predicate) for job, ptype, predicate, _ in items],
        on_done=progress,
        check=check,
    )

    _write_all(
        [
            (out, att.to_json().encode())
            for (_, _, _, out), att in zip(items, attestations, strict=True)
        ]
    )
    by_job: dict[Path, list[tuple[Path, Attestation]]] = {}
    for (job, _, _, out), att in zip(items, attestations, strict=True):
        by_job.setdefault(job.path, []).append((out, att))
    results = []
    for job in jobs:
        written = by_job.get(job.path, [])
        results.append(
            SignedFile(
                job.path,
                tuple(out for out, _ in written),
                tuple(out for out, _ in job.keep),
                tuple(
                    LogEntry.from_dict(att.verification_material.transparency_entries[0]).log_index
                    for _, att in written
                ),
            )
        )
    return results


def _exclusive_temp(target: Path) -> tuple[Path, int]:
    """Create ``.<name>.<pid>.<n>.tmp`` beside ``target`` exclusively (cheaper than mkstemp)."""
    for n in range(1000):
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{n}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
    raise SigningError(f"cannot create a temporary file beside {target}")


def _write_all(files: list[tuple[Path, bytes]]) -> None:
    """Write every file or none: all temporary files first, then the renames."""
    temps: list[tuple[Path, Path]] = []
    try:
        for target, data in files:
            tmp, fd = _exclusive_temp(target)
            temps.append((tmp, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fdatasync(handle.fileno())
        for tmp, target in temps:
            tmp.replace(target)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
