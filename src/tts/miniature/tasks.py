"""The miniature's task family: chained one-digit arithmetic whose difficulty is the number of steps.

Two domains, each a chain of single steps that a 3M-parameter model learns in minutes (MINIATURE_FACTS):

* ``sum`` — "What is 3 + 9 + 8 + 7?": add one-digit terms left to right (``3 + 9 = 12``, ``12 + 8 = 20``, …);
* ``difference`` — "What is 41 - 3 - 9 - 8?": subtract one-digit terms from a two-digit start, never below 0.

A problem has 1 to :data:`MAX_STEPS` steps. Longer chains need more thinking: every step is one more chance
to slip, and the model cannot add many terms in one go (it is not taught to).

Splits are drawn from independent seeds and made disjoint by question text: the held-out set is drawn
first, the selection pool never repeats a held-out question, and the training traces repeat neither.
Short problems have few distinct questions (there are 81 one-step sums), so exclusion, not chance, keeps
them apart.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

#: The domains, in a fixed order (round-robin generation keeps them balanced).
DOMAINS = ("sum", "difference")

MIN_STEPS, MAX_STEPS = 1, 8

#: Seed offsets of the splits, so that ``seed`` gives three unrelated streams.
SPLIT_SALT = {"train": 0, "pool": 1_000_003, "heldout": 2_000_003}


@dataclass(frozen=True)
class Problem:
    """One chain: ``start`` then ``terms`` combined by the domain's operation.

    ``start`` is the first term for ``sum`` and the two-digit minuend for ``difference``.
    """

    domain: str
    start: int
    terms: tuple[int, ...]

    @property
    def steps(self) -> int:
        """The number of single operations: the problem's difficulty."""
        return len(self.terms)

    @property
    def op(self) -> str:
        return "+" if self.domain == "sum" else "-"

    @property
    def question(self) -> str:
        chain = f" {self.op} ".join(str(v) for v in (self.start, *self.terms))
        return f"What is {chain}?"

    def partials(self) -> list[int]:
        """The running value after each step (the last one is the answer)."""
        value, out = self.start, []
        for term in self.terms:
            value = value + term if self.domain == "sum" else value - term
            out.append(value)
        return out

    @property
    def answer(self) -> int:
        return self.partials()[-1]

    def to_row(self) -> dict[str, object]:
        return {**asdict(self), "terms": list(self.terms)}


def make_problem(rng: random.Random, domain: str, steps: int) -> Problem:
    """Draw one problem of ``domain`` with ``steps`` operations."""
    terms = tuple(rng.randint(1, 9) for _ in range(steps))
    if domain == "sum":
        return Problem(domain, rng.randint(1, 9), terms)
    if domain == "difference":
        low = max(10, sum(terms))
        return Problem(domain, rng.randint(low, max(low, 99)), terms)
    raise ValueError(domain)


def stream(seed: int, split: str, steps: Iterable[int] | None = None) -> Iterator[Problem]:
    """An endless, deterministic stream of problems for one split; domains alternate, steps are uniform."""
    rng = random.Random(seed * 7_919 + SPLIT_SALT[split])
    choices = list(steps) if steps is not None else list(range(MIN_STEPS, MAX_STEPS + 1))
    i = 0
    while True:
        yield make_problem(rng, DOMAINS[i % len(DOMAINS)], rng.choice(choices))
        i += 1


def draw(seed: int, split: str, n: int, exclude: set[str] | frozenset[str] = frozenset(), *,
         unique: bool = True, steps: Iterable[int] | None = None) -> list[Problem]:
    """``n`` problems of ``split`` whose questions are not in ``exclude`` (and, if ``unique``, distinct)."""
    seen: set[str] = set()
    out: list[Problem] = []
    attempts = 0
    if n <= 0:
        return out
    for problem in stream(seed, split, steps):
        attempts += 1
        if attempts > 200 * n + 10_000:
            raise RuntimeError(f"could not draw {n} problems for split {split!r}; the excluded set is too large")
        if problem.question in exclude or (unique and problem.question in seen):
            continue
        seen.add(problem.question)
        out.append(problem)
        if len(out) == n:
            return out
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Splits:
    """Held-out, selection-pool and training problems; their question sets are disjoint."""

    heldout: list[Problem]
    pool: list[Problem]
    train: list[Problem]


def make_splits(seed: int, n_heldout: int, n_pool: int, n_train: int) -> Splits:
    """Draw the three splits in the order that keeps them disjoint (held-out first).

    Training problems may repeat among themselves (short chains have few distinct questions) but never
    repeat a held-out or pool question.
    """
    heldout = draw(seed, "heldout", n_heldout, steps=range(MIN_STEPS, MAX_STEPS + 1))
    taken = {p.question for p in heldout}
    # The pool has no one-step problems: there are only 81 one-step sums, and a pool that took them all would
    # leave none for training (the pool is where s1 picks hard questions from anyway).
    pool = draw(seed, "pool", n_pool, taken, steps=range(MIN_STEPS + 1, MAX_STEPS + 1))
    taken |= {p.question for p in pool}
    train = draw(seed, "train", n_train, taken, unique=False)
    return Splits(heldout, pool, train)
