"""``tts compare``: run a grid of strategies over a benchmark; ``tts compare report`` / ``merge`` read its files.

Engine flags are the same as ``tts run``'s. With no arguments the built-in grid runs on the built-in model and
benchmark (:mod:`tts.eval.defaults`) into a fresh directory, and the summary table is printed.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import textwrap
from pathlib import Path
from typing import Any

from ..errors import TTSError
from . import defaults

_RUN_FLAGS = {
    "think_format": "--think-format", "temperature": "--temperature", "top_p": "--top-p", "top_k": "--top-k",
    "seed": "--seed", "max_answer_tokens": "--max-answer-tokens", "system_prompt": "--system-prompt",
}


def add_compare_commands(sub: Any) -> None:
    """Register ``tts compare`` (with ``report`` and ``merge``) on the top-level subparsers."""
    from ..cli import add_engine_arguments

    compare = sub.add_parser(
        "compare", help="compare strategies on a benchmark: the paper's table and plots, resumable",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run every setting of a grid over a benchmark on one engine; print Control / Scaling / "
                    "Performance and per-setting accuracy; write samples, results.json and plots.",
        epilog=textwrap.dedent("""\
            examples:
              tts compare                                   # built-in grid, model and benchmark
              tts compare --model simplescaling/s1.1-32B --engine vllm --benchmark aime24 --grid paper-table3
              tts compare -s 'BF=budget_forcing:max_thinking_tokens=512|1024|2048' --benchmark math500 --limit 50
              tts compare --resume --output runs/table3      # continue after a crash
              tts compare report runs/table3
              tts compare report runs/adaptive --reference 'budget_forcing:max_thinking_tokens=2048'
              tts compare merge runs/shard1 runs/shard2 --output runs/table3
            """),
    )
    add_engine_arguments(compare, compare.add_argument_group("model and engine (flags of other engines are refused)"))
    _add_run_flags(compare)
    compare.set_defaults(func=_compare_command)
    more = compare.add_subparsers(title="reading a comparison", dest="action", metavar="{report,merge}")
    report = more.add_parser("report", help="print the table and redraw the plots of a comparison directory")
    report.add_argument("directory", type=Path)
    report.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    _add_reference_flag(report)
    report.set_defaults(func=_report_command)
    merge = more.add_parser("merge", help="combine shard directories of one comparison into one")
    merge.add_argument("directories", type=Path, nargs="+")
    merge.add_argument("--output", type=Path, required=True, help="new directory for the merged comparison")
    merge.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    _add_reference_flag(merge)
    merge.set_defaults(func=_merge_command)


def _add_reference_flag(parser: Any) -> None:
    parser.add_argument("--reference", default=None, metavar="SETTING",
                        help="setting id (or label of a one-setting method) to show tokens saved against")


def _add_run_flags(compare: argparse.ArgumentParser) -> None:
    grid = compare.add_argument_group("grid")
    grid.add_argument("--grid", help="TOML grid file or a shipped grid (paper-table3, paper-table4, tiny)")
    grid.add_argument("-s", "--strategy", action="append", default=[], metavar="METHOD",
                      help="[LABEL=]NAME:K=V|V,...[+NAME:...]: a method swept over settings ('|' lists values, '+' combines strategies); repeat")
    grid.add_argument("--setting", action="append", default=[], metavar="SETTING",
                      help="[LABEL=]NAME:K=V,...[+NAME:...]: one setting ('|' is a list value); settings sharing a label form a method")
    grid.add_argument("--zip", action="store_true", help="-s sweeps move together instead of forming a product")
    gen = compare.add_argument_group("generation (override the grid's [run] table)")
    gen.add_argument("--think-format", default=None, help="s1 or think-tags (default: s1)")
    gen.add_argument("--temperature", type=float, default=None, help="0 is greedy (default: 0)")
    gen.add_argument("--top-p", type=float, default=None)
    gen.add_argument("--top-k", type=int, default=None)
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--max-answer-tokens", type=int, default=None, help="cap of the answer phase (default: 32768)")
    gen.add_argument("--system-prompt", default=None, help="system turn (default: the chat template's)")
    data = compare.add_argument_group("benchmark")
    data.add_argument("--benchmark", default=None, help=f"built-in name, hub name or file (default: {defaults.BUILTIN_BENCHMARK})")
    data.add_argument("--split", default=None)
    data.add_argument("--config", dest="benchmark_config", default=None, help="hub dataset configuration")
    data.add_argument("--question-field", default=None)
    data.add_argument("--answer-field", default=None)
    data.add_argument("--limit", type=int, default=None, help="only the first N problems")
    io = compare.add_argument_group("output")
    io.add_argument("--output", type=Path, default=None, help="output directory (default: a new tts-compare/... one)")
    io.add_argument("--resume", action="store_true", help="continue the comparison in --output")
    io.add_argument("--shard", default=None, metavar="K/N", help="run part K of N of the grid x problems")
    io.add_argument("--separate-runs", action="store_true",
                    help="run every setting on its own (default: greedy budget sweeps share one pass)")
    io.add_argument("--grade-timeout", type=float, default=10.0, help="seconds per answer for math grading")
    io.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    _add_reference_flag(io)
    io.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _grid(args: argparse.Namespace) -> Any:
    from .gridfiles import grid_from_specs, load_grid

    if args.grid and (args.strategy or args.setting):
        raise TTSError("--grid cannot be combined with -s/--setting; put every method in the grid file.")
    if args.strategy or args.setting:
        grid = grid_from_specs(args.strategy, args.setting, zipped=args.zip)
    else:
        grid = load_grid(args.grid or defaults.BUILTIN_GRID)
    overrides = {key: getattr(args, key) for key in _RUN_FLAGS if getattr(args, key) is not None}
    grid.run.update(overrides)
    return grid


def _model(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """The model's identity for the run log, and what to load (the built-in model when none is given)."""
    from ..cli import engine_options_given, set_engine_option_default
    from ..plugins import get_engine_entry

    builtin = args.model is None and get_engine_entry(args.engine).requires_model
    if builtin:
        set_engine_option_default(args, "dtype", defaults.BUILTIN_ENGINE_OPTIONS["dtype"])
    given = engine_options_given(args)
    identity = {"engine": args.engine, "model": defaults.BUILTIN_MODEL if builtin else args.model}
    if "dtype" in {f.name for f in get_engine_entry(args.engine).fields()}:
        identity["dtype"] = given.get("dtype", "auto")
    return identity, None if builtin else args.model


