"""s1K-style data: load rows, pick the trace source, and turn each row into training text.

The text is exactly what the s1 reference trains on (``data/`` and ``train/sft.py`` of simplescaling/s1):
the tokenizer's chat template over two messages,

* user: the question, as is;
* assistant: ``<|im_start|>think\\n`` + the reasoning trace (a list of strings is joined with newlines,
  then stripped) + ``\\n<|im_start|>answer\\n`` + the attempt, which gets an ``Answer: `` prefix unless it
  already contains ``Answer:``.

The ``think-tags`` format writes ``<think>\\n`` + trace + ``\\n</think>\\n\\n`` + answer instead, for models
that think between ``<think>`` tags. The markers come from :mod:`tts.formats`, never re-typed here.

For training, each text is split into a *prompt* (the chat template through the generation prompt,
``...<|im_start|>assistant\\n``) and a *completion* (the assistant content and the end-of-turn token),
so that trl computes the loss on the completion only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError, FormatError, did_you_mean
from ..formats import ThinkFormat, get_format


@dataclass(frozen=True)
class TraceColumns:
    """Which columns of a row hold the reasoning trace and the final attempt."""

    trajectory: str
    attempt: str


#: Trace sources: ``s1K`` (the Gemini traces of ``simplescaling/s1K``) and the two of ``s1K-1.1``.
TRACE_SOURCES: dict[str, TraceColumns] = {
    "s1K": TraceColumns("thinking_trajectories", "attempt"),
    "gemini": TraceColumns("gemini_thinking_trajectory", "gemini_attempt"),
    "deepseek": TraceColumns("deepseek_thinking_trajectory", "deepseek_attempt"),
}

#: The order in which ``trace_source="auto"`` looks for a complete set of columns.
AUTO_ORDER = ("s1K", "deepseek", "gemini")

DEFAULT_ANSWER_PREFIX = "Answer: "


@dataclass(frozen=True)
class FormattedExample:
    """One row as training text.

    Attributes:
        prompt: The chat template over the question, through the generation prompt.
        completion: The assistant content followed by the end-of-turn token; the loss is computed on it.
        text: The full chat-templated conversation, exactly as the s1 reference builds it.
        row_index: Position of the row in the input, for error messages and reports.
    """

    prompt: str
    completion: str
    text: str
    row_index: int


def load_rows(source: str | os.PathLike[str], split: str = "train") -> list[dict[str, Any]]:
    """Load rows from a local ``.jsonl`` / ``.json`` / ``.parquet`` file or a datasets hub name.

    A string that is not an existing path but looks like ``owner/name`` is loaded with
    ``datasets.load_dataset(name, split=split)``.
    """
    path = Path(source)
    if path.exists():
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".json"):
            return _load_json(path)
        if suffix == ".parquet":
            return _load_parquet(path)
        raise DataError(
            f"cannot read {str(path)!r}: unknown extension {suffix!r}; use .jsonl, .json or .parquet."
        )
    name = str(source)
    if (
        name.count("/") != 1
        or name.startswith((".", "/"))
        or Path(name).suffix in (".jsonl", ".json", ".parquet")
    ):
        raise DataError(
            f"data {name!r} is neither an existing file nor a datasets hub name like 'simplescaling/s1K'."
        )
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets comes with the finetune extra
        from ..errors import MissingDependencyError

        raise MissingDependencyError(
            f"loading hub dataset {name!r} needs the 'datasets' package; pip install 'tts-scaling[finetune]'."
        ) from exc
    return [dict(row) for row in datasets.load_dataset(name, split=split)]


def _load_json(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        rows = json.loads(text)
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}:{number} is not valid JSON ({exc.msg}); fix or remove that line."
                ) from exc
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(
                f"row {index} of {path} is a {type(row).__name__}, not an object; write one object per row."
            )
    return rows


def _load_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return [dict(row) for row in pq.read_table(path).to_pylist()]


def resolve_trace_source(columns: Iterable[str], trace_source: str = "auto") -> str:
    """Return the trace source to use for rows with these columns.

    ``"auto"`` picks the first of ``s1K``, ``deepseek``, ``gemini`` whose two columns are all present.
    """
    present = set(columns)
    if trace_source == "auto":
        for name in AUTO_ORDER:
            cols = TRACE_SOURCES[name]
            if cols.trajectory in present and cols.attempt in present:
                return name
        wanted = ", ".join(f"{c.trajectory}+{c.attempt}" for c in TRACE_SOURCES.values())
        raise DataError(
            f"rows have columns {sorted(present)} but none of the trace column pairs ({wanted}); "
            "pass s1K / s1K-1.1 data or rename the columns."
        )
    if trace_source not in TRACE_SOURCES:
        raise DataError(
            f"unknown trace_source {trace_source!r}{did_you_mean(trace_source, TRACE_SOURCES)}; "
            f"use 'auto' or one of {sorted(TRACE_SOURCES)}."
        )
    return trace_source


def join_trajectory(value: Any, row_index: int, column: str) -> str:
    """Join a trace given as a list of strings (with newlines) or take it as a string; strip it.

    Raises :class:`DataError` naming the row when the trace is missing, of another type, or empty.
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        text = "\n".join(value)
    elif hasattr(value, "tolist"):  # a numpy array from parquet
        return join_trajectory(value.tolist(), row_index, column)
    else:
        raise DataError(
            f"row {row_index}: column {column!r} must be a string or a list of strings, got {type(value).__name__}; "
            "fix the row or drop it with the quality filter (tts select)."
        )
    text = text.strip()
    if not text:
        raise DataError(
            f"row {row_index}: column {column!r} is an empty trace; drop the row or pick another trace_source."
        )
    return text


