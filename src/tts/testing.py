"""Tiny offline models and a fake engine, for our tests and for plugin authors.

Nothing here downloads anything. :func:`build_tiny_model` trains a small byte-level BPE tokenizer
in-process (carrying the think format's special tokens and a Qwen2.5-style chat template), builds a
Qwen2-architecture model with random weights, and saves both to a directory that
``transformers.AutoModelForCausalLM.from_pretrained`` — and therefore ``tts.HFEngine`` — loads like any
hub checkpoint.

The defaults are chosen so that greedy decoding actually emits the end-of-thinking marker within a few
dozen tokens for most prompts (2 layers, ~400-token vocabulary, ``initializer_range=0.2``), which lets
tests exercise the "Wait" path of budget forcing on a real model. ``head_dim`` is 64 because vLLM's CPU
attention rejects smaller heads.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engines.base import FinishReason, SegmentOutput, SegmentRequest
from .formats import S1_SYSTEM_PROMPT

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<|fim_pad|>")

#: A Qwen2.5-style ChatML template: the default system turn is inserted when none is given.
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\n" + S1_SYSTEM_PROMPT + "<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_CORPUS_SEED = (
    "Let me think step by step. First we compute the sum of the numbers. Wait, that is not right.",
    "The answer is 42. Final Answer: \\boxed{42}. Alternatively, consider the square root of 16.",
    "Hmm, so x + y = 10 and x - y = 2, hence x = 6 and y = 4. Therefore the result is 24.",
    "What is the probability that two dice sum to seven? There are 36 outcomes and 6 favourable.",
    "A triangle has sides 3, 4 and 5; its area is 6. Think for up to 512 tokens. 1 steps left",
    "Answer after a short amount of thinking. Do not spend excessive time double-checking your work.",
    "think answer question solution problem integer prime divisor fraction \\frac{1}{2} 0.5 = + - * /",
)


def build_tiny_tokenizer(vocab_size: int = 400) -> Any:
    """Train a byte-level BPE tokenizer in-process and wrap it as a ``PreTrainedTokenizerFast``.

    The tokenizer carries every special token of the built-in think formats as single tokens,
    ``<|im_end|>`` as EOS, ``<|fim_pad|>`` as the padding token (distinct from EOS, as in s1's SFT),
    and :data:`CHAT_TEMPLATE`.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [line for line in _CORPUS_SEED for _ in range(4)]
    raw.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|fim_pad|>",
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in ("<|im_end|>", "<|fim_pad|>")],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


