"""Reading grids: command-line sweep specs (``-s``, ``--setting``) and TOML grid files, shipped ones included.

Command line: ``[LABEL=]name:key=v1|v2,...[+name:...]`` — ``|`` sweeps a setting (a product over settings, or
lockstep with ``zip``), ``+`` combines strategies in one setting. ``--setting`` gives one setting, where ``|``
is a list value as in ``tts run``. TOML::

    name = "mine"
    [run]                      # tts.run options shared by every cell
    temperature = 0.0
    [[method]]
    label = "TCC + BF"
    strategy = ["token_conditional", "budget_forcing"]
    settings = { "budget_forcing.num_ignore" = 0 }          # fixed
    sweep = { "token_conditional.num_tokens" = [1024, 2048], "budget_forcing.max_thinking_tokens" = [1024, 2048] }
    zip = true                 # sweeps move together (default: product)

A bare setting name is allowed when the method has one strategy.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import did_you_mean
from .grid import Cell, Grid, GridError, StrategySpec, build_grid, freeze_value, strategy_spec

_LABEL = re.compile(r"^\s*([^:=]+?)\s*=")


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
            strategies.append(StrategySpec(cls.name, tuple(sorted((k, freeze_value(getattr(built, k))) for k in raw))))
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
            strategy_spec(n, {k: v for (owner, k), v in values.items() if owner == n}) for n in names
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
