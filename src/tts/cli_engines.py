"""``tts run``'s engine flags, built from the registered engines' options dataclasses.

Every option field with ``metadata={"help": ...}`` becomes one flag (``max_batch_size`` is
``--max-batch-size``); engines that declare the same option share the flag. A flag is parsed by its field's
type (``int``, ``float``, ``str``; ``bool`` as ``--x/--no-x``; ``list[...]`` repeatable) and is None unless
given, so an engine's own default applies. A flag that the chosen engine does not declare is refused, so a
typo or a flag meant for another engine never goes unnoticed.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from .engines.registry import EngineEntry
from .errors import ConfigError, EngineError
from .plugins import engine_registry

#: Prefix of the argparse destinations of engine flags (keeps them apart from run's own settings).
DEST_PREFIX = "engine_option_"
DEFAULT_ENGINE = "hf"


def add_engine_flags(parser: argparse.ArgumentParser, group: Any) -> None:
    """Add ``--engine`` and every registered engine's option flags to ``group`` of ``parser``."""
    registry = engine_registry()
    default = DEFAULT_ENGINE if DEFAULT_ENGINE in registry else sorted(registry)[0]
    listing = "; ".join(f"{name}: {entry.summary}" if entry.summary else name for name, entry in sorted(registry.items()))
    group.add_argument("--engine", choices=sorted(registry), default=default,
                       help=_escape(f"{listing} (default: {default})"))
    users: dict[str, list[tuple[str, dataclasses.Field[Any], Any]]] = {}
    for name, entry in sorted(registry.items()):
        for f, hint in entry.cli_fields():
            users.setdefault(f.name, []).append((name, f, hint))
    for option, declared in users.items():
        flag = "--" + option.replace("_", "-")
        try:
            kind = {"metavar": option.upper(), **_argparse_kind(option, declared)}
            group.add_argument(flag, dest=DEST_PREFIX + option, default=None, help=_help(declared), **kind)
        except argparse.ArgumentError as exc:
            raise EngineError(
                f"engine {declared[0][0]!r} has an option {option!r} whose flag {flag} tts run already uses ({exc}); "
                f"rename the option in the plugin."
            ) from None
    parser.set_defaults(engine_flags={option: [name for name, _, _ in declared] for option, declared in users.items()})


def engine_flag_values(args: argparse.Namespace, entry: EngineEntry) -> dict[str, Any]:
    """The engine flags given on the command line, by option name; a flag of another engine is a ConfigError."""
    flags: dict[str, list[str]] = getattr(args, "engine_flags", {})
    given = {o: getattr(args, DEST_PREFIX + o) for o in flags if getattr(args, DEST_PREFIX + o, None) is not None}
    mine = {f.name for f, _ in entry.cli_fields()}
    for option in given:
        if option not in mine:
            owners = flags[option]
            raise ConfigError(
                f"--{option.replace('_', '-')} only applies to --engine {' or '.join(owners)}; drop it or pass "
                f"--engine {owners[0]}."
            )
    return given


def _argparse_kind(option: str, declared: list[tuple[str, dataclasses.Field[Any], Any]]) -> dict[str, Any]:
    """The ``add_argument`` keywords for an option's type; engines sharing an option must agree on it."""
    kinds = [_kind(hint, f) for _, f, hint in declared]
    if any(k != kinds[0] for k in kinds[1:]):
        names = " and ".join(name for name, _, _ in declared)
        raise EngineError(f"engines {names} declare option {option!r} with different types; make them agree.")
    return kinds[0]


def _kind(hint: Any, f: dataclasses.Field[Any]) -> dict[str, Any]:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        hint = args[0]
    choices = f.metadata.get("choices")
    extra: dict[str, Any] = {"choices": list(choices)} if choices else {}
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction, "metavar": None}  # --x / --no-x take no value
    if typing.get_origin(hint) in (list, tuple):
        inner = (typing.get_args(hint) or (str,))[0]
        return {"action": "append", "type": inner if isinstance(inner, type) else str, **extra}
    if isinstance(hint, type) and hint is not dict:
        return {"type": hint, **extra}
    return {"type": str, **extra}


def _help(declared: list[tuple[str, dataclasses.Field[Any], Any]]) -> str:
    helps = [str(f.metadata["help"]) for _, f, _ in declared]
    if len(set(helps)) == 1:
        text = f"{', '.join(name for name, _, _ in declared)}: {helps[0]}"
    else:
        text = "; ".join(f"{name}: {help}" for (name, _, _), help in zip(declared, helps))
    defaults = {repr(f.default) for _, f, _ in declared}
    only = declared[0][1].default
    if len(defaults) == 1 and only is not None and only is not dataclasses.MISSING and not isinstance(only, bool):
        text += f" (default: {only})"
    return _escape(text)


def _escape(text: str) -> str:
    return text.replace("%", "%%")  # argparse formats help strings with %
