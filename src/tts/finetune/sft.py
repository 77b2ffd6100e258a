"""Supervised finetuning the s1 way, through trl's ``SFTTrainer`` (no training loop of our own).

The paper's recipe is a named preset (:data:`PRESETS`); every field can be overridden. The data is a
prompt-completion dataset (see :mod:`tts.finetune.data`), so trl computes the loss on the completion —
the reasoning and the answer — and not on the question. Before any training, a block-size check counts
the examples that would be cut and refuses unless the caller allows it (the paper's sequence-length
ablation shows that cutting hurts). The output directory appears only when model and tokenizer are
completely written: training writes into a hidden sibling directory that is renamed at the end.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, MissingDependencyError, did_you_mean
from ..formats import ThinkFormat
from ..settings import MAX_TOKENS, check_setting
from .data import FormattedExample, format_rows, load_rows

#: The s1 recipe (paper appendix; ``train/sft.sh``): 5 epochs, lr 1e-5 with 5% linear warm-up then cosine,
#: AdamW (0.9, 0.95), weight decay 1e-4, global batch 16, block size 32768, bf16 where supported.
_S1: dict[str, Any] = {
    "num_train_epochs": 5,
    "learning_rate": 1e-5,
    "warmup_steps": 0.05,  # a float below 1 is a ratio of the total steps in transformers >= 5
    "lr_scheduler_type": "cosine",
    "adam_beta1": 0.9,
    "adam_beta2": 0.95,
    "weight_decay": 1e-4,
    "per_device_train_batch_size": 1,
    "global_batch_size": 16,
    "max_length": 32768,
    "bf16": "auto",
    "gradient_checkpointing": True,
    "logging_steps": 1,
    "save_strategy": "no",
    "report_to": "none",
    "seed": 42,
}

#: Named presets; ``s1.1`` trained on the DeepSeek-R1 traces of s1K-1.1 with block size 20000.
PRESETS: dict[str, dict[str, Any]] = {"s1": _S1, "s1.1": {**_S1, "max_length": 20000}}

#: Fields of ours that are not SFTConfig fields.
_OWN_FIELDS = ("global_batch_size",)

#: Type and range of the settings users change most; a bad value fails before any model loads (trl would
#: train nothing for ``num_train_epochs=-1`` and save the untouched model, or fail deep inside with "abc").
_CHECKED: dict[str, tuple[Any, dict[str, Any]]] = {
    "num_train_epochs": (float, {"above": 0, "max": 10_000}),
    "learning_rate": (float, {"above": 0, "max": 1}),
    "max_steps": (int, {"min": -1, "max": 10**9}),
    "max_length": (int | None, {"min": 1, "max": MAX_TOKENS}),
    "per_device_train_batch_size": (int, {"min": 1, "max": 65_536}),
    "global_batch_size": (int | None, {"min": 1, "max": 10**7}),
    "gradient_accumulation_steps": (int, {"min": 1, "max": 10**7}),
    "warmup_steps": (float, {"min": 0}),
    "weight_decay": (float, {"min": 0}),
    "adam_beta1": (float, {"min": 0, "max": 1}),
    "adam_beta2": (float, {"min": 0, "max": 1}),
    "seed": (int, {}),
}


def _require_trl() -> Any:
    try:
        import trl
    except ImportError as exc:
        raise MissingDependencyError(
            "tts.finetune needs trl (and datasets, accelerate), which is not installed; "
            "run pip install 'tts-scaling[finetune]'."
        ) from exc
    return trl


def recipe(preset: str = "s1", **overrides: Any) -> dict[str, Any]:
    """Return the preset's fields with ``overrides`` applied; unknown field names raise :class:`ConfigError`."""
    if preset not in PRESETS:
        raise ConfigError(
            f"unknown SFT preset {preset!r}{did_you_mean(preset, PRESETS)}; use one of {sorted(PRESETS)}."
        )
    trl = _require_trl()
    known = {f.name for f in dataclasses.fields(trl.SFTConfig)} | set(_OWN_FIELDS)
    for name in overrides:
        if name not in known:
            raise ConfigError(
                f"unknown SFT setting {name!r}{did_you_mean(name, known)}; use a trl SFTConfig field name."
            )
    for name, value in overrides.items():
        if name in _CHECKED:
            hint, bounds = _CHECKED[name]
            check_setting(name, value, hint, bounds)
    if overrides.get("max_steps") == 0:
        raise ConfigError("max_steps=0 would train nothing; pass a positive number of steps, or -1 for no limit.")
    return {**PRESETS[preset], **overrides}


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _bf16_supported() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _warmup_steps_takes_ratio() -> bool:
    """transformers >= 5 reads a float ``warmup_steps`` below 1 as a ratio of the total steps."""
    import transformers

    return int(transformers.__version__.split(".")[0]) >= 5


