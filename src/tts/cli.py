"""The ``tts`` command line: ``tts run`` (any strategy, any engine, JSONL in and out) and ``tts strategies``.

Errors a user can cause print one line, ``tts: error: ...``, and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cli_engines import DEST_PREFIX, add_engine_flags, engine_flag_values
from .errors import BudgetError, ConfigError, DataError, StrategyConflictError, StrategyError, TTSError
from .plugins import get_engine_entry
from .strategies.base import check_conflicts

#: Held-out-style problems for ``tts run --demo`` on the built-in miniature (docs/miniature.md).
DEMO_QUESTIONS = (
    "What is 3 + 9 + 8?",
    "What is 47 - 1 - 6 - 7?",
    "What is 2 + 5 + 9 + 4 + 6?",
)
DEMO_STRATEGY = "budget_forcing:max_thinking_tokens=128"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tts`` command; returns the exit status."""
    try:
        parser = build_parser()  # a broken engine plugin fails here, with one line
        args = parser.parse_args(argv)
        if not hasattr(args, "func"):
            parser.print_help()
            return 2
        return int(args.func(args))
    except TTSError as exc:
        print(f"tts: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tts: interrupted; results written so far are kept.", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="tts", description="Test-time scaling for reasoning models.")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_run(sub)
    listing = sub.add_parser("strategies", help="list the registered strategies and their settings")
    listing.set_defaults(func=lambda args: print(strategies_help()) or 0)
    try:
        from .finetune.cli import add_finetune_commands
    except ModuleNotFoundError as exc:  # tts.finetune not part of this build
        if exc.name not in ("tts.finetune", "tts.finetune.cli"):
            raise
    else:
        add_finetune_commands(sub)
    from .eval.cli import add_compare_commands

    add_compare_commands(sub)
    from .view import add_view_command

    add_view_command(sub)
    from .miniature.cli import add_miniature_commands

    add_miniature_commands(sub)
    return parser


def _add_run(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run problems through a model under one or more strategies",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run problems through a model under strategies; write one JSON record per problem.",
        epilog=strategies_help() + "\n\n" + textwrap.dedent(f"""\
            examples:
              tts run --demo
              tts run --model simplescaling/s1.1-32B --dtype bfloat16 \\
                  -s budget_forcing:max_thinking_tokens=2048,num_ignore=1 \\
                  --input problems.jsonl --output results.jsonl
              tts run --model ./my-model -s "{DEMO_STRATEGY}" --prompt "What is 7*6?"
            """),
    )
    src = run.add_argument_group("model")
    src.add_argument("--model", help=MODEL_HELP)
    src.add_argument("--demo", action="store_true", help="use the built-in tiny random model and example questions")
    engine_group = run.add_argument_group("engine (flags of other engines are refused)")
    gen = run.add_argument_group("generation")
    gen.add_argument("-s", "--strategy", action="append", default=[], metavar="NAME[:K=V,...]",
                     help="a strategy and its settings; repeat to combine (list values with '|')")
    gen.add_argument("--think-format", default="s1", help="s1 or think-tags (default: s1)")
    gen.add_argument("--temperature", type=float, default=0.0, help="0 is greedy (default: 0)")
    gen.add_argument("--top-p", type=float, default=1.0)
    gen.add_argument("--top-k", type=int, default=0)
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--max-answer-tokens", type=int, default=None,
                     help="cap of the answer phase (default: 32768, as s1's harness; 64 with --demo)")
    gen.add_argument("--system-prompt", default=None, help="system turn (default: the chat template's)")
    io = run.add_argument_group("input and output")
    io.add_argument("--prompt", action="append", default=[], help="a question; repeat for several")
    io.add_argument("--input", type=Path, help="JSONL file: one question per line, as a string or an object")
    io.add_argument("--question-field", default="question", help="field holding the question (default: question)")
    io.add_argument("--output", type=Path,
                    help="run log (JSONL) for the records: each problem appended as it finishes; never overwritten")
    io.add_argument("--resume", action="store_true",
                    help="continue --output: skip the problems in it (the run's settings and input must match)")
    io.add_argument("--chunk-size", type=int, default=64, help="problems per tts.run call (default: 64)")
    io.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_engine_flags(run, engine_group)  # last, so that an option clashing with a flag above is reported
    run.set_defaults(func=_run_command)


