"""Comparison grids: methods (labelled strategy combinations), each swept over settings, expanded into cells.

A *cell* is one concrete list of strategies with every setting fixed, for example
``token_conditional:num_tokens=1024+budget_forcing:max_thinking_tokens=1024``; that string is the cell's id in
the sample logs. A *method* is a label ("TCC + BF") and the cells of its sweep in order; the paper's Control,
Scaling and Performance are computed per method over its cells. A cell that two methods share runs once.

Grids come from command-line specs or TOML files (:mod:`tts.eval.gridfiles`); see ``docs/evaluation.md``
for both syntaxes. Every cell's strategies are built while the
grid is made, so an unknown strategy or setting fails before a model loads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, StrategyError, did_you_mean
from ..strategies.base import Strategy, check_conflicts

#: Keyword options of :func:`tts.run` a grid may fix for all its cells (``[run]`` in a grid file).
RUN_OPTIONS = ("think_format", "temperature", "top_p", "top_k", "seed", "max_answer_tokens", "system_prompt")
#: Settings whose value is the instructed token budget a_max of a cell, first match wins (for Control).
BUDGET_SETTINGS = (
    ("budget_forcing", "max_thinking_tokens"),
    ("rejection_sampling", "max_thinking_tokens"),
    ("token_conditional", "num_tokens"),
)



class GridError(ConfigError):
    """A grid (from flags or a TOML file) is malformed: an unknown key, an empty sweep, a duplicate label."""


def format_value(value: Any) -> str:
    """A setting value as written on the command line (lists joined with ``|``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return "|".join(format_value(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class StrategySpec:
    """One strategy with the settings a grid gave it (defaults left out), in sorted key order."""

    name: str
    settings: tuple[tuple[str, Any], ...] = ()

    def build(self) -> Strategy:
        """A fresh strategy object (strategies keep per-run state, so every run gets its own)."""
        from ..plugins import get_strategy_class

        cls = get_strategy_class(self.name)
        known = {f.name for f in cls.settings()}
        for key, _ in self.settings:
            if key not in known:
                raise StrategyError(
                    f"strategy {cls.name!r} has no setting {key!r}{did_you_mean(key, known)}; "
                    f"its settings are {', '.join(sorted(known)) or 'none'}."
                )
        return cls(**{k: list(v) if isinstance(v, tuple) else v for k, v in self.settings})

    def spec(self) -> str:
        """``name:key=value,...`` — the form ``tts run -s`` accepts."""
        if not self.settings:
            return self.name
        return self.name + ":" + ",".join(f"{k}={format_value(v)}" for k, v in self.settings)


@dataclass(frozen=True)
class Cell:
    """One grid setting: strategies with all settings fixed. ``id`` is its stable name in logs."""

    strategies: tuple[StrategySpec, ...]

    @property
    def id(self) -> str:
        """The strategies in ``tts run -s`` form joined with ``+`` (``"none"`` for the plain model)."""
        return "+".join(s.spec() for s in self.strategies) or "none"

    def build(self) -> list[Strategy]:
        """Fresh strategy objects for one run of this cell."""
        return [s.build() for s in self.strategies]

    def setting(self, strategy: str, key: str) -> Any:
        """The value this cell gives ``strategy.key`` (its default when the grid left it out)."""
        for spec, built in zip(self.strategies, self.build()):
            if spec.name == strategy:
                return getattr(built, key)
        return None

    @property
    def budget(self) -> int | None:
        """The instructed thinking-token budget a_max (the first of :data:`BUDGET_SETTINGS` present), if any."""
        for strategy, key in BUDGET_SETTINGS:
            value = self.setting(strategy, key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None


@dataclass
class Method:
    """A labelled sweep: the cell ids in the order of the sweep."""

    label: str
    cells: list[str]


@dataclass
class Grid:
    """Methods over cells plus the run options shared by every cell."""

    name: str
    methods: list[Method]
    cells: dict[str, Cell]
    run: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.methods:
            raise GridError(f"grid {self.name!r} has no methods; add at least one -s/--setting or [[method]].")
        labels = [m.label for m in self.methods]
        for label in labels:
            if labels.count(label) > 1:
                raise GridError(f"grid {self.name!r} has two methods labelled {label!r}; give each its own label.")
        unknown = set(self.run) - set(RUN_OPTIONS)
        if unknown:
            key = sorted(unknown)[0]
            raise GridError(
                f"run option {key!r} in grid {self.name!r} is unknown{did_you_mean(key, RUN_OPTIONS)}; "
                f"known: {', '.join(RUN_OPTIONS)}."
            )
        for cell in self.cells.values():
            if any(s.name == "budget_sweep" for s in cell.strategies):
                raise GridError(
                    "a grid sweeps budgets itself: list budget_forcing settings (e.g. -s "
                    "'budget_forcing:max_thinking_tokens=64|128') instead of budget_sweep; greedy ones share one pass."
                )
            check_conflicts(cell.build())

    def method_of(self) -> dict[str, list[str]]:
        """Cell id -> labels of the methods that include it."""
        owners: dict[str, list[str]] = {cid: [] for cid in self.cells}
        for method in self.methods:
            for cid in method.cells:
                owners[cid].append(method.label)
        return owners

    def to_dict(self) -> dict[str, Any]:
        """The canonical, JSON-ready form: what identifies the grid in an output directory."""
        return {
            "name": self.name,
            "run": dict(sorted(self.run.items())),
            "methods": [{"label": m.label, "cells": list(m.cells)} for m in self.methods],
            "cells": {
                cid: [{"name": s.name, "settings": {k: _jsonable(v) for k, v in s.settings}} for s in cell.strategies]
                for cid, cell in self.cells.items()
            },
            # Resolved settings (defaults included), so a changed library default is a different grid.
            "resolved": {cid: [_resolved(s) for s in cell.build()] for cid, cell in self.cells.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grid:
        """Rebuild a grid from :meth:`to_dict` (as stored in a run log's header)."""
        cells = {
            cid: Cell(tuple(strategy_spec(s["name"], s["settings"]) for s in strategies))
            for cid, strategies in data["cells"].items()
        }
        methods = [Method(m["label"], list(m["cells"])) for m in data["methods"]]
        return cls(name=data["name"], methods=methods, cells=cells, run=dict(data.get("run", {})))

    def fingerprint(self) -> str:
        """A short hash of :meth:`to_dict`, for file names and messages."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _resolved(strategy: Strategy) -> dict[str, Any]:
    return {"name": strategy.name, **{f.name: getattr(strategy, f.name) for f in strategy.settings()}}


def freeze_value(value: Any) -> Any:
    """Lists as tuples, so settings can live in frozen (hashable) specs."""
    return tuple(freeze_value(v) for v in value) if isinstance(value, list) else value


def strategy_spec(name: str, settings: Mapping[str, Any]) -> StrategySpec:
    """A spec under the strategy's registered name, settings sorted: equal settings give equal cell ids."""
    from ..plugins import get_strategy_class

    canonical = get_strategy_class(name).name
    return StrategySpec(canonical, tuple(sorted((k, freeze_value(v)) for k, v in settings.items())))


def build_grid(name: str, methods: Sequence[tuple[str, list[Cell]]], run: Mapping[str, Any] | None = None,
               description: str = "") -> Grid:
    """A grid from ``(label, cells)`` pairs; cells with the same id are shared between methods."""
    cells: dict[str, Cell] = {}
    built = []
    for label, method_cells in methods:
        for cell in method_cells:
            cells.setdefault(cell.id, cell)
        ids = list(dict.fromkeys(c.id for c in method_cells))
        if not ids:
            raise GridError(f"method {label!r} of grid {name!r} has no settings; give each swept setting a value.")
        built.append(Method(label, ids))
    return Grid(name=name, methods=built, cells=cells, run=dict(run or {}), description=description)


def cell_settings_summary(cell: Cell) -> str:
    """A cell's settings for tables, without strategy names unless two strategies share a setting name."""
    keys = [k for s in cell.strategies for k, _ in s.settings]
    parts = [f"{s.name + '.' if keys.count(k) > 1 else ''}{k}={format_value(v)}" for s in cell.strategies
             for k, v in s.settings]
    return ", ".join(parts) or "(defaults)"


__all__ = ["BUDGET_SETTINGS", "RUN_OPTIONS", "Cell", "Grid", "GridError", "Method", "StrategySpec", "build_grid",
           "cell_settings_summary", "format_value"]
