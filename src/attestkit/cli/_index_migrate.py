"""``attestkit index migrate``: move a single-node index to PostgreSQL and/or a bucket."""

from __future__ import annotations

import argparse
import sys

from attestkit.cli._common import fail_usage
from attestkit.cli._options import EXIT_OK

__all__ = ["add_migrate_parser", "migrate"]


def migrate(args: argparse.Namespace, source_config: object) -> int:
    """Copy the index ``source_config`` names into the ``--to-*`` database and store."""
    from sqlalchemy.exc import SQLAlchemyError

    from attestkit.errors import AttestkitError
    from attestkit.index.instance import Index, IndexConfig
    from attestkit.index.relocate import relocate
    from attestkit.index.storage import parse_storage

    assert isinstance(source_config, IndexConfig)
    try:
        storage = parse_storage(
            args.to_storage, endpoint_url=args.to_s3_endpoint_url, region=args.to_s3_region
        )
    except AttestkitError as exc:
        fail_usage(str(exc))
    target_config = IndexConfig(
        data_dir=source_config.data_dir,
        database_url=args.to_database_url,
        storage=None if storage.is_local else storage,
    )
    same_db = target_config.resolved_database_url == source_config.resolved_database_url
    same_store = storage.describe() == (source_config.storage or parse_storage(None)).describe()
    if same_db or (same_store and not storage.is_local):
        fail_usage("the target is the source: give another --to-database-url (and --to-storage)")
    if storage.is_local and source_config.storage is None:
        fail_usage("the files would stay where they are: give --to-storage s3://BUCKET[/PREFIX]")
    try:
        source = Index.open(source_config)
    except (SQLAlchemyError, OSError, AttestkitError) as exc:
        fail_usage(f"cannot open the index in {source_config.data_dir}: {_line(exc)}")
    try:
        try:
            target = Index.open(target_config)
        except (SQLAlchemyError, OSError, AttestkitError) as exc:
            fail_usage(f"cannot open the target index: {_line(exc)}")
        try:
            report = relocate(source, target, lambda text: print(text, file=sys.stderr))
        except (SQLAlchemyError, OSError, AttestkitError) as exc:
            fail_usage(_line(exc))
        finally:
            target.close()
    finally:
        source.close()
    counts = ", ".join(f"{n} {name}" for name, n in report.rows.items() if n)
    print(
        f"moved {report.files} files ({report.bytes} bytes) to {storage.describe()} and"
        f" {counts} to {target_config.resolved_database_url.rpartition('@')[2]}"
    )
    print("start every node with the new --database-url and --storage (docs/deploy.md)")
    return EXIT_OK


def _line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()
    return text[0] if text else type(exc).__name__


def add_migrate_parser(objects: argparse._SubParsersAction, where: object) -> None:  # type: ignore[type-arg]
    """Add ``attestkit index migrate``."""
    from attestkit.cli._options import add_verbose

    text = (
        "move this index (its rows and files) into an empty PostgreSQL database and/or an"
        " S3-compatible bucket: the scaled-out layout"
    )
    q = objects.add_parser("migrate", help=text, description=text)
    add_verbose(q)
    where(q)  # type: ignore[operator]
    q.add_argument("--to-database-url", metavar="URL", required=True, help="postgresql://...")
    q.add_argument("--to-storage", metavar="WHERE", help="s3://BUCKET[/PREFIX] (default: local)")
    q.add_argument("--to-s3-endpoint-url", metavar="URL", help="the target's S3 endpoint")
    q.add_argument("--to-s3-region", metavar="REGION", help="the target bucket's region")
    q.set_defaults(index_action="run")