MODEL_HELP = "hub id or local directory of the model (openai: the served model name)"


def add_engine_arguments(parser: argparse.ArgumentParser, group: Any) -> None:
    """``--model``, ``--engine`` and every registered engine's flags, for commands besides ``tts run``."""
    group.add_argument("--model", help=MODEL_HELP)
    add_engine_flags(parser, group)


def engine_options_given(args: argparse.Namespace) -> dict[str, Any]:
    """The flags of the chosen engine that were given, by option name (another engine's flag is refused)."""
    return engine_flag_values(args, get_engine_entry(args.engine))


def set_engine_option_default(args: argparse.Namespace, option: str, value: Any) -> None:
    """Give an engine option a value unless its flag was given (e.g. float32 for the built-in model)."""
    if getattr(args, DEST_PREFIX + option, None) is None and option in {f.name for f in get_engine_entry(args.engine).fields()}:
        setattr(args, DEST_PREFIX + option, value)


def strategies_help() -> str:
    """A listing of every registered strategy with its settings, defaults and help."""
    import dataclasses

    from .plugins import strategy_registry
    from .settings import describe, type_hints

    lines = ["strategies (-s NAME:setting=value,...):"]
    for name, cls in sorted(strategy_registry().items()):
        lines.append(f"  {name}: {cls.summary}")
        hints = type_hints(cls)
        for f in cls.settings():
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = "required"
            default = default if len(repr(default)) < 60 else type(default).__name__
            bounded = any(key in f.metadata for key in ("min", "max", "above", "choices"))
            allowed = f" [{describe(hints.get(f.name, Any), f.metadata)}]" if bounded else ""
            lines.append(f"      {f.name} (default {default!r}): {f.metadata.get('help', '')}{allowed}")
    return "\n".join(lines)


def parse_strategy(spec: str) -> Any:
    """Build a strategy from ``name`` or ``name:key=value,key=value``."""
    from .plugins import get_strategy_class

    name, _, rest = spec.partition(":")
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise StrategyError(f"strategy option {part!r} in {spec!r} is not key=value; write e.g. {DEMO_STRATEGY!r}.")
        options[key.strip()] = value.strip()
    return get_strategy_class(name.strip()).from_options(options)


def read_questions(path: Path, field: str) -> list[str]:
    """Questions from a JSONL file (a string per line, or an object with ``field``)."""
    if not path.exists():
        raise DataError(f"input file {str(path)!r} does not exist; pass a JSONL file with one question per line.")
    if path.is_dir():
        raise DataError(f"input {str(path)!r} is a directory; pass a JSONL file with one question per line.")
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"input file {str(path)!r} is not UTF-8 text (byte {exc.start}); save it as UTF-8 JSONL.") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number} is not valid JSON ({exc.msg}); write one JSON value per line.") from None
        question = row.get(field) if isinstance(row, dict) else row
        if not isinstance(question, str) or not question.strip():
            raise DataError(f"{path}:{number} has no non-empty string {field!r}; set --question-field to the right key.")
        questions.append(question)
    return questions


