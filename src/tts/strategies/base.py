"""The base class of every strategy: a dataclass of settings plus hook implementations.

A strategy is a plain object whose ``tts_*`` methods implement hooks from :mod:`tts.hookspecs`. Subclass
:class:`Strategy` as a ``@dataclass``: the fields are the strategy's settings (give each a
``metadata={"help": ...}`` so ``tts run --help`` can list it, and ``min``/``max``/``choices`` where they
apply — :func:`tts.settings.setting` builds such a field), ``name`` is what users type, and ``__post_init__``
checks every setting against its type and metadata (:func:`tts.settings.validate_settings`) and then calls
:meth:`Strategy.validate` for the rules that involve several settings, so bad values fail when the object is built.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, ClassVar

from ..errors import ConfigError, StrategyConflictError, StrategyError, did_you_mean
from ..settings import validate_settings


@dataclasses.dataclass
class Strategy:
    """Base class of strategies. Subclasses are dataclasses; see the module docstring."""

    name: ClassVar[str] = ""
    #: One-line description shown by ``tts run --help``.
    summary: ClassVar[str] = ""

    def __post_init__(self) -> None:
        validate_settings(self)  # types and ranges first, so validate() can trust them
        self.validate()

    def validate(self) -> None:
        """Raise a :class:`tts.errors.TTSError` for settings that cannot work together; called on construction.

        Each field's type, range and choices are already checked from its hint and metadata when this runs.
        """

    def claims(self) -> dict[str, str]:
        """Exclusive roles this strategy takes in a run, as ``{role: what it does}``.

        Two strategies claiming the same role cannot be combined: the run fails at start with a
        :class:`tts.errors.StrategyConflictError` naming both and the role. Roles used by the built-ins:
        ``length_instruction`` (a prompt that tells the model how long to think), ``thinking_cap`` (cutting
        or rejecting thinking at a maximum), ``aggregation`` (turning samples into one answer).
        """
        return {}

    def state(self, sample: Any) -> dict[str, Any]:
        """This strategy's scratch space for ``sample`` (a dict that lives as long as the sample attempt)."""
        store: dict[str, Any] = sample.store.setdefault(self.name, {})
        return store

    @classmethod
    def settings(cls) -> list[dataclasses.Field[Any]]:
        """The dataclass fields users can set."""
        return [f for f in dataclasses.fields(cls) if f.init]

    @classmethod
    def from_options(cls, options: dict[str, str]) -> Strategy:
        """Build from string options (as typed on the command line), converting each to its field's type."""
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in cls.settings()}
        values: dict[str, Any] = {}
        for key, raw in options.items():
            if key not in fields:
                raise StrategyError(
                    f"strategy {cls.name!r} has no setting {key!r}{did_you_mean(key, fields)}; "
                    f"its settings are {', '.join(fields) or 'none'}."
                )
            values[key] = _convert(cls.name, key, raw, hints.get(key, str))
        return cls(**values)


def _convert(strategy: str, key: str, raw: str, hint: Any) -> Any:
    """Turn a command-line string into ``hint``'s type (int, float, bool, str, lists and optionals)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null", ""):
            return None
        # "a|b" means a list when the field can hold one; otherwise the plain types are tried first.
        listy = [a for a in args if typing.get_origin(a) in (list, tuple)]
        plain = [a for a in args if a not in listy]
        ordered = listy + plain if "|" in raw else plain + listy
        for option in ordered:
            try:
                return _convert(strategy, key, raw, option)
            except ConfigError:
                continue
        raise ConfigError(f"{strategy}.{key}={raw!r} matches none of the types {hint}.")
    if typing.get_origin(hint) is dict:
        raise ConfigError(f"{strategy}.{key} is a mapping and cannot be set on the command line; set it in Python.")
    if typing.get_origin(hint) in (list, tuple):
        inner = args[0] if args else str
        items = [_convert(strategy, key, part, inner) for part in raw.split("|")]
        return tuple(items) if typing.get_origin(hint) is tuple else items
    try:
        if hint is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        if hint in (int, float):
            return hint(raw)
    except ValueError:
        raise ConfigError(
            f"{strategy}.{key} needs a {getattr(hint, '__name__', hint)}, got {raw!r}."
        ) from None
    return raw


def check_conflicts(strategies: list[Strategy]) -> None:
    """Raise :class:`StrategyConflictError` if two strategies claim the same role (or one is listed twice)."""
    owners: dict[str, tuple[Strategy, str]] = {}
    for index, strategy in enumerate(strategies):
        if any(strategy is other for other in strategies[:index]):
            raise StrategyError(f"strategy {strategy.name!r} is listed twice (the same object); list each instance once.")
        for role, what in strategy.claims().items():
            if role in owners:
                other, other_what = owners[role]
                raise StrategyConflictError(
                    f"strategies {other.name!r} and {strategy.name!r} cannot be combined: both take the role "
                    f"{role!r} ({other.name} {other_what}; {strategy.name} {what}); keep one of them."
                )
            owners[role] = (strategy, what)
