"""GitHub Actions annotations and job summaries, GitLab CI sections (cli/_ci_output)."""

from __future__ import annotations

from pathlib import Path

import pytest

from attestkit.cli._ci_output import github_error, github_summary, section


def test_annotations_only_on_github_and_never_injectable(capsys, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    github_error("dist/a.whl", "refused")
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    github_error("dist/a,b:c.whl", "100% refused\n::error::forged")
    assert capsys.readouterr().out == (
        "::error file=dist/a%2Cb%3Ac.whl,title=attestkit::100%25 refused%0A::error::forged\n"
    )


def test_job_summary_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    github_summary("Published", ("file", "result"), [("a.whl", "uploaded"), ("b|c", "failed")])
    assert summary.read_text() == (
        "### Published\n\n| file | result |\n|---|---|\n| a.whl | uploaded |\n"
        "| b\\|c | failed |\n\n"
    )


def test_gitlab_sections(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_CI", "true")
    with section("attestkit publish", "Publishing"):
        print("inside")
    captured = capsys.readouterr()
    assert "section_start:" in captured.err and ":attestkit_publish[collapsed=true]" in captured.err
    assert "\r\033[0KPublishing" in captured.err and "section_end:" in captured.err
    assert captured.out == "inside\n"
    monkeypatch.delenv("GITLAB_CI")
    with section("x", "y"):
        pass
    assert capsys.readouterr().err == ""
