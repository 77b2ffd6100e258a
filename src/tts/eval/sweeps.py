"""Budget sweeps in one pass: grid settings that differ only in budget forcing's ``max_thinking_tokens`` /
``num_ignore`` under greedy decoding run as one :class:`tts.strategies.BudgetSweep`.

Greedy thinking under budget 1,024 is the first 1,024 tokens of budget 8,192's, so the sweep decodes the shared
prefix once and forks where settings part; each setting's tokens equal a separate :class:`BudgetForcing` run.
A group is always a full product ``budgets x ignore counts`` (so the sweep runs no setting the grid lacks),
and its settings must have the same problems left to run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import TTSError
from ..records import ProblemResult
from .grid import Cell, Grid

SWEPT = ("max_thinking_tokens", "num_ignore")


def _sweep_key(cell: Cell) -> tuple[Any, ...] | None:
    """What a cell shares with its sweep partners, or None when it cannot join a sweep."""
    if len(cell.strategies) != 1 or cell.strategies[0].name != "budget_forcing":
        return None
    (built,) = cell.build()
    return tuple((f.name, repr(getattr(built, f.name))) for f in built.settings() if f.name not in SWEPT)


def _swept(cell: Cell) -> tuple[int | None, int]:
    built: Any = cell.build()[0]
    return built.max_thinking_tokens, built.num_ignore


def sweep_groups(grid: Grid, pending: Mapping[str, Sequence[int]]) -> list[list[str]]:
    """Settings that run together, in grid order: budget-forcing sweeps under greedy decoding, others alone."""
    greedy = float(grid.run.get("temperature", 0.0)) == 0.0
    buckets: dict[tuple[Any, ...], list[str]] = {}
    order: list[tuple[Any, ...]] = []
    for cid, cell in grid.cells.items():
        if not pending.get(cid):
            continue
        key = _sweep_key(cell) if greedy else None
        bucket = ("alone", cid) if key is None else ("sweep", key, tuple(pending[cid]))
        if bucket not in buckets:
            buckets[bucket] = []
            order.append(bucket)
        buckets[bucket].append(cid)
    groups: list[list[str]] = []
    for bucket in order:
        groups += _full_products(grid, buckets[bucket]) if bucket[0] == "sweep" else [buckets[bucket]]
    return groups


def _full_products(grid: Grid, cids: list[str]) -> list[list[str]]:
    """Split ``cids`` into full products ``budgets x ignore counts``: ignore counts that come with the same set
    of budgets go together (e.g. budgets 8|16|32 without ignores, and 32 with 1|2 ignores: two sweeps)."""
    pairs = {cid: _swept(grid.cells[cid]) for cid in cids}
    budgets_of: dict[int, set[int | None]] = {}
    for budget, ignores in pairs.values():
        budgets_of.setdefault(ignores, set()).add(budget)
    groups: dict[frozenset[int | None], list[str]] = {}
    for cid in cids:  # keyed by the budget set of the cell's ignore count; grid order within a group
        groups.setdefault(frozenset(budgets_of[pairs[cid][1]]), []).append(cid)
    return list(groups.values())


def run_sweep(engine: Any, cells: Sequence[Cell], questions: Sequence[str], options: Mapping[str, Any],
              on_result: Callable[[Cell, int, ProblemResult], None], on_event: Callable[..., None] | None = None) -> None:
    """Run a group from :func:`sweep_groups` as one BudgetSweep; report each setting's share of every problem."""
    import tts
    from tts.strategies.budget_sweep import BudgetSweep, setting_label

    first: Any = cells[0].build()[0]  # a BudgetForcing, by sweep_groups
    by_label = {setting_label(*_swept(cell)): cell for cell in cells}
    sweep = BudgetSweep(
        max_thinking_tokens=list(dict.fromkeys(_swept(c)[0] for c in cells)),
        num_ignore=list(dict.fromkeys(_swept(c)[1] for c in cells)),
        ignore_string=first.ignore_string, min_thinking_tokens=first.min_thinking_tokens,
        forced_answer=first.forced_answer,
    )

    def split(result: ProblemResult) -> None:
        for label, cell in by_label.items():
            mine = [s for s in result.samples if label in s.extra.get("budget_sweep", {}).get("settings", ())]
            if not mine:
                raise TTSError(f"the budget sweep returned no sample for {label}; rerun with --separate-runs.")
            answer = mine[0].answer_text.strip() or None
            on_result(cell, result.index, dataclasses.replace(result, samples=mine, answer=answer,
                                                              aggregation={"sweep_setting": label}))

    tts.run(engine, list(questions), strategies=[sweep], progress=False, on_event=on_event, on_result=split, **options)
