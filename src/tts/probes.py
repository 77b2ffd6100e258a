"""Probes: side completions from a sample's current stream that never enter it.

Certainty probing (Dynasor-CoT) asks a thinking model "what is your answer now?" every few hundred tokens
and stops thinking once the answers agree. A probe is a branch of the sample (:class:`~tts.state.Fork`'s
machinery: the engine's ``fork`` shares the prefix's KV cache on HF; vLLM and servers find the prefix in
their prefix cache, and a probe's key is pinned to its origin's server), extended by the probe text and
generated for a few tokens in the answer phase's stop set. Its result is appended to ``sample.probes`` and
the branch is released at once: the sample's stream, log-probabilities and strategy state are untouched, so
a greedy run with probes produces exactly the tokens of a run without them.

The decoding loop (:mod:`tts.loop`) schedules probe requests next to ordinary segments and calls
``tts_probe_end`` with each result; this module plans the requests and records the results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .engines.base import SegmentOutput, SegmentRequest
from .errors import StrategyError
from .records import Event
from .state import Probe, ProbeResult, RunConfig, SampleState, Segment

#: What a probe asks for when the strategy gives no text: budget forcing's forced-answer opening.
DEFAULT_PROBE_ANSWER = "Final Answer:"


@dataclass
class ProbeJob:
    """A probe decided for ``sample`` after ``segment``, by strategy ``who``, waiting to be generated."""

    sample: SampleState
    probe: Probe
    segment: Segment
    who: str | None
    key: str
    prompt_token_ids: list[int]


class Probes:
    """Plans probe requests for one run and records what they produced.

    Args:
        config: The run's settings (format, context length, seed, top-p/top-k).
        fork_engine: The engine's ``fork(src_key, dst_key)``, if it has one (HF: share the KV cache).
        emit: Records an event on a sample.
    """

    def __init__(self, config: RunConfig, fork_engine: Callable[[str, str], None] | None,
                 emit: Callable[[SampleState, Event], None]) -> None:
        self.config = config
        self.fork_engine = fork_engine
        self.emit = emit
        #: Engine keys of probes in flight (released when they finish, or when the run ends).
        self.live: set[str] = set()

    def job(self, sample: SampleState, segment: Segment, probe: Probe, who: str | None) -> ProbeJob:
        """A probe of ``sample``'s current stream; refused outside thinking (an answer cannot be probed)."""
        if sample.phase != "thinking":
            raise StrategyError(f"strategy {who!r} asked to probe sample {sample.key} in the {sample.phase} phase; "
                                f"probe only while thinking.")
        text = probe.text if probe.text is not None else self.default_text(sample)
        key = f"{sample.key}/probe{len(sample.probes) + 1}.{sample.stalled}"
        return ProbeJob(sample, probe, segment, who, key, self.config.format.encode(text))

    def default_text(self, sample: SampleState) -> str:
        """The format's forced-answer opening, as budget forcing appends it when it cuts thinking."""
        fmt = self.config.format
        tail = fmt.decode((sample.prompt_token_ids + sample.token_ids)[-1:])
        newline = "" if tail.endswith("\n") else "\n"
        return newline + fmt.format.answer_delimiter + fmt.format.forced_separator + DEFAULT_PROBE_ANSWER

    def request(self, job: ProbeJob) -> SegmentRequest | None:
        """The engine request of ``job``, sharing the sample's prefix; None when the context leaves no room."""
        sample, probe, config = job.sample, job.probe, self.config
        token_ids = sample.prompt_token_ids + sample.token_ids + job.prompt_token_ids
        max_tokens = min(probe.max_tokens, config.context_length - len(token_ids))
        if max_tokens < 1:
            return None
        if self.fork_engine is not None:
            self.fork_engine(sample.key, job.key)
        self.live.add(job.key)
        seed = None
        if probe.temperature > 0 and config.seed is not None:
            from .loop import sample_seed

            base = sample_seed(config.seed, sample) or 0
            seed = (base * 1_000_003 + len(sample.token_ids) * 7_919 + len(sample.probes)) % (2**63)
        return SegmentRequest(
            key=job.key,
            token_ids=token_ids,
            max_tokens=max_tokens,
            stop_token_ids=tuple(config.format.answer_stop_ids),
            stop=tuple(probe.stop),
            temperature=float(probe.temperature),
            top_p=config.top_p,
            top_k=config.top_k,
            seed=seed,
            keep_cache=False,  # released as soon as it returns: no cache worth storing
        )

    def record(self, job: ProbeJob, output: SegmentOutput) -> ProbeResult:
        """Append the probe's result to its sample and emit a ``"probe"`` event (the stream is not touched)."""
        self.live.discard(job.key)
        fmt, sample = self.config.format, job.sample
        text = fmt.decode(list(output.token_ids))
        result = ProbeResult(
            position=len(sample.token_ids), label=job.probe.label, strategy=job.who,
            prompt_token_ids=list(job.prompt_token_ids), token_ids=list(output.token_ids), text=text,
            finish_reason=output.finish_reason,
        )
        sample.probes.append(result)
        self.emit(sample, Event("probe", result.position, result.token_ids, text, job.probe.reason or job.probe.label,
                                job.who, sample.phase))
        return result
