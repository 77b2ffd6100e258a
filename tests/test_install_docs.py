"""The install promises: the README's two commands, CI running the second, and docs/install.md's table of
tested versions agreeing with pyproject.toml (whose lower bounds are what the *lowest* environment tests).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def ci_versions() -> ModuleType:
    """.ci/versions.py, which reads the direct requirements from pyproject.toml (one parser for both)."""
    spec = importlib.util.spec_from_file_location("ci_versions", ROOT / ".ci" / "versions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def version_table() -> dict[str, dict[str, str]]:
    """docs/install.md's table: package -> {column: cell}."""
    section = (ROOT / "docs" / "install.md").read_text().split("## Tested versions", 1)[1]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| ---")]
    header, body = rows[0], rows[1:]
    return {row[0]: dict(zip(header, row)) for row in body}


def release(version: str) -> tuple[int, ...]:
    """``1.24.0`` and ``1.24`` alike: the numeric release without trailing zeros."""
    parts = [int(p) for p in re.match(r"[\d.]+", version).group(0).strip(".").split(".")]  # type: ignore[union-attr]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def test_the_readme_quickstart_has_two_commands_and_ci_runs_the_second() -> None:
    commands = quickstart_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in command for command in commands), "each quickstart command is one line"
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert commands[1] in ci_lines, ".ci/run must run the README's test command verbatim"


def test_the_tested_versions_table_matches_pyproject() -> None:
    declared = ci_versions().declared()
    table = version_table()
    assert set(table) == {"python", *declared}, "docs/install.md's table and pyproject.toml name other packages"
    for name, spec in declared.items():
        assert table[name]["declared"] == spec, f"{name}: docs/install.md says {table[name]['declared']!r}"


def test_lower_bounds_are_the_versions_the_lowest_environment_tested() -> None:
    versions = ci_versions()
    project = versions.project()
    from packaging.requirements import Requirement

    requirements = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    # A dependency whose marker excludes this Python (tomli: 3.10 only) is not installed here.
    tested_lowest = {r.name for r in requirements if r.marker is None or r.marker.evaluate()}
    table = version_table()
    for name, spec in versions.declared().items():
        bound = re.search(r">=\s*([\w.]+)", spec)
        if name == "torch" or bound is None:  # torch: 2.13.0 in every environment (docs/install.md says why)
            continue
        lowest = table[name]["lowest"]
        if name in tested_lowest:
            assert lowest != "–", f"{name} is a direct dependency but the lowest environment did not install it"
        if lowest != "–":
            assert release(lowest) == release(bound.group(1)), f"{name}: lowest tested {lowest}, declared {spec}"
