"""Training the miniature: a Qwen2 model of ~3M parameters, from scratch, with a plain torch loop.

Why not trl here: the recipe that works at this scale (MINIATURE_FACTS) is one planned cosine schedule over
~1,100 steps of 32 short sequences, where a step costs ~1 s on two CPU cores; the loop below is that recipe
and nothing else (loss on the completion only, length-bucketed batches to avoid padding). The paper's own
route — SFT of a base on a 1K selection — goes through :func:`tts.finetune.finetune` (trl) instead.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..finetune.data import FormattedExample


@dataclass(frozen=True)
class ModelShape:
    """The Qwen2 shape: head_dim 64 so that vLLM's CPU attention runs it too; tied embeddings.

    1.74M parameters. MINIATURE_FACTS measured 256 wide / 4 heads / 768 (3.2M); on 2 cores shared with other
    jobs a step of that model took ~6.6 s, so the shipped model is narrower (see MODEL_CARD.md).
    """

    hidden_size: int = 192
    num_hidden_layers: int = 4
    num_attention_heads: int = 3
    num_key_value_heads: int = 1
    intermediate_size: int = 576
    head_dim: int = 64
    max_position_embeddings: int = 1024


@dataclass(frozen=True)
class TrainConfig:
    """The measured recipe: AdamW (0.9, 0.95), wd 0.1, 5% warm-up, cosine, peak lr 2e-3, batch 32, clip 1."""

    steps: int = 600
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup: float = 0.05
    clip: float = 1.0
    seed: int = 0
    #: One thread: on cores shared with other jobs, two threads ran a step 3x slower than one (measured).
    threads: int = 1
    #: ``(planned_steps, until_step)``: follow the cosine of a ``planned_steps`` run up to ``until_step``, then
    #: the cosine of ``steps``. The shipped model was planned for 1,000 steps and re-planned to 600 at step 500,
    #: when the shared machine ran 3-4x slower than measured; this keeps that run reproducible.
    initial_schedule: tuple[int, int] | None = (1000, 500)
    #: bf16 autocast on CPU (AMX matmuls where the CPU has them); master weights stay float32.
    autocast: bool = True


def new_model(tokenizer: Any, shape: ModelShape, seed: int) -> Any:
    """A randomly initialised ``Qwen2ForCausalLM`` for ``tokenizer``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **asdict(shape),
    )
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(config)


def encode_examples(examples: Sequence[FormattedExample], tokenizer: Any) -> list[tuple[list[int], int]]:
    """Token ids of prompt + completion, and where the completion (the loss) starts."""
    out = []
    for ex in examples:
        prompt = tokenizer.encode(ex.prompt, add_special_tokens=False)
        completion = tokenizer.encode(ex.completion, add_special_tokens=False)
        out.append((prompt + completion, len(prompt)))
    return out


def batches(data: Sequence[tuple[list[int], int]], cfg: TrainConfig) -> list[list[int]]:
    """``cfg.steps`` batches of indices: shuffled, bucketed by length (50 batches at a time), reshuffled.

    Data is cycled if it has fewer than ``steps * batch_size`` examples.
    """
    rng = random.Random(cfg.seed)
    need = cfg.steps * cfg.batch_size
    order: list[int] = []
    while len(order) < need:
        chunk = list(range(len(data)))
        rng.shuffle(chunk)
        order += chunk
    order = order[:need]
    out: list[list[int]] = []
    window = 50 * cfg.batch_size
    for start in range(0, need, window):
        block = sorted(order[start : start + window], key=lambda i: len(data[i][0]))
        group = [block[j : j + cfg.batch_size] for j in range(0, len(block), cfg.batch_size)]
        rng.shuffle(group)
        out += group
    return out


def collate(items: Sequence[tuple[list[int], int]], pad_id: int) -> tuple[Any, Any, Any]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (-100 outside the completions)."""
    import torch

    width = max(len(ids) for ids, _ in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    for row, (tokens, start) in enumerate(items):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
        labels[row, start : len(tokens)] = torch.tensor(tokens[start:])
    return ids, mask, labels


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up over ``warmup`` of the planned steps, then cosine to zero at the planned end."""
    planned = cfg.steps
    if cfg.initial_schedule is not None and step < cfg.initial_schedule[1]:
        planned = cfg.initial_schedule[0]
    warm = max(1, int(cfg.warmup * planned))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    progress = (step - warm) / max(1, planned - warm)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))


