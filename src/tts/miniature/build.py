"""``tts miniature build``: rebuild the miniature from scratch, stage by stage, seeded and resumable.

Stages, each writing its output atomically under the build directory and skipped when that output exists:

1. ``data`` — held-out, selection-pool and training problems (disjoint), the teacher's traces for training;
2. ``tokenizer`` — the character tokenizer with the s1 special tokens and chat template;
3. ``sft`` — the model trained from scratch on the traces (checkpoints every 50 steps, so an interrupted
   stage resumes where it stopped);
4. ``refine`` — the sft model trained 300 more steps on fresh traces at a lower learning rate
   (:mod:`.refine`), which makes a forced "Wait" harmless; its output is the shipped model;
5. ``eval`` — greedy budget forcing on the held-out set through :func:`tts.run` and the HF engine.

On request (``--stages tcc,scc,eval_control``), the paper's separately trained control models: ``tcc`` and
``scc`` fine-tune the ``refine`` model (or the shipped one, ``--from-shipped``) on traces that all carry the
token-count instruction / the step countdown (checkpointed, resumable), and ``eval_control`` measures TCC's
Control and SCC's countdown on them and on the main model (:mod:`tts.miniature.control`). They are not
shipped in the package: ``tts miniature build --output DIR --stages data,tcc,scc,eval_control
--from-shipped`` rebuilds them from the shipped model.

On request (``--stages base,select,sft1k,eval1k``), the paper's own route and its Table 2 (:mod:`.base`,
:mod:`.selection`, :mod:`.table2`): a base that chains steps but answers chat questions at once, the pool ->
1K selection and its ablations, trl SFT of the base on each, and their measurements.

``--quick`` shrinks every stage (a 1-layer model, a few hundred traces, 8 held-out problems) so that the
whole pipeline runs in a minute or two, for CI; its model learns little.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .base import BASE_PHASES, BasePhase
from .control import CONTROL_TRAIN
from .refine import REFINE_TRAIN
from .selection import SELECT_POOL
from .tasks import Problem, make_splits
from .teacher import TeacherConfig, teach
from .train import ModelShape, TrainConfig


@dataclass(frozen=True)
class BuildConfig:
    """Sizes of one build. The defaults are the shipped model's."""

    seed: int = 0
    n_heldout: int = 200
    n_pool: int = 2000
    n_train: int = 32_000  # planned for 1,000 steps x 32 (every trace once); the shipped run used 600
    shape: ModelShape = field(default_factory=ModelShape)
    train: TrainConfig = field(default_factory=TrainConfig)
    #: A second, fresh schedule on the traces the first one did not draw (None: no second phase). The shipped
    #: model's first 600 steps ended on the loss plateau (7.5% held-out on 40 problems), as MINIATURE_FACTS
    #: saw at this length; 400 more steps on fresh traces is what lifted the measured run from 14% to 52%.
    phase2: TrainConfig | None = field(default_factory=lambda: TrainConfig(
        steps=400, lr=1e-3, seed=1, initial_schedule=None))
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    eval_budgets: tuple[int | None, ...] = (8, 16, 32, 64, 128, None)
    eval_waits: tuple[int, ...] = (1, 2)
    #: The cap standing for "no maximum" (far above any teacher trace; a model that never stops hits it).
    eval_unlimited: int = 512
    eval_limit: int | None = None
    dtype: str = "float32"
    #: The fine-tune of the separately trained TCC and SCC models (stages ``tcc`` and ``scc``).
    control_train: TrainConfig = field(default_factory=lambda: CONTROL_TRAIN)
    #: The refinement stage (``refine``: 300 more steps on fresh traces) and its teacher.
    refine_train: TrainConfig = field(default_factory=lambda: REFINE_TRAIN)
    refine_teacher: TeacherConfig = field(default_factory=TeacherConfig)
    #: The paper's route: the base's training, the selection pool's size, overrides of the trl SFT recipe.
    base_phases: tuple[BasePhase, ...] = BASE_PHASES
    n_select_pool: int = SELECT_POOL
    #: Cap on the steps of each Table 2 SFT run (None: the recipe's 5 epochs); the quick build's is 2.
    sft1k_max_steps: int | None = None


def quick_config(seed: int = 0) -> BuildConfig:
    """A build small enough for CI: every stage runs, nothing is learned to speak of."""
    return BuildConfig(
        seed=seed, n_heldout=8, n_pool=40, n_train=256,
        shape=ModelShape(hidden_size=64, num_hidden_layers=1, num_attention_heads=1, num_key_value_heads=1,
                         intermediate_size=128),
        train=TrainConfig(steps=12, batch_size=8, seed=seed, threads=1, initial_schedule=None),
        phase2=TrainConfig(steps=4, batch_size=8, seed=seed + 1, threads=1, initial_schedule=None),
        eval_budgets=(16, None), eval_waits=(1,), eval_unlimited=48,
        control_train=replace(CONTROL_TRAIN, steps=4, batch_size=8, seed=seed),
        refine_train=replace(REFINE_TRAIN, steps=4, batch_size=8, seed=seed),
        base_phases=(BasePhase(replace(BASE_PHASES[0].train, steps=6, batch_size=8, seed=seed)),
                     BasePhase(replace(BASE_PHASES[2].train, steps=2, batch_size=8), data_seed=999)),
        n_select_pool=60, sft1k_max_steps=2,
    )


