"""``attestkit convert``: Sigstore bundle -> PEP 740 attestation, or back with ``--to-bundle``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attestkit.cli._common import say
from attestkit.cli._options import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Subparsers, add_verbose
from attestkit.core.constants import SLSA_PREDICATE_V1
from attestkit.errors import AttestkitError, ConversionError


def run(args: argparse.Namespace) -> int:
    """Convert each input; the worst exit code (2 input error, 1 failed conversion)."""
    if args.output and len(args.input) > 1:
        print(
            "attestkit convert: error: --output names one file; give one input with it",
            file=sys.stderr,
        )
        return EXIT_USAGE
    codes = [_convert(args, Path(source)) for source in args.input]
    return EXIT_USAGE if EXIT_USAGE in codes else max(codes)


def _convert(args: argparse.Namespace, source: Path) -> int:
    """Convert one file; refuse to overwrite unless ``--overwrite``; write atomically."""
    from attestkit.core.convert import (
        attestation_from_bundle,
        bundle_from_attestation,
        bundle_to_json,
    )
    from attestkit.core.encoding import atomic_write, read_json
    from attestkit.core.models import Attestation

    try:
        if args.to_bundle:
            att = Attestation.from_file(source)
            data = bundle_to_json(bundle_from_attestation(att))
            default = _dist_name(att, source) + ".sigstore.json"
        else:
            obj = read_json(source)
            conversion = attestation_from_bundle(
                obj, keep_timestamps=args.keep_timestamps, raw=args.raw
            )
            att = conversion.attestation
            data = att.to_json()
            kind = "slsa" if att.statement.predicate_type == SLSA_PREDICATE_V1 else "publish"
            default = f"{_dist_name(att, source)}.{kind}.attestation"
            for note in conversion.notes:
                say(f"note: {source}: {note}", file=sys.stderr)
        output = Path(args.output) if args.output else source.parent / default
        if output.exists() and not args.overwrite:
            say(
                f"FAIL {source}: output {output} already exists (use --overwrite to replace it)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        atomic_write(output, data.encode("utf-8"), overwrite=args.overwrite)
    except ConversionError as exc:
        say(f"FAIL {source}: {exc.reason}", file=sys.stderr)
        return EXIT_FAILED
    except AttestkitError as exc:
        say(f"FAIL {exc if exc.source else f'{source}: {exc}'}", file=sys.stderr)
        return EXIT_USAGE
    what = "Sigstore bundle" if args.to_bundle else "attestation"
    say(f"OK {source}: wrote {what} {output}")
    return EXIT_OK


def _dist_name(att: object, source: Path) -> str:
    from attestkit.core.models import Attestation

    assert isinstance(att, Attestation)
    try:
        name = att.statement.subjects[0].name
    except AttestkitError:
        name = ""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConversionError(
            "cannot name the output from the statement subject; pass --output FILE"
        )
    return name


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add ``attestkit convert``."""
    p = sub.add_parser(
        "convert",
        help="convert a Sigstore bundle to an attestation, or back",
        description="Convert a Sigstore bundle (e.g. from actions/attest) to a PEP 740"
        " attestation named <dist>.<kind>.attestation beside it, or with --to-bundle an"
        " attestation to a v0.3 Sigstore bundle (<dist>.sigstore.json).",
    )
    add_verbose(p)
    p.add_argument("input", metavar="FILE", nargs="+", help="bundles (or attestations)")
    p.add_argument(
        "-o",
        "--output",
        "--output-file",  # pypi-attestations' spelling
        metavar="FILE",
        help="output file (default: derived)",
    )
    p.add_argument("--to-bundle", action="store_true", help="attestation -> Sigstore bundle")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument(
        "--keep-timestamps",
        action="store_true",
        help="keep RFC 3161 timestamps in verification_material.timestamps (proposed field)",
    )
    p.add_argument(
        "--raw",
        action="store_true",
        help="allow non-in-toto payloads and predicate types PyPI does not accept",
    )