def train(model: Any, data: Sequence[tuple[list[int], int]], cfg: TrainConfig, pad_id: int,
          on_step: Callable[[int, float], None] | None = None, checkpoint: Path | None = None,
          every: int = 50, keep_final: bool = False) -> list[float]:
    """Train ``model`` in place on ``data`` with the recipe; returns the loss per step.

    With ``checkpoint``, model, optimizer and losses are saved there (atomically) every ``every`` steps and a
    run that finds one resumes from it: the batches are a pure function of the seed, so a resumed run sees
    the same data in the same order. ``keep_final`` also checkpoints the last step (a later phase can then
    resume past a finished one).
    """
    import torch

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    other = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.95),
    )
    losses: list[float] = []
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        losses = list(state["losses"])
    model.train()
    for step, batch in enumerate(batches(data, cfg)):
        if step < len(losses):
            continue
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        ids, mask, labels = collate([data[i] for i in batch], pad_id)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.autocast):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, losses[-1])
        last = step + 1 == cfg.steps
        if checkpoint is not None and (((step + 1) % every == 0 and not last) or (keep_final and last)):
            tmp = checkpoint.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "losses": losses}, tmp)
            tmp.replace(checkpoint)
    model.eval()
    return losses


#: The files of a saved miniature tokenizer.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def save_model(model: Any, tokenizer: Any, path: Path, dtype: str = "float32",
               tokenizer_dir: Path | None = None) -> None:
    """Save model (in ``dtype``) and tokenizer to ``path`` (the caller makes it atomic).

    ``tokenizer_dir``: copy the tokenizer files from there instead of saving ``tokenizer`` again; a tokenizer
    loaded and re-saved gains fields each time (an ``unk_token`` on the second round trip), so stages that
    continue from a saved model keep its files byte for byte.
    """
    import shutil

    import torch

    from .tokenizer import save_tokenizer

    target = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    model.to(target).save_pretrained(path)
    model.to(torch.float32)
    if tokenizer_dir is None:
        save_tokenizer(tokenizer, path)
        return
    for name in TOKENIZER_FILES:
        if (Path(tokenizer_dir) / name).exists():
            shutil.copy2(Path(tokenizer_dir) / name, Path(path) / name)


def train_stage(out: Path, model: Any, tokenizer: Any, phases: Sequence[tuple[TrainConfig, Sequence[tuple[list[int], int]]]],
                label: str, dtype: str = "float32", progress: bool = True,
                meta: dict[str, Any] | None = None, tokenizer_dir: Path | None = None) -> None:
    """Train ``model`` through ``phases`` (each a schedule and its data) and write it to ``out`` atomically.

    The shared body of the training stages (sft, the base, the refinement, the TCC / SCC models): a
    progress bar per phase, a loss log beside ``out`` every 10 steps, a checkpoint every 50 steps that a rerun
    resumes from (a finished phase's stays, so a rerun skips it), all removed once ``out`` is written with
    ``training.json`` (``config`` is the first phase's schedule unless ``meta`` gives one). The tokenizer files
    are copied from ``tokenizer_dir`` (:func:`save_model`).
    """
    import json
    import time

    from .build import _atomic_dir, _bar

    log = out.parent / f"{out.name}.log"
    started = time.time()
    losses: list[float] = []
    ckpts = [out.parent / f".{out.name}.ckpt{'' if n == 0 else n + 1}" for n in range(len(phases))]
    for n, ((cfg, data), ckpt) in enumerate(zip(phases, ckpts)):
        name = label if len(phases) == 1 else f"{label} phase {n + 1}"
        bar = _bar(cfg.steps, name, progress)

        def on_step(step: int, loss: float, bar: Any = bar, name: str = name) -> None:
            bar.update(step + 1 - bar.n)
            bar.set_postfix(loss=f"{loss:.3f}")
            if (step + 1) % 10 == 0:
                with log.open("a") as fh:
                    fh.write(f"{name} {step + 1} {loss:.4f} {time.time() - started:.0f}s\n")

        losses += train(model, data, cfg, tokenizer.pad_token_id, on_step, checkpoint=ckpt, keep_final=True)
        bar.close()
    first = phases[0][0]
    record = {"config": asdict(first), **(meta or {}), "losses": losses,
              "n_examples": sum(len(d) for _, d in phases), "tokens": sum(len(ids) for _, d in phases for ids, _ in d),
              "seconds_this_run": round(time.time() - started, 1)}
    if len(phases) > 1:
        record["phases"] = [asdict(c) for c, _ in phases]

    def write(tmp: Path) -> None:
        save_model(model, tokenizer, tmp, dtype, tokenizer_dir)
        (tmp / "training.json").write_text(json.dumps(record))

    _atomic_dir(out, write)
    for ckpt in ckpts:
        ckpt.unlink(missing_ok=True)


def finetune_stage(out: Path, rows: Sequence[dict[str, Any]], start: Path, cfg: TrainConfig, label: str,
                   dtype: str = "float32", progress: bool = True, meta: dict[str, Any] | None = None) -> None:
    """Continue the model saved at ``start`` on teacher ``rows`` (s1 format) into ``out``, keeping its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..finetune import format_rows

    tokenizer = AutoTokenizer.from_pretrained(start)
    data = encode_examples(format_rows(rows, tokenizer, trace_source="s1K"), tokenizer)
    model = AutoModelForCausalLM.from_pretrained(start, dtype=torch.float32)
    train_stage(out, model, tokenizer, [(cfg, data)], label, dtype, progress,
                meta={"from": str(start), **(meta or {})}, tokenizer_dir=start)
