"""The built wheel: every file of the package is in it, and nothing else is.

Why: the suite otherwise runs against the source tree (an editable install), where a data file that the
build configuration leaves out is still on disk, so a wheel without the shipped model or benchmarks would
pass. What must be in the wheel is read from the tree, not from pyproject.toml: every file under src/tts
(tracked by git where the tree is a clone). pyproject.toml's ``[tool.setuptools.package-data]`` patterns are
checked on top: each must bring at least one file. So dropping a pattern, or adding a data file without
one, fails here. CI sets ``TTS_WHEEL`` to the wheel that ``python -m build`` made (and installs that wheel
for the latest and lowest environments); without it, the test builds one from a copy of the tree.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
LEFTOVER_PARTS = {"tests", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "build", "dist"}
LEFTOVER_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".orig", ".rej", "~")


def source_files(root: Path) -> set[str]:
    """Paths (like ``tts/py.typed``) of every file under ``root``/src/tts that the wheel must carry."""
    if (root / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", "src/tts"], cwd=root, capture_output=True, check=True, text=True
        ).stdout
        paths = [PurePosixPath(p).relative_to("src") for p in listed.split("\0") if p]
    else:
        src = root / "src"
        paths = [PurePosixPath(p.relative_to(src).as_posix()) for p in (src / "tts").rglob("*") if p.is_file()]
    return {str(p) for p in paths if not is_leftover(str(p))}


def package_data(pyproject: Path) -> dict[str, list[str]]:
    config = tomllib.loads(pyproject.read_text())
    return dict(config.get("tool", {}).get("setuptools", {}).get("package-data", {}))


def is_leftover(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(part in LEFTOVER_PARTS or part.endswith(LEFTOVER_SUFFIXES) for part in parts) or name.endswith(
        LEFTOVER_SUFFIXES
    )


def wheel_problems(names: list[str], expected: set[str], data: dict[str, list[str]]) -> list[str]:
    """Everything wrong with a wheel whose archive holds ``names``; empty when it is right."""
    problems = [f"{path} is in src/ but not in the wheel" for path in sorted(expected - set(names))]
    for package, patterns in data.items():
        folder = package.replace(".", "/") if package != "*" else "*"
        for pattern in patterns:
            if not any(fnmatch.fnmatch(n, f"{folder}/{pattern}") for n in names):
                problems.append(f"package-data pattern {pattern!r} of {package!r} brings no file into the wheel")
    for name in names:
        top = PurePosixPath(name).parts[0]
        if is_leftover(name) or not (top == "tts" or top.endswith(".dist-info")):
            problems.append(f"{name} should not be in the wheel")
    return problems


def build_wheel(tree: Path, out: Path) -> Path:
    """Build a wheel from ``tree`` with the setuptools installed here (no isolation: offline and quick)."""
    code = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=tree, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


def copy_tree(dest: Path) -> Path:
    """The files a build reads (pyproject.toml, README.md, LICENSE*, src/) copied without caches."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in [ROOT / "pyproject.toml", ROOT / "README.md", *ROOT.glob("LICENSE*")]:
        shutil.copy(path, dest / path.name)
    shutil.copytree(SRC, dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("TTS_WHEEL"):
        return Path(os.environ["TTS_WHEEL"])
    # Only look for setuptools: importing it here, after something imported the stdlib's distutils, trips its
    # distutils hack; the build runs in a subprocess anyway.
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed (the dev extra brings it)")
    tree = copy_tree(tmp_path_factory.mktemp("tree"))
    return build_wheel(tree, tmp_path_factory.mktemp("dist"))


def test_the_wheel_carries_every_package_file_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "tts/__init__.py" in names
    assert wheel_problems(names, source_files(ROOT), package_data(ROOT / "pyproject.toml")) == []


def test_data_left_out_of_the_build_configuration_fails(tmp_path: Path) -> None:
    """A copy of the tree with one more data file and no package-data table: the check names what is missing."""
    # Only look for setuptools: importing it here, after something imported the stdlib's distutils, trips its
    # distutils hack; the build runs in a subprocess anyway.
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed (the dev extra brings it)")
    tree = copy_tree(tmp_path / "tree")
    (tree / "src" / "tts" / "_probe.json").write_text("{}\n")
    pyproject = tree / "pyproject.toml"
    pyproject.write_text(re.sub(r"(?ms)^\[tool\.setuptools\.package-data\]$.*?(?=^\[)", "", pyproject.read_text()))
    assert package_data(pyproject) == {}, "the package-data table was not removed from the copy"

    names = zipfile.ZipFile(build_wheel(tree, tmp_path / "dist")).namelist()
    problems = wheel_problems(names, source_files(tree), {})
    assert "tts/_probe.json is in src/ but not in the wheel" in problems
    declared = {n for n in source_files(ROOT) if not n.endswith((".py", "py.typed"))}  # setuptools adds py.typed
    assert {f"{n} is in src/ but not in the wheel" for n in declared} <= set(problems)


def test_leftovers_and_foreign_files_are_reported() -> None:
    names = ["tts/__init__.py", "tts/__pycache__/x.cpython-311.pyc", "tests/test_x.py", "tts_scaling-0.1.dist-info/RECORD"]
    problems = wheel_problems(names, {"tts/__init__.py", "tts/py.typed"}, {"tts": ["py.typed"]})
    assert problems == [
        "tts/py.typed is in src/ but not in the wheel",
        "package-data pattern 'py.typed' of 'tts' brings no file into the wheel",
        "tts/__pycache__/x.cpython-311.pyc should not be in the wheel",
        "tests/test_x.py should not be in the wheel",
    ]


@pytest.mark.skipif(not os.environ.get("TTS_WHEEL"), reason="CI sets TTS_WHEEL where the wheel is installed")
def test_the_suite_runs_against_the_installed_wheel() -> None:
    import tts

    assert SRC not in Path(tts.__file__).resolve().parents, f"tts imported from the tree: {tts.__file__}"
