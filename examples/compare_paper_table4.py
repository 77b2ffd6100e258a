"""Reproduce the s1 paper's Table 4: extrapolating thinking with budget forcing, by ignore string.

    # s1.1-32B on AIME24 with vLLM on 4 GPUs; extra arguments go to tts compare (e.g. --resume)
    python examples/compare_paper_table4.py --output runs/table4

    # the same sweep on the built-in model and benchmark (seconds)
    python examples/compare_paper_table4.py --tiny

The real run is ``tts compare --grid paper-table4``: no extrapolation versus ignoring the end of thinking
twice and appending nothing, "Alternatively", "Hmm" or "Wait". Paper, AIME24: 50.0 without extrapolation;
2x with no string / "Alternatively" / "Hmm": 50.0; 2x "Wait": 53.3.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REAL = ["--engine", "vllm", "--model", "simplescaling/s1.1-32B", "--dtype", "bfloat16", "--tensor-parallel-size", "4",
        "--benchmark", "aime24", "--grid", "paper-table4"]


def tiny(output: Path, limit: int = 3) -> dict[str, Any]:
    """The shipped paper-table4 grid on the built-in model (context capped so uncapped thinking stays short)."""
    import tts
    from tts.eval.benchmarks import load_benchmark
    from tts.eval.compare import Comparison, run_comparison
    from tts.eval.defaults import BUILTIN_MODEL, builtin_model
    from tts.eval.gridfiles import load_grid
    from tts.eval.report import format_summary

    engine = tts.HFEngine(builtin_model(), dtype="float32")
    engine.context_length = 640
    grid = load_grid("paper-table4")
    grid.run["max_answer_tokens"] = 32  # "Final Answer:" is 13 of the built-in miniature's tokens
    comparison = Comparison(grid=grid, benchmark=load_benchmark("tiny", limit=limit), directory=output,
                            model={"engine": "hf", "model": BUILTIN_MODEL, "dtype": "float32", "context_length": 640})
    summary = run_comparison(comparison, engine, resume=True, progress=False)
    print(format_summary(grid, summary, title=f"{grid.name} on the built-in model ({limit} problems)"))
    return summary


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--tiny" in args:
        output = Path(args[args.index("--output") + 1]) if "--output" in args else Path("tts-compare/table4-tiny")
        tiny(output)
        return 0
    from tts.cli import main as tts_main

    return tts_main(["compare", *REAL, *args])


if __name__ == "__main__":
    sys.exit(main())
