"""What a CI log shows beyond plain lines: GitHub Actions annotations and job summaries,
GitLab CI collapsible sections.

* GitHub Actions (``GITHUB_ACTIONS=true``): a failure is also a workflow command
  ``::error file=PATH,title=attestkit::MESSAGE`` (shown on the run's summary page
  and beside the file), and :func:`github_summary` appends a Markdown table to the
  file ``$GITHUB_STEP_SUMMARY`` names.  Values are escaped as the runner's
  workflow-command format requires (``%``, CR and LF; in properties also ``:``
  and ``,``), so a message can never inject a second command.
* GitLab CI (``GITLAB_CI=true``): :func:`section` wraps output in a collapsible
  ``section_start``/``section_end`` pair.

Everywhere else these do nothing.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["github_error", "github_summary", "section"]


def _on_github() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github_error(file: str | None, message: str) -> None:
    """An ``::error`` annotation (on GitHub Actions only)."""
    if not _on_github():
        return
    where = f"file={_escape_property(file)}," if file else ""
    print(f"::error {where}title=attestkit::{_escape_data(message)}", flush=True)


def github_summary(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Append a Markdown table to the job summary (on GitHub Actions only)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not _on_github() or not path:
        return

    def cell(value: str) -> str:
        return value.replace("|", "\\|").replace("\n", " ")

    lines = [f"### {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    try:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n\n")
    except OSError as exc:  # a summary is a courtesy: never fail the job over it
        print(f"attestkit: cannot write the job summary: {exc.strerror}", file=sys.stderr)


@contextmanager
def section(name: str, header: str) -> Iterator[None]:
    """A collapsed GitLab CI log section around the body (on GitLab CI only)."""
    if os.environ.get("GITLAB_CI") != "true":
        yield
        return
    key = re.sub(r"[^a-z0-9_]+", "_", name.lower())
    print(
        f"\033[0Ksection_start:{int(time.time())}:{key}[collapsed=true]\r\033[0K{header}",
        file=sys.stderr,
        flush=True,
    )
    try:
        yield
    finally:
        print(f"\033[0Ksection_end:{int(time.time())}:{key}\r\033[0K", file=sys.stderr, flush=True)
