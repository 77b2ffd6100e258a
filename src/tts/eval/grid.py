"""Comparison grids: methods (labelled strategy combinations), each swept over settings, expanded into cells.

A *cell* is one concrete list of strategies with every setting fixed, for example
``token_conditional:num_tokens=1024+budget_forcing:max_thinking_tokens=1024``; that string is the cell's id in
the sample logs. A *method* is a label ("TCC + BF") and the cells of its sweep in order; the paper's Control,
Scaling and Performance are computed per method over its cells. A cell that two methods share runs once.

Grids come from command-line specs (:func:`method_from_spec`, :func:`cell_from_spec`) or TOML files
(:func:`load_grid`); see ``docs/evaluation.md`` for both syntaxes. Every cell's strategies are built while the
grid is made, so an unknown strategy or setting fails before a model loads.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
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
_LABEL = re.compile(r"^\s*([^:=]+?)\s*=")


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
            cid: Cell(tuple(_spec(s["name"], s["settings"]) for s in strategies))
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


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


def _spec(name: str, settings: Mapping[str, Any]) -> StrategySpec:
    from ..plugins import get_strategy_class

    canonical = get_strategy_class(name).name
    return StrategySpec(canonical, tuple(sorted((k, _freeze(v)) for k, v in settings.items())))


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


# -- command-line specs ----------------------------------------------------------------------------------


def _split_label(spec: str) -> tuple[str | None, str]:
    # "LABEL=name:k=v": a label is what precedes the first "=", when that holds no ":" (a setting would).
    match = _LABEL.match(spec)
    if match:
        return match.group(1), spec[match.end():]
    return None, spec


def _parse_strategy_part(part: str, spec: str, sweep: bool) -> tuple[str, dict[str, list[str]]]:
    name, _, rest = part.partition(":")
    options: dict[str, list[str]] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise GridError(f"setting {item!r} in {spec!r} is not key=value; write e.g. budget_forcing:max_thinking_tokens=64|128.")
        options[key.strip()] = value.strip().split("|") if sweep else [value.strip()]
    return name.strip(), options


def _cells_from_options(parts: list[tuple[str, dict[str, list[str]]]], zipped: bool, spec: str) -> list[Cell]:
    from ..plugins import get_strategy_class

    axes = [(i, key, values) for i, (_, options) in enumerate(parts) for key, values in options.items()]
    if zipped:
        lengths = {len(values) for _, _, values in axes if len(values) > 1}
        if len(lengths) > 1:
            raise GridError(f"--zip needs every swept setting in {spec!r} to have the same number of values, got {sorted(lengths)}.")
        count = lengths.pop() if lengths else 1
        combos = [[values[j] if len(values) > 1 else values[0] for _, _, values in axes] for j in range(count)]
    else:
        combos = [list(c) for c in itertools.product(*(values for _, _, values in axes))]
    cells = []
    for combo in combos:
        strategies = []
        for index, (name, _) in enumerate(parts):
            raw = {key: value for (i, key, _), value in zip(axes, combo) if i == index}
            cls = get_strategy_class(name)
            built = cls.from_options(raw)
            strategies.append(StrategySpec(cls.name, tuple(sorted((k, _freeze(getattr(built, k))) for k in raw))))
        cells.append(Cell(tuple(strategies)))
    return cells


def method_from_spec(spec: str, *, zipped: bool = False) -> tuple[str, list[Cell]]:
    """``[LABEL=]name:key=v1|v2,...[+name:...]`` -> (label, cells): ``|`` sweeps, ``+`` combines strategies.

    Sweeps form a product unless ``zipped`` (then lists move together and must have equal lengths).
    """
    label, body = _split_label(spec)
    parts = [_parse_strategy_part(p, spec, sweep=True) for p in body.split("+") if p.strip()]
    if not parts:
        raise GridError(f"method {spec!r} names no strategy; write e.g. budget_forcing:max_thinking_tokens=64|128.")
    cells = _cells_from_options(parts, zipped, spec)
    return label or "+".join(name for name, _ in parts), cells


def cell_from_spec(spec: str) -> tuple[str, Cell]:
    """``[LABEL=]name:key=value,...[+name:...]`` -> (label, one cell); ``|`` is a list value, as in ``tts run``."""
    label, body = _split_label(spec)
    parts = [_parse_strategy_part(p, spec, sweep=False) for p in body.split("+") if p.strip()]
    cells = _cells_from_options(parts, False, spec) if parts else [Cell(())]
    return label or "+".join(name for name, _ in parts) or "none", cells[0]


def grid_from_specs(methods: Iterable[str], settings: Iterable[str], *, zipped: bool = False,
                    run: Mapping[str, Any] | None = None) -> Grid:
    """A grid from ``-s`` method specs and ``--setting`` cell specs (cells with one label form one method)."""
    pairs = [method_from_spec(s, zipped=zipped) for s in methods]
    grouped: dict[str, list[Cell]] = {}
    for label, cell in (cell_from_spec(s) for s in settings):
        grouped.setdefault(label, []).append(cell)
    pairs += list(grouped.items())
    return build_grid("command-line", pairs, run)


# -- TOML grid files -------------------------------------------------------------------------------------

_GRID_KEYS = {"name", "description", "run", "method"}
_METHOD_KEYS = {"label", "strategy", "settings", "sweep", "zip"}


def _read_toml(text: str, where: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"grid file {where} is not valid TOML ({exc}); fix the file.") from None


def builtin_grids() -> dict[str, str]:
    """Names of the grids shipped with the package -> their TOML text."""
    folder = resources.files("tts.eval") / "grids"
    return {p.name[:-5]: p.read_text(encoding="utf-8") for p in folder.iterdir() if p.name.endswith(".toml")}


def load_grid(name_or_path: str | Path) -> Grid:
    """A grid from a TOML file, or a shipped grid by name (``paper-table3``, ``paper-table4``, ``tiny``)."""
    path = Path(name_or_path)
    shipped = builtin_grids()
    if path.is_file():
        text, where = path.read_text(encoding="utf-8"), str(path)
    elif str(name_or_path) in shipped:
        text, where = shipped[str(name_or_path)], f"{name_or_path} (shipped)"
    else:
        raise GridError(
            f"grid {str(name_or_path)!r} is neither a file nor a shipped grid{did_you_mean(str(name_or_path), shipped)}; "
            f"shipped: {', '.join(sorted(shipped))}."
        )
    return grid_from_toml(_read_toml(text, where), where, default_name=path.stem)


def grid_from_toml(data: Mapping[str, Any], where: str, default_name: str = "grid") -> Grid:
    """A grid from parsed TOML; see the module docstring for the layout."""
    _check_keys(data, _GRID_KEYS, f"grid file {where}")
    methods = data.get("method", [])
    if not isinstance(methods, list) or not all(isinstance(m, dict) for m in methods):
        raise GridError(f"grid file {where}: 'method' must be an array of tables ([[method]]).")
    pairs = [_method_from_toml(m, f"{where}, method {i + 1}") for i, m in enumerate(methods)]
    run = data.get("run", {})
    if not isinstance(run, dict):
        raise GridError(f"grid file {where}: [run] must be a table of tts.run options.")
    return build_grid(str(data.get("name", default_name)), pairs, run, str(data.get("description", "")))


def _check_keys(table: Mapping[str, Any], known: set[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise GridError(f"{where} has an unknown key {key!r}{did_you_mean(key, known)}; known: {', '.join(sorted(known))}.")


def _method_from_toml(table: dict[str, Any], where: str) -> tuple[str, list[Cell]]:
    _check_keys(table, _METHOD_KEYS, where)
    names = table.get("strategy", [])
    names = [names] if isinstance(names, str) else list(names)
    if not all(isinstance(n, str) for n in names):
        raise GridError(f"{where}: 'strategy' must be a strategy name or a list of names.")
    fixed = _qualified(table.get("settings", {}), names, where)
    sweep = _qualified(table.get("sweep", {}), names, where)
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"{where}: sweep {'.'.join(key)!r} must be a non-empty list of values.")
    keys = list(sweep)
    if table.get("zip", False):
        lengths = {len(v) for v in sweep.values()}
        if len(lengths) > 1:
            raise GridError(f"{where}: zip = true needs sweeps of equal length, got {sorted(lengths)}.")
        combos = list(zip(*sweep.values())) if sweep else [()]
    else:
        combos = list(itertools.product(*sweep.values()))
    cells = []
    for combo in combos:
        values = {**fixed, **dict(zip(keys, combo))}
        cells.append(Cell(tuple(
            _spec(n, {k: v for (owner, k), v in values.items() if owner == n}) for n in names
        )))
    return str(table.get("label") or "+".join(names) or "none"), cells


def _qualified(table: Any, names: list[str], where: str) -> dict[tuple[str, str], Any]:
    """``{"strategy.setting": v}`` (or bare ``setting`` when there is one strategy) -> ``{(strategy, setting): v}``."""
    if not isinstance(table, dict):
        raise GridError(f"{where}: settings and sweep must be tables of 'strategy.setting' = value.")
    out: dict[tuple[str, str], Any] = {}
    for key, value in _flatten(table):
        owner, _, setting = key.rpartition(".")
        if not owner and len(names) == 1:
            owner = names[0]
        if owner not in names:
            raise GridError(
                f"{where}: {key!r} does not name one of the method's strategies ({', '.join(names) or 'none'}); "
                f"write 'strategy.setting'."
            )
        out[(owner, setting)] = value
    return out


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    # TOML reads budget_forcing.max_thinking_tokens = 1 as a nested table; quoted keys stay flat.
    items: list[tuple[str, Any]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def cell_settings_summary(cell: Cell) -> str:
    """The swept part of a cell for tables: its settings without strategy names when unambiguous."""
    parts = [f"{k}={format_value(v)}" for s in cell.strategies for k, v in s.settings]
    return ", ".join(parts) or "(defaults)"


__all__ = [
    "Cell", "Grid", "GridError", "Method", "StrategySpec", "build_grid", "builtin_grids", "cell_from_spec",
    "grid_from_specs", "grid_from_toml", "load_grid", "method_from_spec",
]
