"""Print the versions an environment resolved for the direct dependencies that pyproject.toml declares.

    ENV/bin/python .ci/versions.py NAME OUT_DIR     # run with the environment's Python: prints one line per
                                                    # package and writes OUT_DIR/versions-NAME.json
    python3 .ci/versions.py --table OUT_DIR         # a Markdown table of every versions-*.json there

Why: the CI log must say which versions each environment (full / latest / lowest) was tested with, and
docs/install.md's table of tested versions is copied from the ``--table`` output of a CI run.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import metadata
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["lowest", "latest", "full"]


def project() -> dict:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"])


def parse(requirement: str) -> tuple[str, str]:
    """``"trl>=1.16,<2"`` -> ``("trl", ">=1.16,<2")`` (extras and markers dropped)."""
    match = re.match(r"\s*([A-Za-z0-9._-]+)\s*(\[[^\]]*\])?\s*([^;]*)", requirement)
    assert match, requirement
    return match.group(1).lower(), match.group(3).strip()


def declared() -> dict[str, str]:
    """Every direct requirement (dependencies and all extras) -> its specifier, first declaration wins."""
    requirements = list(project()["dependencies"])
    for extra in project().get("optional-dependencies", {}).values():
        requirements += extra
    out: dict[str, str] = {}
    for name, spec in map(parse, requirements):
        if name != "tts-scaling":
            out.setdefault(name, spec)
    return out


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def record(env: str, out_dir: Path) -> None:
    versions = {name: installed(name) for name in declared()}
    versions["python"] = ".".join(map(str, sys.version_info[:3]))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"versions-{env}.json").write_text(json.dumps(versions, indent=1) + "\n")
    print(f"versions resolved in the {env} environment:")
    for name, version in versions.items():
        print(f"  {name:16} {version or '-'}")


def table(out_dir: Path) -> None:
    envs = {p.stem.removeprefix("versions-"): json.loads(p.read_text()) for p in out_dir.glob("versions-*.json")}
    columns = sorted(envs, key=lambda e: ORDER.index(e) if e in ORDER else len(ORDER))
    print("| package | declared | " + " | ".join(columns) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in columns) + " |")
    for name, spec in {"python": "", **declared()}.items():
        cells = [envs[e].get(name) or "–" for e in columns]
        print(f"| {name} | {spec or '–'} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        table(Path(sys.argv[2]))
    elif len(sys.argv) == 3:
        record(sys.argv[1], Path(sys.argv[2]))
    else:
        sys.exit(__doc__)
