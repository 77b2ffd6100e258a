"""``tts finetune`` and ``tts select``: the command-line face of :mod:`tts.finetune`.

:func:`add_finetune_commands` adds both subcommands to an argparse subparsers object; ``tts.cli`` wires
them in, and ``python -m tts.finetune`` runs them alone (which is what ``accelerate launch -m`` needs).
Errors are :class:`tts.TTSError` and propagate to the caller, which prints them as one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def _setting(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE``; the value is read as JSON when it parses (numbers, true/false, lists), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def _add_finetune(subparsers: Any) -> None:
    p = subparsers.add_parser("finetune", help="SFT a model on s1K-style data with the s1 recipe (trl)")
    p.add_argument("--model", required=True, help="base model: local path or hub id")
    p.add_argument("--data", required=True, help=".jsonl / .json / .parquet file or datasets hub name")
    p.add_argument(
        "--output", required=True, help="directory for the finetuned model (appears only when complete)"
    )
    p.add_argument("--preset", default="s1", help="recipe preset: s1 or s1.1 (default s1)")
    p.add_argument("--think-format", default="s1", help="s1 or think-tags (default s1)")
    p.add_argument("--trace-source", default="auto", help="auto, s1K, gemini or deepseek (default auto)")
    p.add_argument(
        "--max-length", type=int, help="block size in tokens (preset: 32768 for s1, 20000 for s1.1)"
    )
    p.add_argument("--epochs", type=float, dest="num_train_epochs", help="epochs (preset: 5)")
    p.add_argument("--learning-rate", type=float, help="peak learning rate (preset: 1e-5)")
    p.add_argument(
        "--global-batch-size", type=int, help="examples per optimizer step over all processes (16)"
    )
    p.add_argument(
        "--per-device-batch-size", type=int, dest="per_device_train_batch_size", help="(preset: 1)"
    )
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (smoke runs)")
    p.add_argument(
        "--allow-truncation", action="store_true", help="train even if examples exceed the block size"
    )
    p.add_argument(
        "--pad-token", help="pad token, distinct from EOS (default: <|fim_pad|> or the tokenizer's)"
    )
    p.add_argument(
        "--use-cpu", action="store_true", help="train on CPU (also makes multi-process runs use gloo)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    p.add_argument(
        "--set", type=_setting, action="append", default=[], metavar="KEY=VALUE",
        help="override any trl SFTConfig field, e.g. --set warmup_steps=0.1 (repeatable)",
    )  # fmt: skip
    p.set_defaults(func=run_finetune)


def run_finetune(args: argparse.Namespace) -> int:
    """Train, save, and print a summary; return 0."""
    from .sft import finetune

    overrides: dict[str, Any] = dict(args.set)
    for name in ("max_length", "num_train_epochs", "learning_rate", "global_batch_size",
                 "per_device_train_batch_size", "max_steps"):  # fmt: skip
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.use_cpu:
        overrides["use_cpu"] = True
    result = finetune(
        args.model, args.data, args.output, overwrite=args.overwrite, preset=args.preset,
        think_format=args.think_format, trace_source=args.trace_source, allow_truncation=args.allow_truncation,
        pad_token=args.pad_token, **overrides,
    )  # fmt: skip
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    print(f"rank {rank} of {world} finished", file=sys.stderr, flush=True)
    if rank == 0:
        block = result.block
        first = f"{result.losses[0]:.4f}" if result.losses else "-"
        last = f"{result.losses[-1]:.4f}" if result.losses else "-"
        print(
            f"finetuned on {result.num_examples} examples: {result.global_steps} steps, loss {first} -> {last}, "
            f"longest example {block.longest} tokens of block {block.block_size} ({block.num_cut} cut), "
            f"{result.seconds:.1f}s; saved to {result.output_dir}"
        )
    return 0


def _add_select(subparsers: Any) -> None:
    p = subparsers.add_parser("select", help="select s1K-style training data from a larger pool (59K -> 1K)")
    p.add_argument("--data", required=True, help="pool: .jsonl / .json / .parquet file or datasets hub name")
    p.add_argument("--output", required=True, help="JSONL file for the selected rows (never the --data pool)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output (atomically)")
    p.add_argument("--target", type=int, default=1000, help="rows to select (default 1000)")
    p.add_argument("--method", default="s1", help="s1, random, diverse or longest (default s1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--trace-source", default="auto", help="auto, s1K, gemini or deepseek (default auto)")
    p.add_argument("--tokenizer", help="tokenizer for trace lengths in tokens (default: words)")
    p.add_argument("--reference-model", action="append", default=[], help="model for the difficulty filter "
                   "(repeatable; run through tts.HFEngine); none skips the filter")  # fmt: skip
    p.add_argument("--reference-max-tokens", type=int, default=4096, help="answer cap of reference models")
    p.add_argument("--domains", default="keyword", choices=["keyword", "llm"], help="domain classifier")
    p.add_argument("--domain-model", help="model for --domains llm (run through tts.HFEngine)")
    p.add_argument("--skip-quality", action="store_true", help="skip the quality filter")
    p.set_defaults(func=run_select)


def _stages(args: argparse.Namespace) -> list[Any]:
    from . import selection
    from .difficulty import EngineSolver, boxed_match
    from .domains import LLMDomainClassifier

    stages: list[Any] = [] if args.skip_quality else [selection.QualityFilter(args.trace_source)]
    if args.reference_model:
        from ..engines.hf import HFEngine

        solvers = {
            path: EngineSolver(HFEngine(path), args.reference_max_tokens) for path in args.reference_model
        }
        stages.append(selection.DifficultyFilter(solvers, boxed_match))
    tokenizer = None
    if args.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    stages.append(selection.TraceLength(tokenizer, args.trace_source))
    if args.domains == "llm":
        if not args.domain_model:
            raise ConfigError(
                "--domains llm needs --domain-model PATH; pass the model that labels the questions."
            )
        from ..engines.hf import HFEngine

        stages.append(selection.DomainLabels(LLMDomainClassifier(HFEngine(args.domain_model))))
    else:
        stages.append(selection.DomainLabels())
    stages.append(selection.Sample(args.target, args.method, args.seed))
    return stages


def run_select(args: argparse.Namespace) -> int:
    """Run the selection stages, write the rows as JSONL (atomically), print the per-stage counts."""
    from .data import load_rows
    from .selection import select

    start = time.monotonic()
    out = _select_output(args)  # refused before the (possibly hours-long) selection, and again when writing
    rows = load_rows(args.data)
    stages = _stages(args)

    def progress(report: Any) -> None:
        print(f"[{report.name}] {report.rows_in} -> {report.rows_out}", file=sys.stderr, flush=True)

    result = select(rows, stages, progress)
    lines = [json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in result.rows]
    _publish(out, "".join(lines).encode("utf-8"), overwrite=args.overwrite)
    print(result.summary())
    print(f"selected {len(result.rows)} of {len(rows)} rows in {time.monotonic() - start:.1f}s; wrote {out}")
    return 0


def _select_output(args: argparse.Namespace) -> Path:
    """The ``--output`` path, refused when it is a directory, the input pool, or exists without --overwrite."""
    out, data = Path(args.output), Path(args.data)
    if out.is_dir():
        raise ConfigError(
            f"--output {str(out)!r} is a directory; pass a file path such as {str(out / 'selected.jsonl')!r}."
        )
    if data.exists() and (data.resolve() == out.resolve() or (out.exists() and os.path.samefile(data, out))):
        raise ConfigError(
            f"--output {str(out)!r} is the input pool --data; writing it would destroy the pool, "
            "so choose another output path."
        )
    if out.exists() and not args.overwrite:
        raise ConfigError(
            f"--output {str(out)!r} already exists; pass --overwrite to replace it or choose another path."
        )
    return out


def _publish(out: Path, data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to a temporary sibling, fsync it, then move it to ``out`` in one step.

    Readers see the old file or the complete new one, never a part. Without ``overwrite`` the move is a hard
    link, which fails if ``out`` appeared in the meantime (another process), so nothing is ever replaced.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(handle.fileno(), 0o666 & ~umask)  # mkstemp's 0600 would hide the rows from others
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, out)
            return
        try:
            os.link(tmp, out)
        except FileExistsError:
            raise ConfigError(
                f"--output {str(out)!r} appeared while selecting; pass --overwrite to replace it "
                "or choose another path."
            ) from None
        except OSError:  # a file system without hard links: check, then move
            if out.exists():
                raise ConfigError(
                    f"--output {str(out)!r} already exists; pass --overwrite to replace it."
                ) from None
            os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def add_finetune_commands(subparsers: Any) -> None:
    """Add the ``finetune`` and ``select`` subcommands; each sets ``func(args) -> int``."""
    _add_finetune(subparsers)
    _add_select(subparsers)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tts.finetune``: the two subcommands without the rest of the CLI."""
    from ..errors import TTSError

    parser = argparse.ArgumentParser(prog="python -m tts.finetune")
    add_finetune_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except TTSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
