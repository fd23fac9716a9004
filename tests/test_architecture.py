"""The layout's rules that import-linter cannot state (the layers are in pyproject.toml)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted((SRC / "attestkit").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name != "_version"


def private_imports(module: str, is_package: bool, source: str) -> list[str]:
    """Imports in ``source`` of a private name or module owned by another package."""
    importer_pkg = module if is_package else module.rpartition(".")[0]
    offences = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("attestkit"):
            continue
        assert node.module is not None
        parts = node.module.split(".")
        private_at = next((i for i, part in enumerate(parts) if _private(part)), None)
        if private_at is not None:
            owner = ".".join(parts[:private_at])
        elif any(_private(alias.name) for alias in node.names):
            owner = node.module if node.module == "attestkit" else node.module.rpartition(".")[0]
        else:
            continue
        if importer_pkg != owner and not importer_pkg.startswith(owner + "."):
            offences.append(f"{module} imports {node.module}: {[a.name for a in node.names]}")
    return offences


def test_nobody_imports_another_packages_private_names() -> None:
    """``_name`` (a function, class or module) is used only inside the package that defines it."""
    offences = []
    for module, path in _modules():
        offences += private_imports(module, path.name == "__init__.py", path.read_text())
    assert offences == []


def test_the_private_name_rule_sees_offences_and_allows_the_package_itself() -> None:
    bad = "from attestkit.sigstore.trust import _parse\nfrom attestkit.cli._common import x\n"
    assert len(private_imports("attestkit.client.sign", False, bad)) == 2
    ok = "from attestkit.cli._common import x\nfrom attestkit.cli.sign import _plan\n"
    assert private_imports("attestkit.cli.upload", False, ok) == []
    assert private_imports("attestkit._version", False, "from attestkit._version import v") == []


def test_test_modules_share_helpers_only_through_fixtures() -> None:
    """A test module imports helpers from tests/fixtures (or tests.conftest), never another test."""
    root = SRC.parent / "tests"
    offences = []
    for path in sorted(root.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests."):
                module = node.module or ""
                if not module.startswith(("tests.fixtures", "tests.conftest")):
                    offences.append(f"{path.relative_to(root)} imports {module}")
    assert offences == []


#: The size beyond which a module must say why it is one module.
MAX_LINES = 500


def test_large_modules_state_why_they_are_one_module() -> None:
    """No module over ~500 lines without a stated reason ("Why one module" in its docstring)."""
    unexplained = []
    for module, path in _modules():
        text = path.read_text()
        if text.count("\n") > MAX_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Why one module" not in doc:
                unexplained.append(f"{module}: {text.count(chr(10))} lines")
    assert unexplained == []
