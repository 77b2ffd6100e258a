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


def save_model(model: Any, tokenizer: Any, path: Path, dtype: str = "float32") -> None:
    """Save model (in ``dtype``) and tokenizer to ``path`` (the caller makes it atomic)."""
    import torch

    from .tokenizer import save_tokenizer

    target = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    model.to(target).save_pretrained(path)
    model.to(torch.float32)
    save_tokenizer(tokenizer, path)
