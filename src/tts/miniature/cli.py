"""``tts miniature build``: the command-line face of :mod:`tts.miniature.build`."""

from __future__ import annotations

import json
from typing import Any

from ..errors import ConfigError


def add_miniature_commands(subparsers: Any) -> None:
    """Add ``tts miniature build`` (and its help) to an argparse subparsers object."""
    group = subparsers.add_parser("miniature", help="the built-in miniature s1 model: rebuild it from scratch")
    sub = group.add_subparsers(title="miniature commands", metavar="COMMAND")
    p = sub.add_parser(
        "build",
        help="rebuild data, tokenizer, model and evaluation (seeded; resumable stage by stage)",
        description="Rebuild the miniature s1 under OUTPUT: data -> tokenizer -> sft -> refine -> eval. A stage "
        "whose output exists is skipped, so an interrupted build resumes; training stages resume from their "
        "checkpoints.",
    )
    p.add_argument("--output", required=True, help="build directory (created; reused to resume)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, teacher and training (default 0)")
    p.add_argument("--train-seed", type=int,
                   help="seed of the sft stage's initialisation and batch order, and of the refine stage's batch "
                   "order (default: --seed; sft's second phase takes TRAIN_SEED + 1): a second training seed on the "
                   "same data and held-out benchmark")
    p.add_argument("--quick", action="store_true", help="a tiny build that runs every stage in a minute or two (CI)")
    p.add_argument("--stages", default="data,tokenizer,sft,refine,eval",
                   help="comma-separated stages, in order: data,tokenizer,sft,refine,eval (default: the shipped "
                   "model); the separately trained control models tcc,scc,eval_control (fine-tuned from the "
                   "refine model, not shipped); and the paper's route with its Table 2, "
                   "base,select,sft1k,sft1k_trl,eval1k (a base that answers at once -> pool -> 1K and ablations -> "
                   "SFT of the base on each, and on the s1 set through tts.finetune's trl path)")
    p.add_argument("--from-shipped", action="store_true",
                   help="start the tcc/scc stages from the model shipped in the package instead of OUTPUT/refine "
                   "(--stages data,tcc,scc,eval_control --from-shipped rebuilds and measures them)")
    p.add_argument("--steps", type=int, help="training steps of the sft stage's first phase (default: the shipped model's 600; then phase 2's 400)")
    p.add_argument("--threads", type=int, help="torch threads for training and eval_control (default 1)")
    p.add_argument("--eval-limit", type=int, help="evaluate on the first N held-out problems only")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run_build)
    group.set_defaults(func=lambda args: group.print_help() or 2)


def _stages() -> tuple[str, ...]:
    from .build import CONTROL_STAGES, PAPER_STAGES, STAGES

    return STAGES + CONTROL_STAGES + PAPER_STAGES


def build_config(args: Any) -> Any:
    """The :class:`~tts.miniature.build.BuildConfig` that ``tts miniature build``'s arguments ask for."""
    from dataclasses import replace

    from .build import BuildConfig, quick_config

    cfg = quick_config(args.seed) if args.quick else BuildConfig(seed=args.seed)
    if not args.quick:
        cfg = replace(cfg, train=replace(cfg.train, seed=args.seed))
    if args.train_seed is not None:  # phase 2 keeps its offset from phase 1 (the shipped 0 and 1)
        cfg = replace(cfg, train=replace(cfg.train, seed=args.train_seed),
                      phase2=cfg.phase2 and replace(cfg.phase2, seed=args.train_seed + 1),
                      refine_train=replace(cfg.refine_train, seed=args.train_seed))
    if args.steps is not None:
        cfg = replace(cfg, train=replace(cfg.train, steps=args.steps))
    if args.threads is not None:
        cfg = replace(cfg, train=replace(cfg.train, threads=args.threads))
    if args.eval_limit is not None:
        cfg = replace(cfg, eval_limit=args.eval_limit)
    return cfg


def _run_build(args: Any) -> int:
    from .build import build

    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in _stages()]
    if unknown:
        raise ConfigError(f"unknown stage(s) {unknown}; use a comma-separated subset of {list(_stages())}.")
    seconds = build(args.output, build_config(args), stages=stages, progress=not args.no_progress,
                    from_shipped=args.from_shipped)
    print(json.dumps({"seconds": seconds, "output": args.output}))
    return 0