@dataclass
class TinyModelConfig:
    """Shape of the tiny Qwen2 model; the defaults are the ones our tests rely on."""

    vocab_size: int = 400
    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    num_key_value_heads: int = 1
    head_dim: int = 64
    max_position_embeddings: int = 4096
    initializer_range: float = 0.2
    #: Output rows of the end-of-thinking markers are scaled by this factor so that the random model ends
    #: its thinking by itself often enough (18 of 24 prompts within 128 greedy tokens at 1.5).
    stop_logit_scale: float = 1.5
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def build_tiny_model(path: str | os.PathLike[str], config: TinyModelConfig | None = None) -> Path:
    """Build and save a tiny random Qwen2 model plus tokenizer at ``path``; return the path.

    Deterministic for a given ``config.seed``. Reuses the directory if it already holds a model built with
    the same config, so a test session pays the (sub-second) cost once.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = config or TinyModelConfig()
    out = Path(path)
    stamp = json.dumps(cfg.__dict__, sort_keys=True)
    if (out / "tts_tiny.json").exists() and (out / "tts_tiny.json").read_text() == stamp:
        return out
    tokenizer = build_tiny_tokenizer(cfg.vocab_size)
    options: dict[str, Any] = dict(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        head_dim=cfg.head_dim,
        max_position_embeddings=cfg.max_position_embeddings,
        initializer_range=cfg.initializer_range,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **cfg.extra,
    )
    model_config = Qwen2Config(**options)
    torch.manual_seed(cfg.seed)
    model = Qwen2ForCausalLM(model_config).eval()
    with torch.no_grad():
        model.lm_head.weight.copy_(model.model.embed_tokens.weight)
        for marker in ("<|im_start|>", "</think>"):
            model.lm_head.weight[tokenizer.convert_tokens_to_ids(marker)] *= cfg.stop_logit_scale
    from transformers.utils import logging as hf_logging

    # Write to a sibling temp dir and rename, so an interrupted build never leaves a half-written model.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "tts_tiny.json").write_text(stamp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def default_tiny_model_dir() -> Path:
    """Where the built-in tiny model is cached (``$TTS_CACHE`` or ``~/.cache/tts``)."""
    root = Path(os.environ.get("TTS_CACHE", Path.home() / ".cache" / "tts"))
    return root / "tiny-qwen2"


class FakeEngine:
    """A scripted engine for hook-protocol tests: no model, no tokenizer beyond the one given.

    ``script`` maps a request's position in its sample's life (0 for the first segment, 1 for the second…)
    to the tokens it "generates"; the segment is truncated to ``max_tokens`` like a real engine would, and
    ends with ``finish_reason="stop"`` on the first token that is in ``stop_token_ids`` (not returned) or
    once the text contains one of the request's stop strings (the completing tokens are returned). Use it to check
    how strategies react to stops and lengths, never as evidence that a feature works on a model.
    """

    def __init__(self, tokenizer: Any, script: Sequence[Sequence[int]], context_length: int = 4096) -> None:
        self.tokenizer = tokenizer
        self.context_length = context_length
        self._script = [list(s) for s in script]
        self._calls: dict[str, int] = {}
        self.requests: list[SegmentRequest] = []

    def generate(self, requests: Sequence[SegmentRequest]) -> list[SegmentOutput]:
        """Play the next scripted segment for each request."""
        outputs = []
        for request in requests:
            self.requests.append(request)
            step = self._calls.get(request.key, 0)
            self._calls[request.key] = step + 1
            planned = self._script[min(step, len(self._script) - 1)]
            tokens: list[int] = []
            finish: FinishReason = "length"
            stop_reason: int | None = None
            stop_reason_str: str | None = None
            for i, token in enumerate(planned):
                if len(tokens) >= request.max_tokens:
                    break
                if token in request.stop_token_ids and i >= request.min_tokens:
                    finish, stop_reason = "stop", token
                    break
                tokens.append(token)
                text = self.tokenizer.decode(tokens, skip_special_tokens=False)
                stop_reason_str = next((s for s in request.stop if s in text), None)
                if stop_reason_str is not None:
                    finish = "stop"
                    break
            else:
                if len(tokens) < request.max_tokens:
                    finish = "stop"
            reason: int | str | None = stop_reason_str if stop_reason_str is not None else stop_reason
            outputs.append(SegmentOutput(token_ids=tokens, finish_reason=finish, stop_reason=reason))
        return outputs

    def release(self, keys: Sequence[str]) -> None:
        """Nothing to free."""


def reference_budget_forcing(
    model: Any,
    tokenizer: Any,
    prompt_token_ids: list[int],
    *,
    max_thinking_tokens: int,
    num_ignore: int = 0,
    ignore_string: str = "Wait",
    forced_answer: str = "Final Answer:",
    max_answer_tokens: int = 32,
    think_format: str = "s1",
) -> tuple[list[int], list[int]]:
    """Greedy budget forcing the way the s1 reference does it: a fresh ``generate`` over the whole prefix per round.

    Every round re-sends prompt + all tokens so far (token ids) and recomputes the prefix, which is what the
    library avoids; the remaining-budget accounting follows the s1 README demo. Used by our tests (the
    library must match it token for token) and by the benchmarks (as the re-prefill baseline).

    Returns:
        ``(thinking_token_ids, answer_token_ids)`` laid out as in :class:`tts.SampleResult`.
    """
    from .formats import get_format

    fmt = get_format(think_format).bind(tokenizer)
    thinking: list[int] = []
    ignores, min_new = 0, 0
    while True:
        out, stopped = _greedy(model, prompt_token_ids + thinking, max_thinking_tokens - len(thinking), fmt.thinking_stop_ids, min_new)
        thinking += out
        ignore_ids = fmt.encode(ignore_string)
        if stopped and ignores < num_ignore and len(thinking) + len(ignore_ids) + 1 <= max_thinking_tokens:
            thinking += ignore_ids
            ignores, min_new = ignores + 1, 1
            continue
        break
    if stopped:
        delimiter, forced = fmt.encode(fmt.format.answer_delimiter), []
    else:
        tail = fmt.decode((prompt_token_ids + thinking)[-1:])
        newline = "" if tail.endswith("\n") else "\n"
        delimiter = fmt.encode(newline + fmt.format.answer_delimiter + fmt.format.forced_separator)
        forced = fmt.encode(forced_answer)
    prefix = prompt_token_ids + thinking + delimiter + forced
    answer, _ = _greedy(model, prefix, max_answer_tokens - len(forced), fmt.answer_stop_ids, 0)
    return thinking, forced + answer


def _greedy(model: Any, token_ids: list[int], max_new: int, stop_ids: Sequence[int], min_new: int) -> tuple[list[int], bool]:
    """One plain ``model.generate`` call; returns the new tokens without the stop token, and whether it stopped."""
    import torch

    if max_new <= 0:
        return [], False
    out = model.generate(
        torch.tensor([token_ids], device=model.device),
        attention_mask=torch.ones(1, len(token_ids), dtype=torch.long, device=model.device),
        max_new_tokens=max_new,
        min_new_tokens=min_new,
        do_sample=False,
        eos_token_id=list(stop_ids),
        pad_token_id=model.config.pad_token_id,
    )[0, len(token_ids) :].tolist()
    if out and out[-1] in stop_ids:
        return out[:-1], True
    return out, False


def sample_questions(n: int, offset: int = 0) -> list[str]:
    """``n`` distinct short arithmetic questions of varied length, for tests and benchmarks."""
    return [f"Problem {i}: what is {i} * {i + 3}?" + " Explain." * (i % 4) for i in range(offset, offset + n)]