def build_sft_config(output_dir: str | os.PathLike[str], preset: str = "s1", **overrides: Any) -> Any:
    """Build a trl ``SFTConfig`` from a preset plus overrides.

    ``global_batch_size`` is turned into ``gradient_accumulation_steps`` = global batch / (per-device batch x
    number of processes); it must divide evenly. Pass ``gradient_accumulation_steps`` yourself and
    ``global_batch_size=None`` to set accumulation directly. ``bf16="auto"`` means bf16 on a GPU that supports it.
    """
    trl = _require_trl()
    fields = recipe(preset, **overrides)
    global_batch = fields.pop("global_batch_size")
    if "gradient_accumulation_steps" in overrides and "global_batch_size" not in overrides:
        global_batch = None  # the caller set accumulation directly
    if fields.get("bf16") == "auto":
        fields["bf16"] = _bf16_supported()
    if not _cuda_available():
        fields.setdefault("dataloader_pin_memory", False)  # pinning needs an accelerator
    fields.setdefault("completion_only_loss", True)
    warmup = fields.get("warmup_steps")
    if isinstance(warmup, float) and 0 < warmup < 1 and not _warmup_steps_takes_ratio():
        fields["warmup_ratio"] = fields.pop("warmup_steps")  # transformers 4.x spells the ratio separately
    # The config sets up the distributed state (honouring use_cpu), so the world size is known only after it.
    try:
        config = trl.SFTConfig(output_dir=str(output_dir), **fields)
    except (TypeError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"trl's SFTConfig refused these settings ({reason}); fix the value it names.") from exc
    if global_batch is not None:
        per_step = config.per_device_train_batch_size * config.world_size
        if isinstance(global_batch, bool) or not isinstance(global_batch, int) or global_batch % per_step:
            raise ConfigError(
                f"global_batch_size={global_batch!r} is not a multiple of per-device batch x processes = {per_step}; "
                "pick a global batch that divides evenly or set gradient_accumulation_steps with global_batch_size=None."
            )
        config.gradient_accumulation_steps = global_batch // per_step
    return config


@dataclass(frozen=True)
class BlockSizeReport:
    """How the examples' lengths compare with the block size.

    Attributes:
        block_size: Most tokens per training sequence.
        num_examples: Examples checked.
        num_cut: Examples longer than the block size (they would lose the end of their answer).
        longest: Tokens in the longest example.
        longest_row: Row index of the longest example.
    """

    block_size: int
    num_examples: int
    num_cut: int
    longest: int
    longest_row: int