def _run_command(args: argparse.Namespace) -> int:
    from .formats import get_format

    # Settings fail before any model is built or loaded.
    get_format(args.think_format)
    strategies = _parse_strategies(args)
    if args.chunk_size < 1:
        raise TTSError(f"--chunk-size must be at least 1, got {args.chunk_size}.")
    if args.resume and not args.output:
        raise TTSError("--resume continues an --output file; pass --output FILE.jsonl too.")
    questions, model = _questions_and_model(args)
    _check_paths(args, model)
    max_answer_tokens = _max_answer_tokens(args)
    options: dict[str, Any] = dict(
        think_format=args.think_format, temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
        seed=args.seed, max_answer_tokens=max_answer_tokens, system_prompt=args.system_prompt,
        progress=not args.no_progress,
    )
    if not args.output:
        _run_chunks(args, _build_engine(args, model), questions, list(range(len(questions))), strategies, options, None)
        return 0
    from .runlog import RunLog

    identity = run_identity(args, model, strategies, questions, options)
    forbid = [args.input] if args.input else []
    # The log is locked and its identity checked before the model loads; each problem is appended (and
    # fsynced) the moment it finishes, so any way the run ends keeps every finished problem.
    with RunLog.open(args.output, identity, resume=args.resume, forbid=forbid) as log:
        todo = [i for i in range(len(questions)) if str(i) not in log.done]
        if not todo:
            print(f"tts: all {len(questions)} problems are already in {args.output}.", file=sys.stderr)
            return 0
        before = len(log.done)
        try:
            _run_chunks(args, _build_engine(args, model), questions, todo, strategies, options, log)
        except BaseException:
            if not log.done:
                raise
            print(f"tts: kept {len(log.done)} finished records in {args.output} ({len(log.done) - before} from this "
                  f"run); rerun with --resume to do the other {len(questions) - len(log.done)}.", file=sys.stderr)
            raise
        print(f"tts: wrote {len(log.done) - before} records to {args.output} ({len(log.done)} of {len(questions)} "
              "problems done)", file=sys.stderr)
    return 0


def _run_chunks(args: argparse.Namespace, engine: Any, questions: list[str], todo: list[int], strategies: list[Any],
                options: dict[str, Any], log: Any) -> None:
    """Run the problems ``todo`` in chunks; each finished problem goes to ``log`` (when given) at once."""
    import tts

    for start in range(0, len(todo), args.chunk_size):
        chunk = todo[start : start + args.chunk_size]

        def keep(result: Any, chunk: list[int] = chunk) -> None:
            record = result.to_dict()
            record["index"] = chunk[result.index]  # the position in the whole input, not in the chunk
            log.append(str(record["index"]), record)

        results = tts.run(engine, [questions[i] for i in chunk], strategies=strategies, problem_keys=chunk,
                          on_result=keep if log is not None else None, **options)
        for index, result in zip(chunk, results):
            result.index = index
        if log is None or args.demo:
            _print_summary(results, demo=args.demo)


def run_identity(args: argparse.Namespace, model: str | None, strategies: list[Any], questions: list[str],
                 options: dict[str, Any]) -> dict[str, Any]:
    """What makes a ``tts run`` output's records comparable; a resume must match it exactly.

    Operational flags (device, batch size, servers, chunk size, progress) are left out, so a run may be
    resumed on other hardware; everything that changes the tokens is in.
    """
    from .runlog import fingerprint, strategy_identity

    if model is not None and Path(model).exists():
        model = str(Path(model).resolve())  # a local directory, whatever the spelling of its path
    return {
        "command": "tts run",
        "model": model,
        "engine": args.engine,
        "dtype": getattr(args, "dtype", None),
        "strategies": [strategy_identity(s) for s in strategies],
        "think_format": args.think_format,
        "system_prompt": args.system_prompt,
        "sampling": {k: options[k] for k in ("temperature", "top_p", "top_k", "seed", "max_answer_tokens")},
        "problems": {"count": len(questions), "sha256": fingerprint(questions)},
    }


def _build_engine(args: argparse.Namespace, model: str | None) -> Any:
    """The engine the flags ask for; a flag of another engine is refused before anything loads."""
    from . import engines

    entry = get_engine_entry(args.engine)
    given = engine_flag_values(args, entry)
    if getattr(args, "demo", False) and "dtype" not in given and "dtype" in {f.name for f in entry.fields()}:
        given["dtype"] = "float32"  # the tiny model's greedy tokens are bit-stable in float32
    return engines.build_engine(args.engine, model, **given)


