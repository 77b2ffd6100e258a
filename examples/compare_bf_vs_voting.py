"""Budget forcing vs majority voting at equal thinking tokens, on a <think> model.

    # DeepSeek-R1-Distill-Qwen-1.5B on MATH-500 with vLLM on one GPU; extra arguments go to tts compare
    python examples/compare_bf_vs_voting.py --output runs/bf-vs-voting

    # the same comparison, scaled down, on the built-in model and benchmark (seconds)
    python examples/compare_bf_vs_voting.py --tiny

The real run is ``tts compare --grid bf-vs-voting --think-format think-tags``: budget forcing at B thinking
tokens against majority voting over 4 samples (temperature 0.6) capped at B / 4 each, so both spend the
same thinking budget per problem. ``tts compare report DIR`` then shows which kind of scaling buys more
accuracy per token (the s1 paper found sequential scaling — budget forcing — ahead for s1-32B).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

REAL = ["--engine", "vllm", "--model", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "--dtype", "bfloat16",
        "--think-format", "think-tags", "--benchmark", "math500", "--grid", "bf-vs-voting"]

TINY_GRID = """
name = "bf-vs-voting-tiny"
[run]
temperature = 0.0
max_answer_tokens = 32
[[method]]
label = "BF"
strategy = "budget_forcing"
sweep = { max_thinking_tokens = [32, 64] }
[[method]]
label = "voting@4 + BF"
strategy = ["majority_voting", "budget_forcing"]
settings = { "majority_voting.n" = 4, "majority_voting.temperature" = 0.6 }
sweep = { "budget_forcing.max_thinking_tokens" = [8, 16] }
"""


def tiny(output: Path, limit: int = 3) -> dict[str, Any]:
    """The comparison on the built-in model with budgets a thousandth of the real ones."""
    import tts
    from tts.eval.benchmarks import load_benchmark
    from tts.eval.compare import Comparison, run_comparison
    from tts.eval.defaults import BUILTIN_MODEL, builtin_model
    from tts.eval.gridfiles import load_grid
    from tts.eval.report import format_summary

    with tempfile.TemporaryDirectory() as tmp:
        grid_file = Path(tmp) / "bf-vs-voting-tiny.toml"
        grid_file.write_text(TINY_GRID)
        grid = load_grid(grid_file)
    engine = tts.HFEngine(builtin_model(), dtype="float32")
    comparison = Comparison(grid=grid, benchmark=load_benchmark("tiny", limit=limit), directory=output,
                            model={"engine": "hf", "model": BUILTIN_MODEL, "dtype": "float32"})
    summary = run_comparison(comparison, engine, resume=True, progress=False)
    print(format_summary(grid, summary, title=f"{grid.name} on the built-in model ({limit} problems)"))
    return summary


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--tiny" in args:
        output = Path(args[args.index("--output") + 1]) if "--output" in args else Path("tts-compare/bf-vs-voting-tiny")
        tiny(output)
        return 0
    from tts.cli import main as tts_main

    return tts_main(["compare", *REAL, *args])


if __name__ == "__main__":
    sys.exit(main())
