"""The docs build in strict mode, and every hook is documented and tested."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tts import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("tts_"))


def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).with_name("mkdocs"))
    result = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_docs_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in (ROOT / "docs").rglob("*.md"):
        relative = page.relative_to(ROOT / "docs").as_posix()
        assert f" {relative}" in nav, f"{relative} is not in mkdocs.yml's nav"


def test_every_builtin_strategy_has_a_docs_page_and_a_test_module() -> None:
    from tts.plugins import BUILTIN_MODULES

    overview = (ROOT / "docs" / "strategies" / "index.md").read_text()
    for name in BUILTIN_MODULES:
        slug = name.replace("_", "-")
        assert (ROOT / "docs" / "strategies" / f"{slug}.md").exists(), f"no docs page for {name}"
        assert f"`{name}`" in overview, f"{name} is missing from docs/strategies/index.md"
        assert (ROOT / "tests" / "strategies" / f"test_{name}.py").exists(), f"no test module for {name}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook: str) -> None:
    reference = (ROOT / "docs" / "hooks.md").read_text()
    assert f"## {hook}" in reference, f"docs/hooks.md has no section for {hook}"
    assert getattr(hookspecs, hook).__doc__, f"{hook} has no docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str) -> None:
    tests = "".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p.name != "test_docs.py")
    assert re.search(rf"def {hook}\b", tests), f"no test implements {hook}"
