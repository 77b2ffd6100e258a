"""A tiny engine plugin for tts: a bigram (Markov chain) model over a Hugging Face tokenizer, learned from text.

It needs no GPU and no weights, so it is a skeleton to start your own engine from: keep the registration and
the options, and replace :meth:`MarkovEngine.generate` with calls into your backend. Once installed
(``pip install .``), ``tts run --engine markov --model TOKENIZER_DIR --corpus notes.txt ...`` selects it.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tts.engines import EngineOptions, SegmentOutput, SegmentRequest
from tts.errors import EngineError

DEFAULT_CORPUS = """\
Let me think about the question step by step.
First I count what is given and then I check the answer.
Wait, let me check the answer again before I write it down.
The answer is the number I found, and I am sure of it.
"""


@dataclass
class MarkovOptions(EngineOptions):
    """What ``--engine markov`` can be told; each field with ``help`` is a ``tts run`` flag."""

    summary: ClassVar[str] = "a bigram model learned from a text (example plugin; --model is a tokenizer)"

    corpus: str | None = field(default=None, metadata={"help": "text file to learn from (default: a built-in paragraph)"})
    context_length: int = field(default=4096, metadata={"help": "the context in tokens", "min": 1})


class MarkovEngine:
    """Generate each next token from the counts of token pairs in a text (greedy, or sampled by temperature).

    Args:
        model: Directory or hub id of the tokenizer (this engine has no weights).
        corpus: Path of a text file to learn from; None: :data:`DEFAULT_CORPUS`.
        context_length: Longest sequence a request may reach.
    """

    def __init__(self, model: str, *, corpus: str | None = None, context_length: int = 4096) -> None:
        from transformers import AutoTokenizer

        self.tokenizer: Any = AutoTokenizer.from_pretrained(model)
        self.context_length = context_length
        text = Path(corpus).read_text(encoding="utf-8") if corpus else DEFAULT_CORPUS
        self.successors: dict[int, Counter[int]] = defaultdict(Counter)
        self.frequency: Counter[int] = Counter()
        eos = self.tokenizer.eos_token_id
        for line in (line.strip() for line in text.splitlines()):
            ids = self.tokenizer.encode(line, add_special_tokens=False) + ([eos] if eos is not None else [])
            self.frequency.update(ids)
            for current, following in zip(ids, ids[1:]):
                self.successors[current][following] += 1
        if not self.frequency:
            raise EngineError(f"the corpus {corpus!r} has no text to learn from; pass a non-empty text file.")

    # The whole Engine protocol: generate a batch of segments, release a finished sample's state.

    def generate(self, requests: Sequence[SegmentRequest]) -> list[SegmentOutput]:
        """One segment per request, in request order."""
        return [self._segment(r) for r in requests]

    def release(self, keys: Sequence[str]) -> None:
        """Nothing to free: this engine keeps no state between segments."""

    def _segment(self, r: SegmentRequest) -> SegmentOutput:
        if len(r.token_ids) + r.max_tokens > self.context_length:
            raise EngineError(f"request {r.key!r} would pass the context of {self.context_length}; lower max_tokens.")
        # One random stream per segment, from the sample's seed and its length: reproducible, batch-independent.
        rng = random.Random(f"{r.seed}:{len(r.token_ids)}") if r.temperature > 0 and r.seed is not None else random.Random()
        out: list[int] = []
        last = r.token_ids[-1]
        while len(out) < r.max_tokens:
            banned = set(r.stop_token_ids) if len(out) < r.min_tokens else set()  # min_tokens: no stop yet
            token = self._next(last, banned, r.temperature, rng)
            if token in r.stop_token_ids:
                return SegmentOutput(out, "stop", token)  # the stop token itself is not returned
            out.append(token)
            last = token
            tail = self.tokenizer.decode(out[-16:], skip_special_tokens=False)
            for stop in r.stop:
                if stop in tail:
                    return SegmentOutput(out, "stop", stop)  # the tokens that complete a stop string are kept
        return SegmentOutput(out, "length", None)

    def _next(self, last: int, banned: set[int], temperature: float, rng: random.Random) -> int:
        counts = {t: c for t, c in (self.successors.get(last) or self.frequency).items() if t not in banned}
        if not counts:
            counts = {t: c for t, c in self.frequency.items() if t not in banned}
        if temperature <= 0:
            return max(counts, key=lambda t: (counts[t], -t))
        tokens = sorted(counts)
        return rng.choices(tokens, weights=[counts[t] ** (1.0 / temperature) for t in tokens])[0]


def tts_register_engines(register: Callable[[str, Any, type], None]) -> None:
    """Make ``--engine markov`` (and ``build_engine("markov", ...)``) build a :class:`MarkovEngine`."""
    register("markov", MarkovEngine, MarkovOptions)
