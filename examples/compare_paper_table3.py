"""Reproduce the s1 paper's Table 3: sequential-scaling methods compared by Control / Scaling / Performance.

    # s1.1-32B on AIME24 with vLLM on 4 GPUs (hours); add --resume to continue, or point at servers with
    # --engine openai --base-url http://gpu1:8000/v1 --base-url ...
    python examples/compare_paper_table3.py --output runs/table3

    # the same seven methods at tiny budgets on the built-in model and benchmark (seconds)
    python examples/compare_paper_table3.py --tiny

The real run is ``tts compare --grid paper-table3`` (see ``src/tts/eval/grids/paper-table3.toml``); extra
arguments are passed on to it. Paper, AIME24 (Control / Scaling / Performance): BF 100% / 15 / 56.7,
TCC 40% / -24 / 40.0, TCC+BF 100% / 13 / 40.0, SCC 60% / 3 / 36.7, SCC+BF 100% / 6 / 36.7,
CCC 50% / 25 / 36.7, RS 100% / -35 / 40.0.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REAL = ["--engine", "vllm", "--model", "simplescaling/s1.1-32B", "--dtype", "bfloat16", "--tensor-parallel-size", "4",
        "--benchmark", "aime24", "--grid", "paper-table3"]
TINY_METHODS = [
    "BF=budget_forcing:max_thinking_tokens=16|32|64",
    "TCC=token_conditional:num_tokens=16|32|64",
    "TCC + BF=token_conditional:num_tokens=16|32|64+budget_forcing:max_thinking_tokens=16|32|64",
    "SCC=step_conditional:num_steps=2|4|8",
    "SCC + BF=step_conditional:num_steps=2|4|8+budget_forcing:max_thinking_tokens=64",
    "CCC=class_conditional:level=short|long",
    "RS=rejection_sampling:max_thinking_tokens=16|32|64,max_attempts=4",
]


def tiny(output: Path, limit: int = 3, methods: list[str] = TINY_METHODS) -> dict[str, Any]:
    """Run ``methods`` on the built-in model and benchmark into ``output``; print and return the summary."""
    import tts
    from tts.eval.benchmarks import load_benchmark
    from tts.eval.compare import Comparison, run_comparison
    from tts.eval.defaults import BUILTIN_MODEL, builtin_model
    from tts.eval.gridfiles import grid_from_specs
    from tts.eval.plots import write_plots
    from tts.eval.report import format_summary

    engine = tts.HFEngine(builtin_model(), dtype="float32")
    engine.context_length = 640  # keeps the methods without a token cap short; char-level prompts are ~250 tokens
    grid = grid_from_specs(methods, [], zipped=True, run={"max_answer_tokens": 32, "seed": 0})
    comparison = Comparison(grid=grid, benchmark=load_benchmark("tiny", limit=limit), directory=output,
                            model={"engine": "hf", "model": BUILTIN_MODEL, "dtype": "float32", "context_length": 640})
    summary = run_comparison(comparison, engine, resume=True, progress=False)
    print(format_summary(grid, summary, title=f"{grid.name} on the built-in model ({limit} problems)"))
    write_plots(grid, summary, output / "plots")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--tiny" in args:
        output = Path(args[args.index("--output") + 1]) if "--output" in args else Path("tts-compare/table3-tiny")
        tiny(output)
        return 0
    from tts.cli import main as tts_main

    return tts_main(["compare", *REAL, *args])


if __name__ == "__main__":
    sys.exit(main())
