"""Adaptive voting: majority voting whose samples come in waves, stopping once the leading answer is settled.

Adaptive-Consistency (Aggarwal et al., 2023) and early-stopping self-consistency (Li et al., 2024): instead of
always drawing ``n`` samples, draw ``wave`` at a time (``min_samples`` first) and, after every wave, ask
whether more samples could still change the vote. Easy problems, whose samples agree, stop after a few;
hard ones, whose samples scatter, draw all ``n``. The final answer is majority voting over the samples that
were drawn, with :class:`MajorityVoting`'s extraction, equivalence grouping, rejected-sample rule, weighting and
tie-break, so a run that draws all ``n`` samples aggregates exactly as ``MajorityVoting(n)`` does (and with a
seed, its first k samples are majority voting's first k: seeds follow the sample, not the wave).

Stopping rules, evaluated on the finished samples after each wave (``rule``):

``beta``
    Adaptive-Consistency's Beta criterion. With v1 votes for the leader and v2 for the strongest other outcome,
    the leader's share of the two, p = p1 / (p1 + p2), has the posterior Beta(v1 + 1, v2 + 1) under a uniform
    prior; stop when P(p > 1/2) = I_{1/2}(v2 + 1, v1 + 1) exceeds ``threshold`` (``scipy.special.betainc``:
    closed form, deterministic). Four unanimous votes give 1 - 2^-5 = 0.969 > 0.95.
``dirichlet``
    The probability that the leader has the largest share of all outcomes under Dirichlet(counts + 1).
    Computed exactly, as the one-dimensional integral of the Gamma representation (a Dirichlet vector is
    independent Gamma(alpha_i) variables over their sum): P = integral of gamma_pdf(x; a_L) times the product
    over the other outcomes of gamma_cdf(x; a_j), by adaptive quadrature (deterministic, error < 1e-9).
``window``
    Early-stopping self-consistency: stop when the last ``window`` answers (in sample order) are all equivalent.

The leader is the answer majority voting would return now (``weighting`` and ``tie_break`` included); its votes
are counted one per sample. **Unparseable answers** (and samples an acceptance rule rejected, which do not
vote) form one more outcome, "no answer", in the rules' counts: the leader must beat it as it beats any other
answer (Beta: it is the runner-up when it has more votes than the second answer; Dirichlet: it is one more
component, always present with count + 1, which also stands for the answers not seen yet, so a single
unanimous answer is never "certain" after one wave), and a "no answer" never agrees with anything, itself
included, in the window rule. A problem whose samples answer nothing therefore draws all ``n``.

The aggregation record is majority voting's plus ``samples_drawn``, ``max_samples``, ``stopped_early`` (this
rule stopped the problem), ``rule`` and ``waves``: per wave, the samples drawn so far, the leader and its
votes, the runner-up's votes, the rule's ``value`` (a probability, or the trailing agreement count for
``window``) and whether it was ``settled``. The last wave of a run that drew all ``n`` is evaluated too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import BudgetError, ConfigError
from ..settings import MAX_SAMPLES, setting
from ..state import Aggregation, RunConfig, SampleState
from .majority_voting import MajorityVoting

_RULES = ("beta", "dirichlet", "window")


def beta_leader_probability(leader_votes: float, runner_up_votes: float) -> float:
    """P(p_leader > p_runner_up) when the leader's share of the two is Beta(v1 + 1, v2 + 1) (uniform prior).

    Equals ``1 - I_{1/2}(v1 + 1, v2 + 1) = I_{1/2}(v2 + 1, v1 + 1)``; increases with ``leader_votes`` and
    decreases with ``runner_up_votes``; 1/2 on a tie.
    """
    from scipy.special import betainc

    _check_votes([leader_votes, runner_up_votes])
    return float(betainc(runner_up_votes + 1.0, leader_votes + 1.0, 0.5))


def dirichlet_leader_probability(votes: Sequence[float], leader: int) -> float:
    """P(outcome ``leader`` has the largest share) when the shares are Dirichlet(votes + 1).

    With X_i = G_i / sum(G), G_i ~ Gamma(votes_i + 1) independent, the leader is largest exactly when its G is:
    P = integral over x of gamma_pdf(x; a_L) * prod_{j != L} gamma_cdf(x; a_j), evaluated by adaptive
    quadrature over the range holding all but 1e-15 of the leader's Gamma mass. Deterministic; for two outcomes
    it equals :func:`beta_leader_probability`.
    """
    from scipy import integrate, special

    _check_votes(votes)
    if not 0 <= leader < len(votes):
        raise ConfigError(f"leader index {leader} is outside the {len(votes)} outcomes.")
    others = [float(v) + 1.0 for i, v in enumerate(votes) if i != leader]
    if not others:
        return 1.0
    a = float(votes[leader]) + 1.0
    log_norm = float(special.gammaln(a))

    def integrand(x: float) -> float:
        if x <= 0.0:
            return 0.0
        density = math.exp((a - 1.0) * math.log(x) - x - log_norm)  # the Gamma(a) density
        return density * math.prod(float(special.gammainc(b, x)) for b in others)

    upper = float(special.gammainccinv(a, 1e-15))
    value, _ = integrate.quad(integrand, 0.0, upper, points=[a - 1.0], epsabs=1e-12, epsrel=1e-10, limit=200)
    return min(1.0, max(0.0, value))


def trailing_agreement(labels: Sequence[int | None]) -> int:
    """How many of the last labels equal the very last one (None, "no answer", agrees with nothing)."""
    if not labels or labels[-1] is None:
        return 0
    run = 0
    for label in reversed(labels):
        if label != labels[-1]:
            break
        run += 1
    return run


def _check_votes(votes: Sequence[float]) -> None:
    for v in votes:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:
            raise ConfigError(f"vote counts must be finite numbers >= 0, got {list(votes)!r}.")


@dataclass
class AdaptiveVoting(MajorityVoting):
    """Majority voting over samples drawn in waves until the leader is settled (or ``n`` are drawn)."""

    name = "adaptive_voting"
    summary = "majority voting in waves of samples; stops when the leading answer is settled (Beta, Dirichlet, window)."

    n: int = setting(16, "Most samples per problem.", min=1, max=MAX_SAMPLES, error=BudgetError)
    wave: int = setting(2, "Samples drawn per wave.", min=1, max=MAX_SAMPLES, error=BudgetError)
    min_samples: int | None = setting(None, "Samples before any stop (the first wave); None: wave.", min=1,
                                      max=MAX_SAMPLES, error=BudgetError)
    rule: str = setting("beta", "beta, dirichlet (leader's posterior probability) or window (last answers agree).",
                        choices=_RULES)
    threshold: float = setting(0.95, "beta / dirichlet: stop when the leader's probability exceeds this.", above=0.5, max=1)
    window: int = setting(4, "window: stop when this many last answers agree.", min=2, max=MAX_SAMPLES)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._waves: dict[int, list[dict[str, Any]]] = {}

    def validate(self) -> None:
        if self.wave > self.n:
            raise BudgetError(f"adaptive_voting.wave ({self.wave}) is larger than n ({self.n}); lower wave or raise n.")
        if self.min_samples is not None and self.min_samples > self.n:
            raise BudgetError(
                f"adaptive_voting.min_samples ({self.min_samples}) is larger than n ({self.n}); lower it or raise n."
            )
        if self.rule != "window" and self.threshold >= 1:
            raise ConfigError("adaptive_voting.threshold must be below 1 (a probability never reaches 1, so it would "
                              "never stop); use majority_voting to always draw n samples.")
        if self.rule == "window" and self.window > self.n:
            raise ConfigError(f"adaptive_voting.window ({self.window}) is larger than n ({self.n}), so it could never "
                              f"stop; lower window or raise n.")

    @property
    def first_wave(self) -> int:
        """Samples of the first wave: ``min_samples``, else ``wave``."""
        return self.wave if self.min_samples is None else self.min_samples

    def claims(self) -> dict[str, str]:
        return {"aggregation": f"votes over up to {self.n} samples per problem, drawn {self.wave} at a time until "
                               f"the leader is settled"}

    def tts_configure(self, config: RunConfig) -> None:
        super().tts_configure(config)
        config.wave_size = self.wave
        config.first_wave_size = self.first_wave
        self._waves = {}

    def tts_wave_end(self, problem_index: int, samples: list[SampleState], config: RunConfig) -> bool | None:
        wave = self._evaluate(problem_index, samples, config)
        self._waves.setdefault(problem_index, []).append(wave)
        return False if wave["settled"] else None

    def tts_aggregate(self, problem_index: int, samples: list[SampleState], config: RunConfig) -> Aggregation:
        waves = self._waves.pop(problem_index, [])
        stopped = bool(waves) and waves[-1]["settled"] and waves[-1]["samples"] == len(samples)
        if not waves or waves[-1]["samples"] != len(samples):  # the last wave: no tts_wave_end after it
            waves.append(self._evaluate(problem_index, samples, config))
        aggregation = super().tts_aggregate(problem_index, samples, config)
        details = dict(aggregation.details)
        details.update({"samples_drawn": len({s.sample_index for s in samples}), "max_samples": self.n,
                        "stopped_early": stopped, "rule": self.rule, "waves": waves})
        return Aggregation(answer=aggregation.answer, details=details)

    def _evaluate(self, problem_index: int, samples: list[SampleState], config: RunConfig) -> dict[str, Any]:
        """The stopping rule on the finished samples: majority voting's tally, then the rule's value."""
        tally = super().tts_aggregate(problem_index, samples, config).details
        groups = tally["groups"]
        wave: dict[str, Any] = {"samples": len(samples), "leader": None, "leader_votes": 0, "runner_up_votes": 0,
                                "no_answer_votes": len(samples) - sum(g["count"] for g in groups)}
        if groups:
            leader = tally["winner"]
            counts = [g["count"] for g in groups]
            others = counts[:leader] + counts[leader + 1 :] + [wave["no_answer_votes"]]
            wave.update(leader=groups[leader]["answer"], leader_votes=counts[leader], runner_up_votes=max(others))
        wave["value"] = self._value(samples, tally, wave)
        enough = len(samples) >= self.first_wave
        if self.rule == "window":
            wave["settled"] = enough and wave["value"] >= self.window
        else:
            wave["settled"] = enough and wave["value"] > self.threshold
        return wave

    def _value(self, samples: list[SampleState], tally: dict[str, Any], wave: dict[str, Any]) -> float:
        groups = tally["groups"]
        if self.rule == "window":
            label = {i: g for g, group in enumerate(groups) for i in group["sample_indices"]}
            return float(trailing_agreement([label.get(s.sample_index) for s in samples]))
        if not groups:
            return 0.0
        if self.rule == "beta":
            return beta_leader_probability(wave["leader_votes"], wave["runner_up_votes"])
        return dirichlet_leader_probability([g["count"] for g in groups] + [wave["no_answer_votes"]], tally["winner"])


def tts_register_strategies(register) -> None:  # type: ignore[no-untyped-def]
    """Entry-point hook: make ``adaptive_voting`` selectable by name."""
    register(AdaptiveVoting)
