"""Engines by name: what a plugin registers through ``tts_register_engines`` and how an engine is built from it.

An engine plugin registers three things: the ``name`` users type (``tts run --engine NAME``), the engine class
(or ``"module:Class"``, imported only when the engine is built, so that registering never imports a heavy
backend), and a dataclass of the engine's options. The options dataclass is the single description of what
the engine can be told: ``build_engine(name, model, **options)`` checks keyword arguments against it, and
``tts run`` turns every field with ``metadata={"help": ...}`` into a flag (``max_batch_size`` becomes
``--max-batch-size``). The engine is then constructed as ``engine_cls(model, **fields)``, every field passed
by keyword, so the constructor's keyword arguments are the option names.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError, EngineError, MissingDependencyError, did_you_mean


@dataclass
class EngineOptions:
    """Base class of an engine's options dataclass (optional: any dataclass works, these are the defaults).

    Attributes:
        summary: One line shown by ``tts run --help`` next to the engine's name.
        requires_model: Whether the engine needs ``--model`` (False for a server that knows its model).
    """

    summary: ClassVar[str] = ""
    requires_model: ClassVar[bool] = True


@dataclass(frozen=True)
class EngineEntry:
    """One registered engine.

    Attributes:
        name: What users type after ``--engine``.
        engine: The engine class, or ``"module:Class"`` imported on first use.
        options_cls: The dataclass of the engine's options.
    """

    name: str
    engine: type | str
    options_cls: type

    @property
    def summary(self) -> str:
        """The options class's ``summary``, else the first line of its docstring."""
        text = getattr(self.options_cls, "summary", "") or (self.options_cls.__doc__ or "").strip()
        return text.splitlines()[0] if text else ""

    @property
    def requires_model(self) -> bool:
        """Whether building the engine needs a model (``requires_model`` on the options class, default True)."""
        return bool(getattr(self.options_cls, "requires_model", True))

    def fields(self) -> list[dataclasses.Field[Any]]:
        """Every option (the dataclass's init fields)."""
        return [f for f in dataclasses.fields(self.options_cls) if f.init]

    def cli_fields(self) -> list[tuple[dataclasses.Field[Any], Any]]:
        """The options that are command-line flags, with their resolved type hints.

        A field is a flag when its metadata has ``help`` and not ``cli=False`` (mappings and objects, which a
        command line cannot spell, say ``cli=False``).
        """
        hints = typing.get_type_hints(self.options_cls)
        return [
            (f, hints.get(f.name, str)) for f in self.fields() if "help" in f.metadata and f.metadata.get("cli", True)
        ]

    def engine_class(self) -> type:
        """The engine class, importing its module now if it was registered as ``"module:Class"``."""
        if not isinstance(self.engine, str):
            return self.engine
        module_name, _, attr = self.engine.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise MissingDependencyError(
                f"engine {self.name!r} could not be imported from {module_name!r} ({exc}); install what it needs."
            ) from exc
        cls = getattr(module, attr, None)
        if not isinstance(cls, type):
            raise EngineError(f"engine {self.name!r} is registered as {self.engine!r}, but {module_name} has no class {attr!r}.")
        return cls

    def options(self, **given: Any) -> Any:
        """The options object for these keyword arguments; an unknown name is a :class:`ConfigError`."""
        names = [f.name for f in self.fields()]
        for key in given:
            if key not in names:
                raise ConfigError(
                    f"engine {self.name!r} has no option {key!r}{did_you_mean(key, names)}; "
                    f"its options are {', '.join(names) or 'none'}."
                )
        try:
            chosen = self.options_cls(**given)
        except TypeError as exc:  # a required option left out
            raise ConfigError(f"engine {self.name!r} cannot take these options ({exc}); see its documentation.") from exc
        from ..settings import validate_settings

        validate_settings(chosen, owner=self.name)  # types and ranges from the fields' metadata, one sentence each
        return chosen

    def build(self, model: str | None, **options: Any) -> Any:
        """Build the engine: options set to None are dropped (a command line passes every flag it has)."""
        if model is None and self.requires_model:
            raise ConfigError(f"the {self.name} engine needs a model; pass a hub id or a local directory.")
        chosen = self.options(**{k: v for k, v in options.items() if v is not None})
        kwargs = {f.name: getattr(chosen, f.name) for f in self.fields()}
        return self.engine_class()(model, **kwargs)


def check_registration(name: object, engine: object, options_cls: object) -> EngineEntry:
    """The entry for one ``register(name, engine_cls, options_cls)`` call, or an :class:`EngineError` saying what is wrong."""
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise EngineError(f"register() needs a lower-case identifier as engine name, got {name!r}.")
    if not (isinstance(engine, type) or (isinstance(engine, str) and ":" in engine)):
        raise EngineError(f"engine {name!r}: register() needs the engine class or 'module:Class', got {engine!r}.")
    if not (isinstance(options_cls, type) and dataclasses.is_dataclass(options_cls)):
        raise EngineError(f"engine {name!r}: register() needs a dataclass of options, got {options_cls!r}.")
    return EngineEntry(name, engine, options_cls)
