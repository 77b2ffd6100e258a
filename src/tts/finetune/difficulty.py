"""Reference models for the difficulty filter: answer questions through a ``tts`` engine, then grade.

The paper drops every question that Qwen2.5-7B-Instruct or Qwen2.5-32B-Instruct answers correctly. A
*solver* is any callable from a batch of questions to one response per question; :class:`EngineSolver`
makes one from any ``tts`` engine (one batched call, greedy, each reply capped). A *grader* is any
callable ``(response, solution) -> bool``; :func:`boxed_match` is a small offline default that compares
the last ``\\boxed{...}`` of each (or the text after ``Answer:``) after light normalisation. It never
executes model output. Plug in a stronger equivalence check (a math verifier, an LLM judge) for real runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..engines.base import SegmentRequest
from ..errors import ConfigError


class EngineSolver:
    """Answer questions with a model served by a ``tts`` engine, through its chat template.

    Args:
        engine: Any :class:`tts.engines.Engine`; its tokenizer must have a chat template.
        max_tokens: Most tokens per answer (cut to what the context leaves).
        system_prompt: A system turn, or None for the template's default.
    """

    def __init__(self, engine: Any, max_tokens: int = 4096, system_prompt: str | None = None) -> None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ConfigError(f"max_tokens must be a positive integer, got {max_tokens!r}.")
        if not getattr(engine.tokenizer, "chat_template", None):
            raise ConfigError("the reference model's tokenizer has no chat template; set one.")
        self.engine, self.max_tokens, self.system_prompt = engine, max_tokens, system_prompt

    def __call__(self, questions: Sequence[str]) -> list[str]:
        """Generate one greedy response per question in one batched engine call."""
        tokenizer = self.engine.tokenizer
        eos = tokenizer.eos_token_id
        requests = []
        for index, question in enumerate(questions):
            messages = [{"role": "user", "content": question}]
            if self.system_prompt is not None:
                messages.insert(0, {"role": "system", "content": self.system_prompt})
            ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
            ids = list(ids["input_ids"] if isinstance(ids, Mapping) else ids)
            room = min(self.max_tokens, self.engine.context_length - len(ids))
            if room < 1:
                raise ConfigError(
                    f"question {index} fills the reference model's context ({len(ids)} tokens); drop it or use a "
                    "model with a longer context."
                )
            requests.append(
                SegmentRequest(f"solve-{index}", ids, room, stop_token_ids=[eos] if eos is not None else [])
            )
        outputs = self.engine.generate(requests)
        self.engine.release([r.key for r in requests])
        return [tokenizer.decode(out.token_ids, skip_special_tokens=True) for out in outputs]


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` in ``text`` (braces balanced), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, begin = 0, start + len("\\boxed{")
    for pos in range(begin, len(text)):
        if text[pos] == "{":
            depth += 1
        elif text[pos] == "}":
            if depth == 0:
                return text[begin:pos]
            depth -= 1
    return None


def _final_answer(text: str) -> str:
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    match = re.findall(r"Answer:\s*(.+)", text)
    return match[-1] if match else text


def _normalise(answer: str) -> str:
    answer = re.sub(r"\\(left|right|,|!|;|displaystyle)", "", answer)
    answer = answer.replace("$", "").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return re.sub(r"\s+", "", answer).rstrip(".").lower()


def boxed_match(response: str, solution: str) -> bool:
    """True when the response's final answer equals the solution's, after light normalisation."""
    expected = _normalise(_final_answer(solution))
    return bool(expected) and _normalise(_final_answer(response)) == expected