def _compare_command(args: argparse.Namespace) -> int:
    from ..cli import _build_engine
    from .benchmarks import load_benchmark
    from .compare import Comparison, run_comparison
    from .shards import parse_shard

    grid = _grid(args)
    shard = parse_shard(args.shard) if args.shard else None
    benchmark = load_benchmark(args.benchmark or defaults.BUILTIN_BENCHMARK, split=args.split,
                               config=args.benchmark_config, question_field=args.question_field,
                               answer_field=args.answer_field,
                               limit=args.limit if args.limit is not None or args.benchmark else defaults.BUILTIN_LIMIT)
    model, path = _model(args)
    if args.resume and args.output is None:
        raise TTSError("--resume needs --output DIR, the directory of the comparison to continue.")
    directory = args.output or _fresh_directory(grid.name, benchmark.name)
    builtin = model["model"] == defaults.BUILTIN_MODEL
    comparison = Comparison(grid=grid, benchmark=benchmark, model=model, directory=directory, shard=shard,
                            grade_timeout=args.grade_timeout, one_pass_sweeps=not args.separate_runs,
                            engine_options=_engine_options(args), reference=args.reference)

    def factory() -> Any:
        return _build_engine(args, defaults.builtin_model() if builtin else path)

    summary = run_comparison(comparison, engine_factory=factory, resume=args.resume, progress=not args.no_progress)
    _show(comparison.identity(), summary, directory, plots=not args.no_plots)
    return 0


def _engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The engine flags given (for results.json; not part of the identity, and never the API key)."""
    from ..cli import engine_options_given

    return {k: v for k, v in engine_options_given(args).items() if k not in ("api_key", "dtype")}


def _fresh_directory(grid: str, benchmark: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("tts-compare") / f"{grid}-{Path(benchmark).stem}-{stamp}"


def _show(identity: dict[str, Any], summary: dict[str, Any], directory: Path, *, plots: bool) -> None:
    from .grid import Grid
    from .plots import write_plots
    from .report import format_summary

    grid = Grid.from_dict(identity["grid"])
    print(format_summary(grid, summary, title=summary_title(identity)))
    if identity["model"].get("model") == defaults.BUILTIN_MODEL:
        print("(built-in model: the miniature s1, trained here on chained one-digit arithmetic; docs/miniature.md)")
    written = write_plots(grid, summary, directory / "plots") if plots else []
    print(f"tts: results in {directory}" + (f" (plots: {', '.join(p.name for p in written)})" if written else ""),
          file=sys.stderr)


def summary_title(identity: dict[str, Any]) -> str:
    """First line of the table: grid, benchmark, model, shard."""
    bench = identity["benchmark"]
    model = identity["model"].get("model") or "(server's model)"
    shard = f", shard {identity['shard']}" if identity.get("shard") else ""
    return (f"grid {identity['grid']['name']} on {bench['name']} ({len(bench['doc_ids'])} problems), "
            f"model {model} ({identity['model']['engine']}){shard}")


def _report_command(args: argparse.Namespace) -> int:
    from ..runlog import read_run_log
    from .grid import Grid
    from .report import summarize
    from .samples import find_samples_file

    log = read_run_log(find_samples_file(args.directory))
    if log.identity.get("kind") != "tts compare":
        raise TTSError(f"{str(args.directory)!r} was not written by tts compare; pass a comparison directory.")
    summary = summarize(Grid.from_dict(log.identity["grid"]), log.records.values(), reference=args.reference)
    _show(log.identity, summary, args.directory, plots=not args.no_plots)
    return 0


def _merge_command(args: argparse.Namespace) -> int:
    from .shards import merge_directories

    identity, summary = merge_directories(args.directories, args.output, reference=args.reference)
    _show(identity, summary, args.output, plots=not args.no_plots)
    return 0