def check_block_size(
    examples: Sequence[FormattedExample], tokenizer: Any, block_size: int, allow_truncation: bool = False
) -> BlockSizeReport:
    """Count examples longer than ``block_size`` tokens; refuse unless ``allow_truncation``.

    A prompt that alone fills the block leaves nothing to learn from, so it is refused even when truncation
    is allowed. Token counts use the same call trl uses (``tokenizer(text)``).
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ConfigError(f"block size (max_length) must be a positive integer, got {block_size!r}.")
    lengths = [len(tokenizer(e.prompt + e.completion)["input_ids"]) for e in examples]
    for example in examples:
        prompt_tokens = len(tokenizer(example.prompt)["input_ids"])
        if prompt_tokens >= block_size:
            raise ConfigError(
                f"block size {block_size} is not larger than the prompt of row {example.row_index} "
                f"({prompt_tokens} tokens), so nothing of its answer would be trained; raise max_length."
            )
    longest = max(range(len(lengths)), key=lengths.__getitem__)
    report = BlockSizeReport(
        block_size,
        len(examples),
        sum(n > block_size for n in lengths),
        lengths[longest],
        examples[longest].row_index,
    )
    if report.num_cut and not allow_truncation:
        raise DataError(
            f"{report.num_cut} of {report.num_examples} examples are longer than the block size {block_size} "
            f"(longest: row {report.longest_row}, {report.longest} tokens) and would be cut, which hurts accuracy; "
            f"raise max_length to {report.longest} or pass allow_truncation=True."
        )
    return report


def ensure_pad_token(tokenizer: Any, pad_token: str | None = None) -> str:
    """Make the tokenizer's pad token a token other than EOS, so that EOS is learned; return it.

    Uses ``pad_token`` if given, else keeps a pad token that differs from EOS, else ``<|fim_pad|>`` (the s1
    choice for Qwen tokenizers) when the tokenizer has it.
    """
    eos = tokenizer.eos_token
    candidate = pad_token or (
        tokenizer.pad_token if tokenizer.pad_token not in (None, eos) else "<|fim_pad|>"
    )
    if candidate == eos:
        raise ConfigError(
            f"pad token {candidate!r} equals the EOS token, so EOS would never be learned; pick another."
        )
    ids = tokenizer.encode(candidate, add_special_tokens=False)
    if len(ids) != 1 or candidate not in tokenizer.get_vocab():
        raise ConfigError(
            f"pad token {candidate!r} is not a single token of this tokenizer; pass pad_token= with a token it has "
            "(not the EOS token)."
        )
    tokenizer.pad_token = candidate
    return str(candidate)


def to_dataset(examples: Sequence[FormattedExample]) -> Any:
    """A ``datasets.Dataset`` with ``prompt`` and ``completion`` columns (trl's prompt-completion type)."""
    from datasets import Dataset

    return Dataset.from_dict(
        {"prompt": [e.prompt for e in examples], "completion": [e.completion for e in examples]}
    )


@dataclass
class FinetuneResult:
    """What a finetuning run did.

    Attributes:
        output_dir: Where the model and tokenizer were saved (None when not saved).
        num_examples: Training examples.
        block: The block-size report.
        global_steps: Optimizer steps taken.
        losses: Training loss at each logged step.
        seconds: Wall time of the whole call.
    """

    output_dir: Path | None
    num_examples: int
    block: BlockSizeReport
    global_steps: int
    losses: list[float]
    seconds: float


def build_trainer(
    model: str | os.PathLike[str] | Any,
    rows: Sequence[Mapping[str, Any]],
    output_dir: str | os.PathLike[str],
    *,
    tokenizer: Any | None = None,
    preset: str = "s1",
    think_format: str | ThinkFormat = "s1",
    trace_source: str = "auto",
    allow_truncation: bool = False,
    pad_token: str | None = None,
    **overrides: Any,
) -> tuple[Any, BlockSizeReport]:
    """Format ``rows``, check the block size, and build a trl ``SFTTrainer`` writing to ``output_dir``.

    ``model`` is a path or hub id (loaded in float32, or bf16 when the config says bf16) or a loaded model.
    """
    trl = _require_trl()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = build_sft_config(output_dir, preset, **overrides)
    if tokenizer is None:
        if not isinstance(model, (str, os.PathLike)):
            raise ConfigError("pass tokenizer= when model is an already loaded model object.")
        tokenizer = AutoTokenizer.from_pretrained(str(model))
    examples = format_rows(rows, tokenizer, think_format, trace_source)
    ensure_pad_token(tokenizer, pad_token)
    block = check_block_size(examples, tokenizer, config.max_length, allow_truncation)
    if isinstance(model, (str, os.PathLike)):
        import torch

        dtype = torch.bfloat16 if config.bf16 else torch.float32
        model = AutoModelForCausalLM.from_pretrained(str(model), dtype=dtype)
    trainer = trl.SFTTrainer(
        model=model, args=config, train_dataset=to_dataset(examples), processing_class=tokenizer
    )
    return trainer, block


def finetune(
    model: str | os.PathLike[str] | Any,
    data: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
    output_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    **kwargs: Any,
) -> FinetuneResult:
    """Finetune ``model`` on s1K-style ``data`` and save model + tokenizer to ``output_dir``.

    ``data`` is a file, a hub name, or a list of rows. Keyword arguments are those of :func:`build_trainer`
    (``preset``, ``think_format``, ``trace_source``, ``allow_truncation``, ``pad_token``, ``tokenizer``) and any
    SFTConfig field overriding the preset (``num_train_epochs=1``, ``max_length=4096``...). The result loads with
    ``tts.HFEngine(output_dir)``. ``output_dir`` appears only once complete; an existing one is replaced only
    with ``overwrite=True``.
    """
    start = time.monotonic()
    final = Path(output_dir)
    if final.exists() and any(final.iterdir()) and not overwrite:
        raise ConfigError(
            f"output directory {str(final)!r} already exists and is not empty; pass overwrite=True."
        )
    rows = load_rows(data) if isinstance(data, (str, os.PathLike)) else list(data)
    partial = final.parent / f".{final.name}.partial"
    trainer, block = build_trainer(model, rows, partial, **kwargs)
    state = trainer.accelerator
    if state.is_main_process and partial.exists():
        shutil.rmtree(partial)  # left over from an interrupted run
    state.wait_for_everyone()
    try:
        trainer.train()
        trainer.save_model(str(partial))
        if state.is_main_process:
            trainer.processing_class.save_pretrained(str(partial))
            _publish(partial, final)
        state.wait_for_everyone()
    except BaseException:
        if state.is_main_process and partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
        raise
    losses = [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]
    return FinetuneResult(
        final, len(rows), block, trainer.state.global_step, losses, time.monotonic() - start
    )


def _publish(partial: Path, final: Path) -> None:
    """Rename the finished directory into place, replacing an old one only after the new one is complete."""
    for leftover in ("runs",):  # trl/transformers logging dirs are not part of the model
        if (partial / leftover).is_dir():
            shutil.rmtree(partial / leftover)
    if final.exists():
        old = final.parent / f".{final.name}.old"
        if old.exists():
            shutil.rmtree(old)
        final.rename(old)
        partial.rename(final)
        shutil.rmtree(old)
    else:
        partial.rename(final)


__all__ = [
    "PRESETS",
    "BlockSizeReport",
    "FinetuneResult",
    "build_sft_config",
    "build_trainer",
    "check_block_size",
    "ensure_pad_token",
    "finetune",
    "recipe",
    "to_dataset",
]
