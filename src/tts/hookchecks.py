"""What each hook may return, checked where a plugin returns it.

:class:`tts.plugins.TTSPluginManager` runs the check of a hook on every non-None result of every
implementation, so a plugin that returns ``SegmentLimits(max_tokens=-5)`` or ``Inject(text=12)`` is named
at once instead of breaking the loop three calls later. Each check returns ``""`` when the value is fine,
else the end of a sentence saying what to return instead. Hooks without a check here return nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from .state import Aggregation, Continue, EndThinking, Finish, Fork, Inject, Probe, Reject, SegmentLimits

Check = Callable[[object], str]


def _is_int(value: object, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _strings(values: object) -> bool:
    return isinstance(values, (tuple, list)) and all(isinstance(v, str) and v for v in values)


def check_limits(limits: object) -> str:
    """``tts_segment_params``: a :class:`SegmentLimits` with counts >= 0 and well-typed stops."""
    if not isinstance(limits, SegmentLimits):
        return "return a tts.state.SegmentLimits or None"
    if limits.max_tokens is not None and not _is_int(limits.max_tokens):
        return "max_tokens must be None or an integer >= 0"
    if not _is_int(limits.min_tokens):
        return "min_tokens must be an integer >= 0"
    for name in ("stop", "end_thinking_stop"):
        if not _strings(getattr(limits, name)):
            return f"{name} must be a tuple of non-empty strings"
    for name in ("stop_token_ids", "allow_token_ids"):
        values = getattr(limits, name)
        if not isinstance(values, (tuple, list)) or not all(_is_int(v) for v in values):
            return f"{name} must be a tuple of token ids (integers >= 0)"
    return ""


def check_decision(decision: object, *, nested: bool = False) -> str:
    """``tts_segment_end``: one of the decisions of :mod:`tts.state`, with fields of the right types."""
    if isinstance(decision, (Continue, Finish, Reject)):
        return "" if isinstance(decision.reason, str) else "its reason must be a string"
    if isinstance(decision, Inject):
        return "" if isinstance(decision.text, str) else "Inject.text must be a string"
    if isinstance(decision, EndThinking):
        if decision.forced_text is None or isinstance(decision.forced_text, str):
            return ""
        return "EndThinking.forced_text must be a string or None"
    if isinstance(decision, Fork) and not nested:
        return _check_fork(decision)
    if isinstance(decision, Probe) and not nested:
        return _check_probe(decision)
    return "return a Decision (Continue, Inject, EndThinking, Finish, Reject, Fork, Probe) or None"


def _check_probe(probe: Probe) -> str:
    if probe.text is not None and not isinstance(probe.text, str):
        return "Probe.text must be a string or None"
    if isinstance(probe.max_tokens, bool) or not isinstance(probe.max_tokens, int) or probe.max_tokens < 1:
        return "Probe.max_tokens must be an integer >= 1"
    if not isinstance(probe.stop, tuple) or not all(isinstance(x, str) and x for x in probe.stop):
        return "Probe.stop must be a tuple of non-empty strings"
    if isinstance(probe.temperature, bool) or not isinstance(probe.temperature, (int, float)) or not 0 <= probe.temperature < float("inf"):
        return "Probe.temperature must be a finite number >= 0"
    return "" if isinstance(probe.label, str) and probe.label else "Probe.label must be a non-empty string"


def _check_fork(fork: Fork) -> str:
    if not isinstance(fork.branches, (tuple, list)) or len(fork.branches) < 2:
        return "Fork.branches must hold at least two (label, decision) pairs"
    labels = []
    for pair in fork.branches:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not isinstance(pair[0], str) or not pair[0]:
            return "each Fork branch must be a (non-empty label, decision) pair"
        if isinstance(pair[1], (Fork, Reject, Probe)):
            return "a Fork branch cannot itself fork, reject or probe; decide that in the branch's next segment"
        problem = check_decision(pair[1], nested=True)
        if problem:
            return f"branch {pair[0]!r}: {problem}"
        labels.append(pair[0])
    return "" if len(set(labels)) == len(labels) else "Fork branch labels must be distinct"


def check_accept(verdict: object) -> str:
    """``tts_accept_sample``: True, False or None."""
    return "" if isinstance(verdict, bool) else "return True, False or None"


def check_aggregation(aggregation: object) -> str:
    """``tts_aggregate``: an :class:`Aggregation` whose answer is a string or None and details a dict."""
    if not isinstance(aggregation, Aggregation):
        return "return a tts.state.Aggregation or None"
    if aggregation.answer is not None and not isinstance(aggregation.answer, str):
        return "Aggregation.answer must be a string or None"
    return "" if isinstance(aggregation.details, dict) else "Aggregation.details must be a dict"


RESULT_CHECKS: dict[str, Check] = {
    "tts_segment_params": check_limits,
    "tts_segment_end": check_decision,
    "tts_probe_end": check_decision,
    "tts_accept_sample": check_accept,
    "tts_wave_end": check_accept,
    "tts_aggregate": check_aggregation,
}