def assistant_content(
    thinking: str,
    answer: str,
    think_format: str | ThinkFormat = "s1",
    answer_prefix: str | None = DEFAULT_ANSWER_PREFIX,
) -> str:
    """The assistant turn: open thinking, the trace, the answer delimiter, then the answer.

    ``answer_prefix`` (``"Answer: "``) is put before the answer unless the answer already contains it
    without its trailing space, as in the reference; ``None`` leaves the answer as it is.
    """
    fmt = get_format(think_format)
    opening = fmt.thinking_prompt if fmt.thinking_prompt.endswith("\n") else fmt.thinking_prompt + "\n"
    if answer_prefix and answer_prefix.strip() not in answer:
        answer = answer_prefix + answer
    return f"{opening}{thinking}\n{fmt.answer_delimiter}{fmt.forced_separator}{answer}"


def _required(row: Mapping[str, Any], column: str, row_index: int) -> Any:
    if column not in row:
        raise DataError(
            f"row {row_index} has no column {column!r}{did_you_mean(column, row)}; "
            f"its columns are {sorted(row)}; fix the data or pick another trace_source."
        )
    value = row[column]
    if value is None:
        raise DataError(f"row {row_index}: column {column!r} is null; fill it or drop the row.")
    return value


def format_example(
    row: Mapping[str, Any],
    tokenizer: Any,
    think_format: str | ThinkFormat = "s1",
    trace_source: str = "s1K",
    row_index: int = 0,
    answer_prefix: str | None = DEFAULT_ANSWER_PREFIX,
) -> FormattedExample:
    """Turn one row into training text with ``tokenizer``'s chat template (see the module docstring)."""
    columns = TRACE_SOURCES[resolve_trace_source(row.keys(), trace_source)]
    question = _required(row, "question", row_index)
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"row {row_index}: column 'question' is empty or not a string; fix or drop the row.")
    thinking = join_trajectory(_required(row, columns.trajectory, row_index), row_index, columns.trajectory)
    answer = _required(row, columns.attempt, row_index)
    if not isinstance(answer, str) or not answer.strip():
        raise DataError(
            f"row {row_index}: column {columns.attempt!r} is empty or not a string; fix or drop the row."
        )
    content = assistant_content(thinking, answer, think_format, answer_prefix)
    user = {"role": "user", "content": question}
    text = tokenizer.apply_chat_template([user, {"role": "assistant", "content": content}], tokenize=False)
    prompt = tokenizer.apply_chat_template([user], tokenize=False, add_generation_prompt=True)
    return FormattedExample(prompt, _completion(text, prompt, content, tokenizer), text, row_index)


def _completion(text: str, prompt: str, content: str, tokenizer: Any) -> str:
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    if content not in text:
        raise FormatError(
            f"the chat template of tokenizer {name!r} drops or rewrites the assistant content (some templates strip "
            "thinking from past turns); pass a tokenizer whose template keeps it, or set tokenizer.chat_template."
        )
    if not text.startswith(prompt):
        raise FormatError(
            f"the chat template of tokenizer {name!r} renders the prompt differently with and without the answer, "
            "so the loss mask cannot be placed; use a template whose generation prompt is a prefix of the conversation."
        )
    completion = text[len(prompt) :]
    eos = getattr(tokenizer, "eos_token", None)
    # The template ends the turn with EOS and a newline; trl appends EOS unless the completion ends with it.
    if eos and completion.rstrip().endswith(eos):
        completion = completion.rstrip()
    return completion


def check_tokenizer(tokenizer: Any, think_format: str | ThinkFormat) -> ThinkFormat:
    """Fail early unless ``tokenizer`` has a chat template and knows the format's markers as single tokens."""
    fmt = get_format(think_format)
    if not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise FormatError(
            f"tokenizer {name!r} has no chat template; set tokenizer.chat_template (the s1 recipe uses Qwen2.5's)."
        )
    fmt.bind(tokenizer)
    return fmt


def format_rows(
    rows: Sequence[Mapping[str, Any]],
    tokenizer: Any,
    think_format: str | ThinkFormat = "s1",
    trace_source: str = "auto",
    answer_prefix: str | None = DEFAULT_ANSWER_PREFIX,
) -> list[FormattedExample]:
    """Format every row; the trace source is resolved once, from the first row's columns."""
    if not rows:
        raise DataError("the training data has no rows; pass a file or dataset with at least one example.")
    check_tokenizer(tokenizer, think_format)
    source = resolve_trace_source(rows[0].keys(), trace_source)
    return [
        format_example(row, tokenizer, think_format, source, index, answer_prefix)
        for index, row in enumerate(rows)
    ]