def _atomic_dir(final: Path, write: Callable[[Path], None]) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        write(tmp)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def benchmark_rows(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """The held-out problems as benchmark rows: ``id``, ``question``, ``answer``, ``domain``, ``difficulty``."""
    return [
        {"id": f"miniature-{i:04d}", "question": p.question, "answer": str(p.answer), "domain": p.domain,
         "difficulty": p.steps, "start": p.start, "terms": list(p.terms)}
        for i, p in enumerate(problems)
    ]


def stage_data(out: Path, cfg: BuildConfig) -> None:
    splits = make_splits(cfg.seed, cfg.n_heldout, cfg.n_pool, cfg.n_train)
    rng = random.Random(cfg.seed)

    def write(tmp: Path) -> None:
        write_jsonl(tmp / "heldout.jsonl", benchmark_rows(splits.heldout))
        write_jsonl(tmp / "pool.jsonl", [p.to_row() for p in splits.pool])
        write_jsonl(tmp / "train.jsonl", [teach(rng, p, cfg.teacher) for p in splits.train])

    _atomic_dir(out, write)


def stage_tokenizer(out: Path, cfg: BuildConfig) -> None:
    from .tokenizer import build_tokenizer, save_tokenizer

    _atomic_dir(out, lambda tmp: save_tokenizer(build_tokenizer(), tmp))


def stage_sft(out: Path, data_dir: Path, tok_dir: Path, cfg: BuildConfig, progress: bool = True) -> None:
    """Train from scratch on the teacher's traces, then (``cfg.phase2``) on the traces phase 1 never drew.

    Each phase checkpoints to a hidden file beside ``out`` and resumes from it; a finished phase's checkpoint
    stays until the stage's output is written, so a resumed stage skips it.
    """
    from transformers import AutoTokenizer

    from ..finetune import format_rows
    from .train import batches, encode_examples, new_model, train_stage

    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    examples = format_rows(read_jsonl(data_dir / "train.jsonl"), tokenizer, trace_source="s1K")
    data = encode_examples(examples, tokenizer)
    model = new_model(tokenizer, cfg.shape, cfg.train.seed)
    phases = [(cfg.train, data)]
    if cfg.phase2 is not None:
        used = {i for batch in batches(data, cfg.train) for i in batch}
        phases.append((cfg.phase2, [d for i, d in enumerate(data) if i not in used]))
    train_stage(out, model, tokenizer, phases, "sft", cfg.dtype, progress, meta={"config": _jsonable(cfg)})


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True)


def _jsonable(cfg: BuildConfig) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(cfg)))


STAGES = ("data", "tokenizer", "sft", "refine", "eval")

#: The paper's separately trained control models, on request (``--stages tcc,scc,eval_control``): fine-tuned
#: from the ``refine`` stage's model (or, with ``from_shipped``, from the shipped one) — :mod:`.control`.
CONTROL_STAGES = ("tcc", "scc", "eval_control")

#: The paper's route and Table 2, on request (``--stages base,select,sft1k,sft1k_trl,eval1k``): a base that
#: chains but answers at once, pool -> 1K (and the ablations) with tts.finetune's stages, SFT of the base on each
#: set (and on the s1 set through tts.finetune's trl path), measured.
PAPER_STAGES = ("base", "select", "sft1k", "sft1k_trl", "eval1k")


def _base_exclude(heldout: Path, cfg: BuildConfig) -> set[str]:
    """Questions the base must never train on: the held-out benchmark and the selection pool."""
    from .selection import selection_pool

    held = {r["question"] for r in read_jsonl(heldout)}
    return held | {p.question for p in selection_pool(cfg.seed, held, cfg.n_select_pool)}


