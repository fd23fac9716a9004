"""Check distributions the way the index will, before anything is sent (``attestkit check``).

What ``twine check`` does, and what PyPI would refuse besides:

* every input is a wheel or sdist whose core metadata parses and validates
  (required fields, versions, ``Description-Content-Type``), read once
  (:func:`attestkit.client.package.plan`);
* the file name follows the index's rules for this name and version
  (:mod:`attestkit.core.index_rules`: PEP 625 sdist names, wheel names and tags);
* the README renders on PyPI (:func:`attestkit.core.readme.description_problem`);
  a missing long description or content type is a warning, as in twine.

``attestkit publish`` runs the same checks before its first request.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from attestkit.client.package import PlannedUpload

__all__ = ["CheckResult", "check", "check_planned"]


@dataclass
class CheckResult:
    """One file's verdict: ``errors`` make it fail; ``warnings`` do not."""

    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the index would take the file."""
        return not self.errors


def check(dists: Sequence[str | os.PathLike[str]]) -> tuple[list[CheckResult], list[str]]:
    """Every distribution's verdict, and the input errors that are not about one file."""
    from attestkit.client.package import UploadInputError, plan

    try:
        planned = plan(dists, attestations=False)
    except UploadInputError as exc:
        return [], [str(e) for e in exc.errors]
    return [check_planned(job) for job in planned], []


def check_planned(job: PlannedUpload) -> CheckResult:
    """The README checks of one file that :func:`~attestkit.client.package.plan` accepted."""
    result = CheckResult(job.path)
    text = job.value("description")
    content_type = job.value("description_content_type") or None
    if not text.strip():
        result.warnings.append("no long description: the project page will be empty")
    elif content_type is None:
        result.warnings.append(
            "no Description-Content-Type: PyPI reads the README as reStructuredText"
        )
    try:
        from attestkit.core.readme import description_problem

        problem = description_problem(text, content_type)
    except ImportError:
        result.warnings.append(
            "the README was not rendered (pip install 'attestkit[check]' to check it)"
        )
    else:
        if problem is not None:
            result.errors.append(problem)
    return result
