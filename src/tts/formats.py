"""Think formats: where thinking starts, how it ends, and how a prompt is rendered.

A reasoning model writes its chain of thought between two markers and then answers. The markers are a
property of the model's training, not of the library, so they are a setting:

* ``s1`` — the s1 / Qwen2.5 ChatML layout: the assistant turn starts with ``<|im_start|>think``; thinking
  ends when the model emits ``<|im_start|>`` (to open ``<|im_start|>answer``) or ``<|im_end|>``.
* ``think-tags`` — DeepSeek-R1 distills, QwQ, Qwen3: ``<think>`` ... ``</think>`` then the answer.
* a custom :class:`ThinkFormat` for anything else.

Stop markers must be single tokens of the tokenizer: the engines stop on token ids, and a marker the
tokenizer splits into pieces would silently never match. :meth:`ThinkFormat.bind` checks this up front.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import FormatError, did_you_mean

S1_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


@dataclass(frozen=True)
class ThinkFormat:
    """Where thinking starts and ends for one family of reasoning models.

    Attributes:
        name: Short name used in records and on the command line.
        thinking_prompt: Text appended after the chat template's generation prompt to open thinking.
        answer_delimiter: Text that closes thinking and opens the answer.
        thinking_stop_tokens: Tokens at which the model is taken to end its thinking (each one token).
        answer_stop_tokens: Tokens that end the answer, in addition to the tokenizer's EOS.
        forced_separator: Text placed between the answer delimiter and the forced-answer text when thinking
            is cut (``"\\n"`` gives s1's ``<|im_start|>answer\\nFinal Answer:``).
        special_tokens: Markers that must exist as single tokens in the tokenizer.
    """

    name: str
    thinking_prompt: str
    answer_delimiter: str
    thinking_stop_tokens: tuple[str, ...]
    answer_stop_tokens: tuple[str, ...]
    forced_separator: str = "\n"
    special_tokens: tuple[str, ...] = field(default=())

    def bind(self, tokenizer: Any) -> BoundFormat:
        """Resolve the markers against ``tokenizer``; raise :class:`FormatError` if any is missing."""
        ids: dict[str, int] = {}
        for marker in dict.fromkeys(self.special_tokens + self.thinking_stop_tokens + self.answer_stop_tokens):
            ids[marker] = single_token_id(tokenizer, marker, self.name)
        eos = _eos_token_ids(tokenizer)
        return BoundFormat(
            format=self,
            tokenizer=tokenizer,
            thinking_stop_ids=tuple(dict.fromkeys([ids[t] for t in self.thinking_stop_tokens] + eos)),
            answer_stop_ids=tuple(dict.fromkeys([ids[t] for t in self.answer_stop_tokens] + eos)),
        )


def single_token_id(tokenizer: Any, marker: str, format_name: str = "custom") -> int:
    """Return the id of ``marker`` if the tokenizer encodes it as exactly one token, else raise."""
    pieces = tokenizer.encode(marker, add_special_tokens=False)
    if len(pieces) != 1:
        name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise FormatError(
            f"think format {format_name!r} needs {marker!r} as a single token, but tokenizer {name!r} "
            f"encodes it as {len(pieces)} tokens; use the tokenizer the model was trained with, add the token, "
            f"or pass a custom ThinkFormat whose markers this tokenizer knows."
        )
    return int(pieces[0])


def _eos_token_ids(tokenizer: Any) -> list[int]:
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is None:
        return []
    return [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])]


@dataclass(frozen=True)
class BoundFormat:
    """A :class:`ThinkFormat` resolved against one tokenizer: stop token ids and prompt rendering."""

    format: ThinkFormat
    tokenizer: Any
    thinking_stop_ids: tuple[int, ...]
    answer_stop_ids: tuple[int, ...]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without BOS/EOS, as injected into a running sequence."""
        return list(self.tokenizer.encode(text, add_special_tokens=False)) if text else []

    def decode(self, token_ids: list[int]) -> str:
        """Text of ``token_ids`` with special tokens kept, so delimiters stay visible."""
        return str(self.tokenizer.decode(token_ids, skip_special_tokens=False))

    def render_prompt(self, question: str, system_prompt: str | None = None) -> str:
        """Render ``question`` through the tokenizer's chat template and open the thinking phase."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise FormatError(
                f"tokenizer {getattr(self.tokenizer, 'name_or_path', '')!r} has no chat template; "
                "set tokenizer.chat_template or pass raw_prompt=True to send prompts as they are."
            )
        messages = [{"role": "user", "content": question}]
        if system_prompt is not None:
            messages.insert(0, {"role": "system", "content": system_prompt})
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # Some templates (recent R1 distills, Qwen3) already open thinking; never open it twice.
        if not text.rstrip().endswith(self.format.thinking_prompt.strip()):
            text += self.format.thinking_prompt
        return str(text)


S1 = ThinkFormat(
    name="s1",
    thinking_prompt="<|im_start|>think",
    answer_delimiter="<|im_start|>answer",
    thinking_stop_tokens=("<|im_start|>", "<|im_end|>"),
    answer_stop_tokens=("<|im_end|>",),
    forced_separator="\n",
    special_tokens=("<|im_start|>", "<|im_end|>"),
)

THINK_TAGS = ThinkFormat(
    name="think-tags",
    thinking_prompt="<think>\n",
    answer_delimiter="</think>",
    thinking_stop_tokens=("</think>",),
    answer_stop_tokens=(),
    forced_separator="\n\n",
    special_tokens=("<think>", "</think>"),
)

PRESETS: dict[str, ThinkFormat] = {S1.name: S1, THINK_TAGS.name: THINK_TAGS}


def get_format(think_format: str | ThinkFormat) -> ThinkFormat:
    """Return the preset called ``think_format``, or ``think_format`` itself if it is a ThinkFormat."""
    if isinstance(think_format, ThinkFormat):
        return think_format
    if isinstance(think_format, str) and think_format in PRESETS:
        return PRESETS[think_format]
    raise FormatError(
        f"unknown think format {think_format!r}{did_you_mean(str(think_format), PRESETS)}; "
        f"use one of {sorted(PRESETS)} or pass a tts.ThinkFormat."
    )
