"""Per-token top-k log-probabilities, stored as two arrays rather than JSON floats per token.

Confidence-based strategies (DeepConf) need, for every generated token, the log-probabilities of the k most
likely tokens at that position. A trace of 30,000 tokens with k = 20 is 600,000 numbers: as Python floats in
JSON that is tens of megabytes per sample; as a float32 array it is 2.4 MB, and it travels base64-encoded.

Rows are aligned with a sample's token stream (``SampleState.token_ids``). Rows of injected tokens (a forced
"Wait", the answer delimiter, forced answer text) have token id ``-1`` and log-probability NaN: the model did
not choose them. Columns are sorted by descending log-probability. The numbers are those of the model's own
distribution (before temperature, top-p or a min-tokens mask), as vLLM's default ``raw_logprobs`` reports them.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The most top log-probabilities per token an engine returns unless it says otherwise (vLLM's default
#: ``max_logprobs``; OpenAI's API allows 20 too).
DEFAULT_MAX_TOP_LOGPROBS = 20


@dataclass
class TopLogprobs:
    """The top-k log-probabilities of a stretch of tokens.

    Attributes:
        token_ids: int32 array of shape (n, k): the k most likely token ids at each position (-1: injected).
        logprobs: float32 array of shape (n, k): their log-probabilities, descending (NaN: injected).
    """

    token_ids: np.ndarray
    logprobs: np.ndarray
    _chunks: list[TopLogprobs] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.token_ids = np.asarray(self.token_ids, dtype=np.int32)
        self.logprobs = np.asarray(self.logprobs, dtype=np.float32)
        if self.token_ids.ndim != 2 or self.token_ids.shape != self.logprobs.shape:
            raise ValueError(f"top log-probabilities need two (n, k) arrays, got {self.token_ids.shape} and {self.logprobs.shape}")

    @classmethod
    def empty(cls, k: int) -> TopLogprobs:
        """No rows yet, k columns."""
        return cls(np.zeros((0, k), np.int32), np.zeros((0, k), np.float32))

    @classmethod
    def injected(cls, n: int, k: int) -> TopLogprobs:
        """``n`` rows for tokens the model did not choose (id -1, NaN)."""
        return cls(np.full((n, k), -1, np.int32), np.full((n, k), np.nan, np.float32))

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[tuple[int, float]]], k: int) -> TopLogprobs:
        """From per-token lists of ``(token_id, logprob)`` (any order); each row keeps its k best, padded with NaN."""
        ids = np.full((len(rows), k), -1, np.int32)
        values = np.full((len(rows), k), np.nan, np.float32)
        for i, row in enumerate(rows):
            best = sorted(row, key=lambda pair: -pair[1])[:k]
            for j, (token, value) in enumerate(best):
                ids[i, j], values[i, j] = token, value
        return cls(ids, values)

    @property
    def k(self) -> int:
        """Log-probabilities kept per token."""
        self._flush()
        return int(self.token_ids.shape[1])

    def __len__(self) -> int:
        self._flush()
        return int(self.token_ids.shape[0])

    def extend(self, other: TopLogprobs) -> None:
        """Append ``other``'s rows (concatenated lazily, so a sample growing by many segments stays linear)."""
        if other.k != self.k:
            raise ValueError(f"cannot append top-{other.k} log-probabilities to top-{self.k} ones")
        self._chunks.append(other)

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows."""
        self._flush()
        self.token_ids, self.logprobs = self.token_ids[:n], self.logprobs[:n]

    def _flush(self) -> None:
        if self._chunks:
            chunks, self._chunks = self._chunks, []
            self.token_ids = np.concatenate([self.token_ids] + [c.token_ids for c in chunks])
            self.logprobs = np.concatenate([self.logprobs] + [c.logprobs for c in chunks])

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(token_ids, logprobs)`` with every appended row."""
        self._flush()
        return self.token_ids, self.logprobs

    def __deepcopy__(self, memo: dict[int, Any]) -> TopLogprobs:
        ids, values = self.arrays()
        return TopLogprobs(ids.copy(), values.copy())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TopLogprobs):
            return NotImplemented
        a, b = self.arrays(), other.arrays()
        return bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1], equal_nan=True))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly and compact: the two arrays as base64 of their little-endian bytes."""
        ids, values = self.arrays()
        return {
            "shape": list(ids.shape),
            "token_ids": base64.b64encode(ids.astype("<i4").tobytes()).decode("ascii"),
            "logprobs": base64.b64encode(values.astype("<f4").tobytes()).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopLogprobs:
        """The inverse of :meth:`to_dict`."""
        shape = tuple(int(x) for x in data["shape"])
        ids = np.frombuffer(base64.b64decode(data["token_ids"]), dtype="<i4").reshape(shape)
        values = np.frombuffer(base64.b64decode(data["logprobs"]), dtype="<f4").reshape(shape)
        return cls(ids.astype(np.int32), values.astype(np.float32))