def _parse_strategies(args: argparse.Namespace) -> list[Any]:
    """The ``-s`` strategies, built and checked for conflicts before any model loads."""
    strategies = [parse_strategy(s) for s in (args.strategy or ([DEMO_STRATEGY] if args.demo else []))]
    names = [s.name for s in strategies]
    for name in names:
        if names.count(name) > 1:  # on the command line always a mistake: both would share one state
            raise StrategyConflictError(f"-s {name} is given {names.count(name)} times; give it once with all its settings.")
    check_conflicts(strategies)
    return strategies


def _max_answer_tokens(args: argparse.Namespace) -> int:
    """--max-answer-tokens, or its default; 0 stays 0 (and fails as a budget) instead of meaning the default."""
    from .settings import MAX_TOKENS, check_setting

    if args.max_answer_tokens is None:
        return 64 if args.demo else 32768
    check_setting("--max-answer-tokens", args.max_answer_tokens, int, {"min": 1, "max": MAX_TOKENS}, error=BudgetError)
    return int(args.max_answer_tokens)


def _check_paths(args: argparse.Namespace, model: str | None) -> None:
    """Paths that cannot work fail before any model loads."""
    if args.output is not None and args.output.is_dir():
        raise DataError(f"--output {str(args.output)!r} is a directory; pass a file path such as "
                        f"{str(args.output / 'results.jsonl')!r}.")
    if model and args.engine != "openai" and Path(model).is_dir() and not (Path(model) / "config.json").is_file():
        raise ConfigError(f"model directory {model!r} has no config.json; pass a directory written by "
                          "save_pretrained, or a hub id.")


def _questions_and_model(args: argparse.Namespace) -> tuple[list[str], str | None]:
    if args.demo:
        from .miniature import shipped_model_path

        model = args.model or str(shipped_model_path())
        questions = list(args.prompt) or list(DEMO_QUESTIONS)
        return questions, model
    if not args.model and get_engine_entry(args.engine).requires_model:
        raise TTSError("no model given; pass --model PATH_OR_HUB_ID, or --demo for the built-in miniature model.")
    questions = list(args.prompt)
    if args.input:
        questions += read_questions(args.input, args.question_field)
    if not questions:
        raise TTSError("no problems given; pass --prompt TEXT or --input FILE.jsonl.")
    return questions, args.model


def _print_trace(result: Any) -> None:
    """A problem, its thinking (interventions included) and its answer, for the demo."""
    s = result.samples[0]
    print(f"[{result.index}] {result.question}")
    print(textwrap.indent(s.thinking_text.strip(), "    | ", predicate=lambda line: True))
    print(f"    thinking: {s.num_thinking_tokens} tokens ({s.thinking_finish_reason}); "
          f"answer: {s.answer_text.replace('<|im_end|>', '').strip()!r}")


def _print_summary(results: list[Any], demo: bool) -> None:
    if demo:
        print("(the built-in miniature s1: a 1.74M-parameter model trained on chained one-digit arithmetic)")
    for r in results:
        if demo and len(r.samples) == 1:
            _print_trace(r)
            continue
        answer = repr((r.answer or "").replace("\n", " ")[:60]) if r.answer else "no answer"
        if len(r.samples) > 1:
            thinking = sum(s.num_thinking_tokens for s in r.samples) / len(r.samples)
            accepted = sum(s.accepted for s in r.samples)
            print(f"[{r.index}] {len(r.samples)} samples ({accepted} accepted), {thinking:.0f} thinking tokens on "
                  f"average; answer: {answer}")
            continue
        s = r.samples[0]
        ignores = sum(e.kind == "inject" for e in s.events)
        print(
            f"[{r.index}] thinking {s.num_thinking_tokens} tokens ({s.thinking_finish_reason}, {ignores} ignores), "
            f"answer {s.num_answer_tokens} tokens ({s.answer_finish_reason}): {answer}"
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
