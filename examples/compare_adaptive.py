"""Adaptive compute against fixed budgets, on a <think> model: DeepConf, certainty probing, budget forcing and
majority voting at matched thinking-token caps.

    # DeepSeek-R1-Distill-Qwen-1.5B on AIME 2024 with vLLM on one GPU; extra arguments go to tts compare
    python examples/compare_adaptive.py --output runs/adaptive

    # the same comparison on the built-in miniature model and benchmark (a minute or two on a CPU)
    python examples/compare_adaptive.py --tiny

The real run is ``tts compare --grid adaptive --think-format think-tags --engine vllm``: budget forcing at
2k-16k thinking tokens; certainty probing (probe every 256 or 512 thinking tokens, stop when 3 probes agree);
majority voting over 16 samples; DeepConf online over up to 16 traces (4 warm-up traces set the confidence
threshold; DeepConf-low keeps 10%, -high 90%). Every method is capped at 16,384 thinking tokens, so the
frontier plot (``plots/frontier.png``: accuracy against total tokens, probes included) shows which spends its
tokens best. vLLM needs ``--max-logprobs 20`` or more for DeepConf (its default is 20) and prefix caching on
(the default) for probing. Add ``--reference budget_forcing:max_thinking_tokens=16384`` to print the tokens
each setting saves against budget forcing's largest budget, at equal accuracy or not.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

REAL = ["--engine", "vllm", "--model", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "--dtype", "bfloat16",
        "--think-format", "think-tags", "--benchmark", "aime24", "--grid", "adaptive"]

TINY_GRID = """
name = "adaptive-tiny"
[run]
temperature = 0.0
seed = 0
max_answer_tokens = 32
[[method]]
label = "BF"
strategy = "budget_forcing"
sweep = { max_thinking_tokens = [32, 128] }
[[method]]
label = "certainty probe + BF"
strategy = ["certainty_probe", "budget_forcing"]
settings = { "certainty_probe.chunk_size" = 8, "certainty_probe.agreement" = 2, "budget_forcing.max_thinking_tokens" = 128 }
[[method]]
label = "voting@4 + BF"
strategy = ["majority_voting", "budget_forcing"]
settings = { "majority_voting.n" = 4, "majority_voting.equivalence" = "simple", "budget_forcing.max_thinking_tokens" = 128 }
[[method]]
label = "DeepConf online + BF"
strategy = ["deepconf", "budget_forcing"]
settings = { "deepconf.n" = 6, "deepconf.warmup" = 2, "deepconf.wave" = 2, "deepconf.top_k" = 5, "deepconf.window" = 16, "deepconf.check_every" = 8, "deepconf.keep_percent" = 90, "deepconf.equivalence" = "simple", "budget_forcing.max_thinking_tokens" = 128 }
"""


def tiny(output: Path, limit: int = 3) -> dict[str, Any]:
    """The comparison on the built-in miniature, with budgets and sample counts scaled down."""
    import tts
    from tts.eval.benchmarks import load_benchmark
    from tts.eval.compare import Comparison, run_comparison
    from tts.eval.defaults import BUILTIN_MODEL, builtin_model
    from tts.eval.gridfiles import load_grid
    from tts.eval.plots import write_plots
    from tts.eval.report import format_summary

    with tempfile.TemporaryDirectory() as tmp:
        grid_file = Path(tmp) / "adaptive-tiny.toml"
        grid_file.write_text(TINY_GRID)
        grid = load_grid(grid_file)
    engine = tts.HFEngine(builtin_model(), dtype="float32")
    comparison = Comparison(grid=grid, benchmark=load_benchmark("miniature", limit=limit), directory=output,
                            model={"engine": "hf", "model": BUILTIN_MODEL, "dtype": "float32"})
    summary = run_comparison(comparison, engine, resume=True, progress=False)
    print(format_summary(grid, summary, title=f"{grid.name} on the built-in model ({limit} problems)"))
    write_plots(grid, summary, output / "plots")  # frontier.png: accuracy against total tokens, probes included
    return summary


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--tiny" in args:
        output = Path(args[args.index("--output") + 1]) if "--output" in args else Path("tts-compare/adaptive-tiny")
        tiny(output)
        return 0
    from tts.cli import main as tts_main

    return tts_main(["compare", *REAL, *args])


if __name__ == "__main__":
    sys.exit(main())
