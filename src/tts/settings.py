"""One place that checks settings: every dataclass field against its type hint and its metadata.

Strategies (and engine option dataclasses) declare their settings as dataclass fields. The type hint says
what a value may be, and the field's metadata may narrow it:

``help``
    One line shown by ``tts run --help`` and ``tts strategies``.
``min`` / ``max``
    Inclusive bounds of a number (of every number, for a list of numbers).
``above``
    An exclusive lower bound (``above=0``: strictly positive, as a learning rate).
``choices``
    The strings (or other values) allowed.
``finite``
    For floats: NaN is always refused; ``finite=False`` lets ``inf`` through.
``error``
    The :class:`~tts.errors.TTSError` subclass to raise instead of :class:`~tts.errors.ConfigError`.

:func:`validate_settings` checks every init field of an object, so a new strategy gets type and range checks
without writing any; :func:`setting` builds such a field in one call. Bools are not integers here, a list is
checked item by item, and an error is one sentence naming ``owner.field``, the value and what is allowed.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import math
import types
import typing
from typing import Any

from .errors import ConfigError, TTSError, did_you_mean

#: Sane upper bounds: far above any real run, low enough that a typo fails instead of eating memory.
MAX_TOKENS = 10_000_000
MAX_SAMPLES = 4096
MAX_ATTEMPTS = 10_000
MAX_COUNT = 10_000

_MISSING: Any = dataclasses.MISSING


def setting(
    default: Any = _MISSING,
    help: str = "",
    *,
    default_factory: Any = _MISSING,
    min: float | None = None,
    max: float | None = None,
    above: float | None = None,
    choices: collections.abc.Iterable[Any] | None = None,
    finite: bool = True,
    error: type[TTSError] | None = None,
) -> Any:
    """A dataclass field whose metadata :func:`validate_settings` and the CLI understand."""
    metadata: dict[str, Any] = {"help": help, "finite": finite}
    if min is not None:
        metadata["min"] = min
    if max is not None:
        metadata["max"] = max
    if above is not None:
        metadata["above"] = above
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if error is not None:
        metadata["error"] = error
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def validate_settings(obj: Any, *, owner: str | None = None, error: type[TTSError] = ConfigError) -> None:
    """Check every init field of the dataclass instance ``obj``; raise ``error`` (or the field's) on the first bad one.

    ``owner`` names the object in messages (default: its ``name`` attribute, else its class name).
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise ConfigError(f"validate_settings needs a dataclass instance, got {obj!r}.")
    cls = type(obj)
    label = owner or getattr(obj, "name", None) or cls.__name__
    hints = type_hints(cls)
    for f in dataclasses.fields(obj):
        if f.init:
            check_setting(f"{label}.{f.name}", getattr(obj, f.name), hints.get(f.name, Any), f.metadata, error=error)


def check_setting(
    label: str, value: Any, hint: Any, metadata: collections.abc.Mapping[str, Any] | None = None,
    *, error: type[TTSError] = ConfigError,
) -> None:
    """Raise when ``value`` does not fit ``hint`` and ``metadata`` (see the module docstring)."""
    meta = dict(metadata or {})
    if _fits(value, hint, meta):
        return
    raise_error = meta.get("error", error)
    hint_text = did_you_mean(value, meta.get("choices", ()))
    raise raise_error(f"{label} must be {describe(hint, meta)}, got {_show(value)}{hint_text}.")


def type_hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of ``cls``; a hint that cannot be resolved is not checked (``Any``)."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # an unresolvable forward reference in a third-party plugin: check what we can
        return {f.name: f.type if not isinstance(f.type, str) else Any for f in dataclasses.fields(cls)}


def describe(hint: Any, metadata: collections.abc.Mapping[str, Any] | None = None) -> str:
    """What ``hint`` (narrowed by ``metadata``) allows, in words: ``an integer from 1 to 4096 or None``."""
    meta = metadata or {}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        text = " or ".join(describe(a, meta) for a in members)
        return text + " or None" if len(members) < len(args) else text
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple, collections.abc.Sequence):
        kind = "tuple" if origin is tuple else "list"
        return f"a {kind} whose items are each {describe(args[0], meta) if args else 'anything'}"
    if origin in (dict, collections.abc.Mapping):
        return f"a dict from {describe(args[0])} to {describe(args[1])}" if len(args) == 2 else "a dict"
    if "choices" in meta and hint in (str, int, float):
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    if hint is bool:
        return "true or false"
    if hint in (int, float):
        return _describe_number(hint, meta)
    if hint is str:
        return "a string"
    if hint is type(None):
        return "None"
    return f"a {getattr(hint, '__name__', hint)}"


def _describe_number(hint: type, meta: collections.abc.Mapping[str, Any]) -> str:
    noun = "an integer" if hint is int else ("a finite number" if meta.get("finite", True) else "a number")
    low, high, above = meta.get("min"), meta.get("max"), meta.get("above")
    if above is not None:
        return f"{noun} > {above}" + (f" and <= {high}" if high is not None else "")
    if low is not None and high is not None:
        return f"{noun} from {low} to {high}"
    if low is not None:
        return f"{noun} >= {low}"
    if high is not None:
        return f"{noun} <= {high}"
    return noun


def _fits(value: Any, hint: Any, meta: dict[str, Any]) -> bool:
    """Whether ``value`` is of type ``hint`` and, for its scalars, within ``meta``'s bounds and choices."""
    if hint is Any or hint is object:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a, meta) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis or len(args) <= 1:
            return all(_fits(v, args[0] if args else Any, meta) for v in value)
        return len(value) == len(args) and all(_fits(v, a, meta) for v, a in zip(value, args))
    if origin in (list, collections.abc.Sequence):
        ok = isinstance(value, list) if origin is list else isinstance(value, (list, tuple))
        return ok and all(_fits(v, args[0] if args else Any, meta) for v in value)
    if origin in (dict, collections.abc.Mapping):
        key, item = args if len(args) == 2 else (Any, Any)
        return isinstance(value, dict) and all(_fits(k, key, {}) and _fits(v, item, {}) for k, v in value.items())
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and _in_range(value, meta)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and _in_range(value, meta)
    if hint is str:
        return isinstance(value, str) and _in_choices(value, meta)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a typing construct we do not know (Callable, TypeVar...): the strategy's validate() decides


def _in_range(value: float, meta: dict[str, Any]) -> bool:
    if isinstance(value, float) and (math.isnan(value) or (meta.get("finite", True) and math.isinf(value))):
        return False
    low, high, above = meta.get("min"), meta.get("max"), meta.get("above")
    if (above is not None and value <= above) or (low is not None and value < low):
        return False
    return (high is None or value <= high) and _in_choices(value, meta)


def _in_choices(value: Any, meta: dict[str, Any]) -> bool:
    return "choices" not in meta or value in meta["choices"]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
