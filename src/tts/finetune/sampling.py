"""Drawing the final examples from the filtered pool: s1's algorithm and the paper's ablations.

s1 (paper §2, Algorithm 1): until the target size is reached, pick a domain uniformly at random, rank
its remaining questions by trace length (longest = rank 0), draw one with probability proportional to
2^-rank, remove it, and drop the domain once it is empty. Questions a ``preselect`` predicate marks
(the paper: correct AIME/GPQA items and long MATH items) are taken first.

Ablations of the paper's Table 2: ``random`` (uniform over the pool), ``diverse`` (uniform domain, then
uniform question: diversity without the length signal), ``longest`` (the longest traces overall).

Every sampler is deterministic for a given seed: domains are visited in sorted order and ties in length
are broken by position in the pool.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import ConfigError, DataError, did_you_mean

Row = dict[str, Any]

#: 2^-rank weights beyond this rank are below the float resolution of their running sum (2 - 2^-63 == 2.0),
#: so ``random.choices`` can never pick them: cutting the list here changes no draw and keeps each pick O(1).
_MAX_RANK = 64


def rank_weights(n: int) -> list[float]:
    """Weights 2^-rank for ranks 0..n-1 (rank 0 = longest trace), cut where they stop mattering."""
    return [2.0**-rank for rank in range(min(n, _MAX_RANK))]


def _check(rows: Sequence[Row], target: int, keys: Sequence[str]) -> None:
    if isinstance(target, bool) or not isinstance(target, int) or target < 1:
        raise ConfigError(f"target size must be a positive integer, got {target!r}.")
    for index, row in enumerate(rows):
        for key in keys:
            if key not in row or row[key] is None:
                raise DataError(
                    f"row {index} has no {key!r}{did_you_mean(key, row)}; run the stage that adds it "
                    "(trace lengths or domain labels) before sampling."
                )


def _by_domain(rows: Sequence[Row], domain_key: str, length_key: str | None) -> dict[str, list[int]]:
    """Row indices per domain, longest trace first when ``length_key`` is given."""
    domains: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        domains.setdefault(str(row[domain_key]), []).append(index)
    if length_key is not None:
        for members in domains.values():
            members.sort(key=lambda i: (-rows[i][length_key], i))
    return {name: domains[name] for name in sorted(domains)}


def s1_sample(
    rows: Sequence[Row],
    target: int,
    seed: int = 0,
    *,
    domain_key: str = "domain",
    length_key: str = "trace_tokens",
    preselect: Callable[[Row], bool] | None = None,
) -> list[Row]:
    """s1's selection: uniform domain, then a question drawn with probability ∝ 2^-rank of its trace length.

    Returns ``min(target, len(rows))`` distinct rows: pre-selected ones first, then in draw order.
    """
    _check(rows, target, (domain_key, length_key))
    picked = [i for i, row in enumerate(rows) if preselect is not None and preselect(row)][:target]
    taken = set(picked)
    pool = [i for i in range(len(rows)) if i not in taken]
    domains = _by_domain([rows[i] for i in pool], domain_key, length_key)
    rng = random.Random(seed)
    while len(picked) < target and domains:
        name = rng.choice(list(domains))
        members = domains[name]
        rank = rng.choices(range(min(len(members), _MAX_RANK)), weights=rank_weights(len(members)))[0]
        picked.append(pool[members.pop(rank)])
        if not members:
            del domains[name]  # an empty domain can no longer be picked
    return [rows[i] for i in picked]


def diverse_sample(
    rows: Sequence[Row], target: int, seed: int = 0, *, domain_key: str = "domain"
) -> list[Row]:
    """Ablation: uniform domain, then a uniformly random question of it (no length signal)."""
    _check(rows, target, (domain_key,))
    domains = _by_domain(rows, domain_key, None)
    rng = random.Random(seed)
    picked: list[int] = []
    while len(picked) < target and domains:
        name = rng.choice(list(domains))
        members = domains[name]
        picked.append(members.pop(rng.randrange(len(members))))
        if not members:
            del domains[name]
    return [rows[i] for i in picked]


def random_sample(rows: Sequence[Row], target: int, seed: int = 0) -> list[Row]:
    """Ablation: ``target`` questions uniformly at random from the pool."""
    _check(rows, target, ())
    return [rows[i] for i in random.Random(seed).sample(range(len(rows)), min(target, len(rows)))]


def longest_sample(
    rows: Sequence[Row], target: int, seed: int = 0, *, length_key: str = "trace_tokens"
) -> list[Row]:
    """Ablation: the ``target`` questions with the longest traces (``seed`` is unused; ties keep pool order)."""
    _check(rows, target, (length_key,))
    order = sorted(range(len(rows)), key=lambda i: (-rows[i][length_key], i))
    return [rows[i] for i in order[:target]]


SAMPLERS: Mapping[str, Callable[..., list[Row]]] = {
    "s1": s1_sample,
    "random": random_sample,
    "diverse": diverse_sample,
    "longest": longest_sample,
}


def get_sampler(method: str) -> Callable[..., list[Row]]:
    """Return the sampler called ``method`` (``s1``, ``random``, ``diverse`` or ``longest``)."""
    if method not in SAMPLERS:
        raise ConfigError(
            f"unknown selection method {method!r}{did_you_mean(method, SAMPLERS)}; use one of {sorted(SAMPLERS)}."
        )
    return SAMPLERS[method]
