"""DeepConf's confidence measures (Fu et al., 2025, "Deep Think with Confidence", arXiv 2508.15260), as pure functions.

DeepConf scores a reasoning trace by how peaked the model's next-token distributions were while it wrote it,
from the top-k log-probabilities an engine returns (:class:`tts.logprobs.TopLogprobs`, k = 20 in the paper):

- **token confidence**: ``C_i = -(1/k) * sum_{j=1..k} log P_i(j)`` over the k most likely tokens at
  position i. A peaked distribution puts little mass on the runners-up, their log-probabilities are very
  negative, and C_i is large; a flat one gives a small C_i. As a function of the k numbers, C_i never
  decreases when one of them is lowered (and the others are held fixed).
- **average trace confidence** (after Kang et al.'s self-certainty): the mean of C_i over the trace (``"mean"``).
- **group confidence**: the mean of C_i over a sliding window of ``window`` consecutive tokens
  (2048 in the paper); windows overlap, one per end position once the window is full.
- **trace scores** from the groups: the lowest group (``"lowest_group"``, what the online method
  watches), the mean of the bottom 10% of groups (``"bottom"``), the mean of the last ``tail`` tokens
  (``"tail"``, 2048 in the paper).
- **filtering and voting** (offline): keep the top eta% of traces by score (eta = 10 or 90) and vote with each
  trace's score as its weight.
- **online**: score ``N_init`` warm-up traces (16 in the paper) by their lowest group confidence and set
  the threshold at the (100 - eta)-th percentile of those scores; a later trace stops as soon as one of its
  group confidences falls below it.

Injected tokens (a forced "Wait", the answer delimiter, forced answer text) were not chosen by the model: their
rows hold NaN and every measure here skips them, so a trace's scores are those of its model-chosen tokens
alone, as if the injected rows were not there (the reference implementation only ever sees generated tokens).

Everything here is numpy on plain arrays, O(n) per trace (windows by cumulative sums), and raises
:class:`tts.errors.ConfigError` with one line for input it cannot use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .answers import Equivalence, Grouping, group_answers_within
from .errors import ConfigError, did_you_mean

#: The paper's group size (sliding window) and tail length, in tokens.
DEFAULT_WINDOW = 2048
DEFAULT_TAIL = 2048
#: The paper's bottom-10% group confidence.
DEFAULT_BOTTOM_FRACTION = 0.1
#: Trace scores :func:`trace_confidence` computes.
METHODS = ("mean", "tail", "lowest_group", "bottom")


def _logprob_array(top_logprobs: Any) -> np.ndarray:
    """The (n, k) log-probabilities of a :class:`~tts.logprobs.TopLogprobs` or of an array, as float64."""
    if hasattr(top_logprobs, "arrays"):
        top_logprobs = top_logprobs.arrays()[1]
    values = np.asarray(top_logprobs, dtype=np.float64)
    if values.ndim != 2:
        raise ConfigError(f"token confidence needs an (n, k) array of top-k log-probabilities, got shape {values.shape}.")
    if values.shape[1] == 0:
        raise ConfigError("token confidence needs k >= 1 top log-probabilities per token, got k = 0; ask the engine for some.")
    if np.isinf(values).any():
        raise ConfigError("top log-probabilities must be finite (NaN for injected tokens); got an infinite one.")
    return values


def token_confidence(top_logprobs: Any) -> np.ndarray:
    """Token confidence ``C_i = -(1/k) sum_j log P_i(j)`` (DeepConf's token confidence) for every row; NaN for injected rows.

    Args:
        top_logprobs: a :class:`tts.logprobs.TopLogprobs`, or its float (n, k) ``logprobs`` array.

    Returns:
        float64 array of shape (n,). A row that is NaN throughout (an injected token) gives NaN. A row with only
        some NaN entries (an engine that returned fewer than k alternatives) averages the ones it has.

    C_i is non-increasing in every top-k log-probability: lowering one of them, the others fixed, raises C_i or
    leaves it unchanged. Higher C_i means a more peaked, more confident distribution.
    """
    values = _logprob_array(top_logprobs)
    present = ~np.isnan(values)
    counts = present.sum(axis=1)
    sums = np.where(present, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = -sums / counts
    out[counts == 0] = np.nan
    return out


def _check_window(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a whole number of tokens >= 1, got {value!r}.")
    return int(value)


def _finite_confidences(token_conf: Any) -> np.ndarray:
    values = np.asarray(token_conf, dtype=np.float64)
    if values.ndim != 1:
        raise ConfigError(f"token confidences must be a 1-D array (one per token), got shape {values.shape}.")
    if np.isinf(values).any():
        raise ConfigError("token confidences must be finite (NaN for injected tokens); got an infinite one.")
    return values


def group_confidence(token_conf: Any, window: int = DEFAULT_WINDOW) -> np.ndarray:
    """Group confidences (DeepConf's sliding-window groups): the mean token confidence of every window of ``window`` tokens.

    NaN entries (injected tokens) are dropped first, so a group is always ``window`` model-chosen tokens. With
    m such tokens there are ``m - window + 1`` overlapping groups, group j covering tokens j .. j + window - 1
    (its last token is at stream position ``group_end_positions(token_conf, window)[j]``); a trace shorter than
    the window gives one group, the mean of all its tokens; a trace with no model-chosen token gives none.

    O(n) through cumulative sums (float64), whatever the window. To watch a growing trace online, pass only its
    last ``new + window - 1`` confidences to get the groups that end at the ``new`` latest tokens.
    """
    window = _check_window("the group window", window)
    values = _finite_confidences(token_conf)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return np.zeros(0)
    if values.size <= window:
        return np.array([values.mean()])
    sums = np.concatenate(([0.0], np.cumsum(values)))
    return (sums[window:] - sums[:-window]) / window


def group_end_positions(token_conf: Any, window: int = DEFAULT_WINDOW) -> np.ndarray:
    """The stream position (index into ``token_conf``) of the last token of each group of :func:`group_confidence`.

    An online stopping rule uses it to tell which groups are new since its last look, and where a trace dipped.
    """
    window = _check_window("the group window", window)
    chosen = np.flatnonzero(~np.isnan(_finite_confidences(token_conf)))
    if chosen.size == 0:
        return np.zeros(0, dtype=np.int64)
    return chosen[-1:] if chosen.size <= window else chosen[window - 1 :]


def trace_confidence(token_conf: Any, method: str = "lowest_group", *, window: int = DEFAULT_WINDOW,
                     tail: int = DEFAULT_TAIL, bottom_fraction: float = DEFAULT_BOTTOM_FRACTION) -> float:
    """One trace's confidence score; higher means more confident. NaN when the trace has no model-chosen token.

    Methods (DeepConf's confidence measurements; injected tokens are skipped throughout):

    - ``"mean"``: average trace confidence, the mean token confidence;
    - ``"tail"``: the mean of the last ``tail`` tokens (tail confidence); all of them when the trace is shorter;
    - ``"lowest_group"``: the minimum group confidence over windows of ``window`` tokens;
    - ``"bottom"``: the mean of the lowest ``bottom_fraction`` of the group confidences (the paper's
      bottom-10% group confidence): ``max(1, floor(groups * bottom_fraction))`` groups, as the reference implementation counts.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown trace confidence {method!r}{did_you_mean(method, METHODS)}; "
                          f"choose one of {', '.join(METHODS)}.")
    window = _check_window("the group window", window)
    tail = _check_window("the tail length", tail)
    if isinstance(bottom_fraction, bool) or not isinstance(bottom_fraction, (int, float)) or not 0 < bottom_fraction <= 1:
        raise ConfigError(f"bottom_fraction must be a share in (0, 1] (0.1 is the paper's bottom 10%), got {bottom_fraction!r}.")
    values = _finite_confidences(token_conf)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan
    if method == "mean":
        return float(values.mean())
    if method == "tail":
        return float(values[-tail:].mean())
    groups = group_confidence(values, window)
    if method == "lowest_group":
        return float(groups.min())
    # A tiny epsilon keeps 0.3 * 10 (2.9999999999999996 in floats) from flooring to 2.
    count = max(1, math.floor(groups.size * bottom_fraction + 1e-9))
    return float(np.partition(groups, count - 1)[:count].mean())


def _check_percent(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 <= float(value) <= 100 or math.isnan(float(value)):
        raise ConfigError(f"{name} must be a percentage from 0 to 100, got {value!r}.")
    return float(value)


def warmup_threshold(scores: Sequence[float], keep_percent: float) -> float:
    """DeepConf-online's stopping threshold: the (100 - keep_percent)-th percentile of the warm-up traces' scores.

    DeepConf-low keeps the most confident 10% (``keep_percent=10`` -> the 90th percentile), DeepConf-high keeps
    90% (-> the 10th percentile). Later traces whose score (in the paper: lowest group confidence) would fall
    below the threshold are stopped.

    The percentile is numpy's default, ``method="linear"`` (Hyndman & Fan type 7): with the n finite scores
    sorted ascending, ``q = 100 - keep_percent`` sits at index ``h = (n - 1) * q / 100`` and the threshold is
    ``s[floor(h)] + (h - floor(h)) * (s[floor(h) + 1] - s[floor(h)])``. It is the convention of DeepConf's reference
    implementation (``np.percentile(warmup_min_confs, 90)``), so thresholds match the paper's code exactly. With
    it, the warm-up scores strictly above the threshold number at most ``ceil((n - 1) * keep_percent / 100)``
    and those at or above it at least ``floor((n - 1) * keep_percent / 100) + 1``: the kept share is
    keep_percent of the n - 1 gaps, which for 16 warm-up traces at 90% keeps 14, not 15 (use :func:`keep_top`
    for an exact count). NaN scores (traces with no model-chosen token) are left out.
    """
    keep = _check_percent("keep_percent", keep_percent)
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ConfigError("warmup_threshold needs at least one warm-up trace with a confidence score; run warm-up traces first.")
    return float(np.percentile(values, 100.0 - keep))


def keep_top(scores: Sequence[float], keep_percent: float) -> list[int]:
    """Indices (ascending) of the most confident ``keep_percent``% of traces (DeepConf's offline filtering).

    Exactly ``max(1, ceil(n * keep_percent / 100))`` traces are kept: at least the stated share, and at least one.
    Ranking is by score descending; a tie goes to the earlier trace, so the result never depends on anything
    but the scores' order; NaN scores rank last. (The reference implementation instead keeps every trace at or
    above the percentile threshold, which keeps all tied traces and, for 16 traces at 90%, 14 of them.)
    """
    keep = _check_percent("keep_percent", keep_percent)
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if values.size == 0:
        return []
    count = max(1, math.ceil(values.size * keep / 100))
    missing = np.isnan(values)
    ranked = sorted(range(values.size), key=lambda i: (bool(missing[i]), 0.0 if missing[i] else -values[i], i))
    return sorted(ranked[:count])


@dataclass(frozen=True)
class WeightedVote:
    """The outcome of :func:`weighted_vote`.

    Attributes:
        answer: The winning group's answer (as its first member wrote it), or None when nobody voted.
        winner: Index of the winning group in ``groups``, or None.
        groups: Indices of the answers in each group of equivalent answers, in order of first appearance.
        weights: Total weight of each group, aligned with ``groups``.
        share: The winner's weight over all weight cast (DeepConf-online's consensus ratio beta); 0.0 when no
            weight was cast (no votes, or only zero weights, where the first group seen wins).
        grouping: The underlying :class:`tts.answers.Grouping` (comparisons that were too slow, time limit hit).
    """

    answer: str | None
    winner: int | None
    groups: list[list[int]]
    weights: list[float]
    share: float
    grouping: Grouping


def weighted_vote(answers: Sequence[str | None], weights: Sequence[float], *, equivalent: Equivalence | None = None,
                  time_limit: float | None = None) -> WeightedVote:
    """Confidence-weighted majority vote (DeepConf's voting): ``V(a) = sum of w_t over traces t answering a``.

    Equivalent answers form one group through :func:`tts.answers.group_answers_within` (``equivalent`` and
    ``time_limit`` are passed on; default: math-verify when installed). A None answer, or a NaN weight (a trace
    with no confidence), casts no vote. The heaviest group wins; a tie goes to the group seen first, as in
    :class:`tts.strategies.MajorityVoting`. Weights must be >= 0 (confidences are).
    """
    if len(answers) != len(weights):
        raise ConfigError(f"weighted_vote got {len(answers)} answers and {len(weights)} weights; pass one weight per answer.")
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if (w < 0).any() or np.isinf(w).any():
        raise ConfigError("vote weights must be finite and >= 0 (a confidence); got a negative or infinite one.")
    voting = [a if not math.isnan(w[i]) else None for i, a in enumerate(answers)]
    grouping = group_answers_within(voting, equivalent, time_limit=time_limit)
    totals = [float(sum(w[i] for i in group)) for group in grouping.groups]
    if not totals:
        return WeightedVote(None, None, [], [], 0.0, grouping)
    winner = max(range(len(totals)), key=lambda g: (totals[g], -g))
    cast = sum(totals)
    answer = answers[grouping.groups[winner][0]]
    return WeightedVote(answer, winner, grouping.groups, totals, totals[winner] / cast if cast > 0 else 0.0, grouping)


__all__ = [
    "DEFAULT_BOTTOM_FRACTION", "DEFAULT_TAIL", "DEFAULT_WINDOW", "METHODS", "WeightedVote", "group_confidence",
    "group_end_positions", "keep_top", "token_confidence", "trace_confidence", "warmup_threshold", "weighted_vote",
]