def build(root: str | os.PathLike[str], cfg: BuildConfig | None = None, *, stages: Sequence[str] = STAGES,
          progress: bool = True, log: Callable[[str], None] = print, from_shipped: bool = False) -> dict[str, float]:
    """Run the stages under ``root``; a stage whose output exists is skipped. Returns seconds per stage.

    ``from_shipped``: the control stages start from the model shipped in the package rather than from
    ``root/sft`` (so ``stages=["data", "tcc", "scc", "eval_control"]`` builds them without training a main
    model); the data stage must then be the shipped model's (same held-out benchmark), or this raises
    :class:`~tts.errors.ConfigError`. A stage whose inputs are neither planned nor built raises it too.
    """
    from . import shipped_model_path
    from .base import stage_base
    from .control import stage_control_eval, stage_control_model
    from .evaluate import stage_eval
    from .refine import stage_refine
    from .selection import stage_select
    from .table2 import stage_eval1k, stage_sft1k, stage_sft1k_trl

    cfg = cfg or BuildConfig()
    base = Path(root)
    paths = {name: base / name for name in STAGES + CONTROL_STAGES + PAPER_STAGES}
    paths["eval"], paths["eval1k"] = base / "eval.json", base / "eval1k.json"
    paths["eval_control"] = base / "eval_control.json"
    heldout = paths["data"] / "heldout.jsonl"
    main_model = shipped_model_path() if from_shipped else paths["refine"]
    _check_inputs(stages, paths, base, from_shipped)
    base.mkdir(parents=True, exist_ok=True)
    actions: dict[str, Callable[[], None]] = {
        "data": lambda: stage_data(paths["data"], cfg),
        "tokenizer": lambda: stage_tokenizer(paths["tokenizer"], cfg),
        "sft": lambda: stage_sft(paths["sft"], paths["data"], paths["tokenizer"], cfg, progress),
        "refine": lambda: stage_refine(paths["refine"], paths["data"], paths["sft"], cfg, progress),
        "eval": lambda: stage_eval(paths["eval"], paths["refine"], heldout, cfg, progress),
        "tcc": lambda: stage_control_model(paths["tcc"], "tcc", paths["data"], main_model, cfg, progress=progress),
        "scc": lambda: stage_control_model(paths["scc"], "scc", paths["data"], main_model, cfg, progress=progress),
        "eval_control": lambda: stage_control_eval(
            paths["eval_control"], {"sft": main_model, "tcc": paths["tcc"], "scc": paths["scc"]}, heldout, cfg),
        "base": lambda: stage_base(paths["base"], paths["tokenizer"], _base_exclude(heldout, cfg), cfg,
                                   progress=progress),
        "select": lambda: stage_select(paths["select"], heldout, paths["base"], cfg),
        "sft1k": lambda: stage_sft1k(paths["sft1k"], paths["select"], paths["base"], cfg, progress=progress, log=log),
        "sft1k_trl": lambda: stage_sft1k_trl(paths["sft1k_trl"], paths["select"], paths["base"], cfg),
        "eval1k": lambda: stage_eval1k(paths["eval1k"], paths["sft1k"], paths["sft1k_trl"], heldout, paths["base"],
                                       cfg, progress=progress),
    }
    seconds: dict[str, float] = {}
    for name in stages:
        if paths[name].exists():
            log(f"[{name}] done already: {paths[name]}")
            continue
        if from_shipped and name in CONTROL_STAGES:
            _check_shipped_benchmark(heldout)
        start = time.time()
        log(f"[{name}] running")
        actions[name]()
        seconds[name] = round(time.time() - start, 1)
        log(f"[{name}] {seconds[name]:.0f}s -> {paths[name]}")
        _record_seconds(base / "seconds.json", name, seconds[name])
    return seconds


#: What each stage reads; "main" is the model the control stages fine-tune (``refine``, or the shipped one).
_NEEDS = {"data": (), "tokenizer": (), "sft": ("data", "tokenizer"), "refine": ("data", "sft"),
          "eval": ("data", "refine"), "tcc": ("data", "main"), "scc": ("data", "main"),
          "eval_control": ("data", "main"), "base": ("data", "tokenizer"), "select": ("data", "base"),
          "sft1k": ("select", "base"), "sft1k_trl": ("select", "base"), "eval1k": ("data", "sft1k", "base")}


def _check_inputs(stages: Sequence[str], paths: dict[str, Path], base: Path, from_shipped: bool) -> None:
    """Refuse, before anything runs, a stage to be built whose inputs are neither built nor planned."""
    from ..errors import ConfigError

    planned = set(stages)
    for name in stages:
        if paths[name].exists():
            continue
        for need in _NEEDS[name]:
            dep = "refine" if need == "main" else need
            if need == "main" and from_shipped or dep in planned or paths[dep].exists():
                continue
            hint = " (or pass --from-shipped to start from the shipped model)" if need == "main" else ""
            raise ConfigError(f"stage {name!r} needs stage {dep!r}, which is neither built under {base} nor "
                              f"in --stages; add it{hint}.")


def _check_shipped_benchmark(heldout: Path) -> None:
    """The control stages from the shipped model must hold out (and measure on) the shipped benchmark."""
    from ..errors import ConfigError
    from . import benchmark_path

    if [r["question"] for r in read_jsonl(heldout)] != [r["question"] for r in read_jsonl(benchmark_path())]:
        raise ConfigError(f"--from-shipped needs the shipped model's held-out benchmark, but {heldout} differs "
                          f"from {benchmark_path()}; build the data stage with the shipped model's --seed (0).")


def _record_seconds(path: Path, stage: str, value: float) -> None:
    """Keep the wall-clock seconds of each finished stage (what the model card reports)."""
    done = json.loads(path.read_text()) if path.exists() else {}
    done[stage] = value
    path.write_text(json.dumps(done))


__all__ = ["CONTROL_STAGES", "PAPER_STAGES", "STAGES", "BuildConfig", "benchmark_rows", "build", "quick_config", "replace"]
