"""Real comparison directories for the viewer's tests, made by ``tts compare``'s Python API on the tiny model.

* ``compare_dir``: budget forcing swept over budgets (one BudgetSweep pass, so forks), BF + Wait (injected
  ignore strings), and majority voting with 2 samples (maj@k / pass@k), on a MATH-style file with subject and
  level, so every part of the page has data.
* ``hostile_dir``: the same problems' ids, a question, a reference, an ignore string and a forced answer that
  are each an attempt to run script in the page.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HOSTILE = "</script><script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"

PROBLEMS = [
    {"problem": "What is 7 + 5?", "answer": "12", "subject": "Arithmetic", "level": 1},
    {"problem": "What is 9 times 8?", "answer": "72", "subject": "Arithmetic", "level": 2},
    {"problem": "Solve for x: 3x + 4 = 19.", "answer": "5", "subject": "Algebra", "level": 2},
    {"problem": "What is 2 to the power 10?", "answer": "1024", "subject": "Algebra", "level": 3},
]


def _run(directory: Path, grid: Any, rows: list[dict[str, Any]], engine: Any, model: str) -> Path:
    from tts.eval.benchmarks import load_benchmark
    from tts.eval.compare import Comparison, run_comparison

    data = directory.parent / f"{directory.name}-problems.jsonl"
    data.write_text("".join(json.dumps({"unique_id": f"p{i}", **row}) + "\n" for i, row in enumerate(rows)))
    benchmark = load_benchmark("math500", data_file=data)
    comparison = Comparison(grid=grid, benchmark=benchmark, directory=directory, grade_timeout=30,
                            model={"engine": "hf", "model": model, "dtype": "float32"})
    run_comparison(comparison, engine, progress=False)
    return directory


@pytest.fixture(scope="session")
def compare_dir(hf_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tts.eval.gridfiles import grid_from_specs

    grid = grid_from_specs(
        ["BF=budget_forcing:max_thinking_tokens=8|16|32", "BF + Wait=budget_forcing:max_thinking_tokens=32,num_ignore=1|2"],
        ["voting + BF=majority_voting:n=2,temperature=1.0+budget_forcing:max_thinking_tokens=16"],
        run={"max_answer_tokens": 16},
    )
    return _run(tmp_path_factory.mktemp("view") / "compare", grid, PROBLEMS, hf_engine, "tiny-random")


@pytest.fixture(scope="session")
def hostile_dir(hf_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tts.eval.grid import Cell, StrategySpec, build_grid

    bf = StrategySpec("budget_forcing", (("forced_answer", HOSTILE), ("ignore_string", HOSTILE),
                                         ("max_thinking_tokens", 96), ("num_ignore", 1)))
    grid = build_grid("hostile", [("BF " + HOSTILE, [Cell((bf,))])], run={"max_answer_tokens": 96})
    rows = [{**row, "problem": row["problem"] + (HOSTILE if i else ""), "answer": HOSTILE if i == 0 else row["answer"],
             "subject": HOSTILE} for i, row in enumerate(PROBLEMS[:2])]
    return _run(tmp_path_factory.mktemp("view") / "hostile", grid, rows, hf_engine, "tiny-random")


@pytest.fixture()
def hostile() -> str:
    """The text the hostile comparison tries to run as script."""
    return HOSTILE


@pytest.fixture()
def copy_of(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh copy of a directory, to break without harming the session's."""

    def copy(directory: Path) -> Path:
        return Path(shutil.copytree(directory, tmp_path / directory.name))

    return copy


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Headless Debian Chromium through Selenium, with the system chromedriver (Selenium Manager downloads nothing)."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip("browser tests need /usr/bin/chromium and /usr/bin/chromedriver; run .ci/browser.sh to install them")
    webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium (the dev extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--disable-background-networking", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()
