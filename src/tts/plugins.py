"""Plugin managers: the process-wide strategy and engine registries and the per-run hook caller.

Strategies and engines come from two places through one path: the built-in modules (:data:`BUILTIN_MODULES`,
:data:`BUILTIN_ENGINE_MODULE`) and third-party modules advertised in the ``tts`` entry-point group, e.g. in a
plugin's pyproject::

    [project.entry-points.tts]
    my_strategy = "my_package.my_module"

Each such module implements ``tts_register_strategies(register)``, ``tts_register_engines(register)`` or
both. Set ``TTS_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the built-ins (useful to rule out a broken
third-party plugin).
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .engines.registry import EngineEntry, check_registration
from .errors import ConfigError, EngineError, StrategyError, TTSError, did_you_mean
from .hookchecks import RESULT_CHECKS

if TYPE_CHECKING:
    from .strategies.base import Strategy

ENTRY_POINT_GROUP = "tts"
DISABLE_AUTOLOAD_ENV = "TTS_DISABLE_PLUGIN_AUTOLOAD"
BUILTIN_MODULES = {
    "budget_forcing": "tts.strategies.budget_forcing",
    "token_conditional": "tts.strategies.token_conditional",
    "step_conditional": "tts.strategies.step_conditional",
    "class_conditional": "tts.strategies.class_conditional",
    "rejection_sampling": "tts.strategies.rejection_sampling",
    "majority_voting": "tts.strategies.majority_voting",
    "budget_sweep": "tts.strategies.budget_sweep",
    "certainty_probe": "tts.strategies.certainty_probe",
    "deepconf": "tts.strategies.deepconf",
    "adaptive_voting": "tts.strategies.adaptive_voting",
}
#: The module that registers the built-in engines (hf, vllm, openai); it imports no backend.
BUILTIN_ENGINE_MODULE = "tts.engines.builtin"

_registry: dict[str, type[Strategy]] | None = None
_engines: dict[str, EngineEntry] | None = None


class TTSPluginManager(pluggy.PluginManager):
    """A pluggy manager where every ``tts_*`` attribute of a plugin is a hook implementation.

    Plugins need no decorator (``@tts.hookimpl`` is still honoured for options such as ``tryfirst`` and
    ``wrapper``), and :meth:`register` checks at once that each ``tts_*`` name matches a hook spec. Every
    (non-wrapper) implementation is guarded where it returns: an exception becomes a :class:`StrategyError`
    naming the plugin and the hook (the original chained), a value of the wrong type is refused with the
    plugin's name, and the names of the plugins that answered a call are kept for :meth:`call_with_authors`.
    Hooks are always called through pluggy, so wrappers and ``pm.trace`` see every call.
    """

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self._answers: list[tuple[str, object]] = []

    def call_with_authors(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call hook ``hook_name`` through pluggy; return ``(plugin name, result)`` for each non-None result.

        For a ``firstresult`` hook the list has at most one entry. A result that a hook wrapper substituted is
        attributed to ``"<hook wrapper>"``.
        """
        mark = len(self._answers)
        try:
            outcome = getattr(self.hook, hook_name)(**kwargs)
            answered = self._answers[mark:]
        finally:
            del self._answers[mark:]
        results = outcome if isinstance(outcome, list) else ([] if outcome is None else [outcome])
        authors = []
        for result in results:
            name = next((n for n, value in answered if value is result), "<hook wrapper>")
            authors.append((name, result))
        return authors

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("tts_") and callable(getattr(plugin, name, None)):
            return {}
        return opts

    def register(self, plugin: object, name: str | None = None) -> str | None:
        known = {n for n in dir(hookspecs) if n.startswith("tts_")}
        for attr in dir(plugin):
            if attr.startswith("tts_") and callable(getattr(plugin, attr, None)) and attr not in known:
                raise StrategyError(
                    f"plugin {_describe(plugin)} defines {attr!r}, which is not a tts hook"
                    f"{did_you_mean(attr, known)}; rename it or drop the 'tts_' prefix."
                )
        try:
            registered = super().register(plugin, name)
            self.check_pending()
        except pluggy.PluginValidationError as exc:
            raise StrategyError(f"plugin {_describe(plugin)} breaks the hook protocol: {exc}") from exc
        if registered is not None:
            author = str(getattr(plugin, "name", None) or registered)
            for caller in self.get_hookcallers(plugin) or []:
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin and not (impl.wrapper or impl.hookwrapper):
                        impl.function = self._guard(impl.function, author, caller.name)  # type: ignore[misc]
        return registered

    def _guard(self, function: Callable[..., Any], author: str, hook_name: str) -> Callable[..., Any]:
        """Wrap one hook implementation: name its plugin on failure, check its result, record who answered."""
        check = RESULT_CHECKS.get(hook_name)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                result = function(*args, **kwargs)
            except TTSError:
                raise  # a deliberate, already worded refusal (e.g. a setting that cannot work with this model)
            except Exception as exc:
                raise StrategyError(
                    f"plugin {author!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                ) from exc
            if result is not None:
                problem = check(result) if check is not None else "this hook returns nothing; return None"
                if problem:
                    raise StrategyError(f"plugin {author!r}'s {hook_name} returned {result!r}; {problem}.")
                self._answers.append((author, result))
            return result

        guarded.__wrapped__ = function  # type: ignore[attr-defined]
        return guarded


def _describe(plugin: object) -> str:
    name = getattr(plugin, "name", None) or getattr(plugin, "__name__", None) or type(plugin).__name__
    return repr(name)


def strategy_registry(reload: bool = False) -> dict[str, type[Strategy]]:
    """Map strategy name to class, from built-in modules and the ``tts`` entry points (cached)."""
    global _registry
    if _registry is not None and not reload:
        return _registry
    manager = _registration_manager()
    registry: dict[str, type[Strategy]] = {}

    def register(cls: type[Strategy]) -> None:
        name = getattr(cls, "name", None)
        if not inspect.isclass(cls) or not isinstance(name, str) or not name:
            raise StrategyError(f"register() needs a Strategy class with a 'name', got {cls!r}.")
        if name in registry and registry[name] is not cls:
            raise StrategyError(
                f"two plugins register a strategy called {name!r} ({registry[name].__module__} and "
                f"{cls.__module__}); uninstall one or set {DISABLE_AUTOLOAD_ENV}=1."
            )
        registry[name] = cls

    manager.hook.tts_register_strategies(register=register)
    _registry = registry
    return registry


def _registration_manager() -> TTSPluginManager:
    """A manager holding every built-in plugin module and, unless disabled, every ``tts`` entry point."""
    manager = TTSPluginManager()
    for plugin_name, module_path in BUILTIN_MODULES.items():
        manager.register(importlib.import_module(module_path), name=plugin_name)
    manager.register(importlib.import_module(BUILTIN_ENGINE_MODULE), name="builtin_engines")
    if os.environ.get(DISABLE_AUTOLOAD_ENV, "") not in ("1", "true", "yes"):
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)  # skips names registered above
    return manager


def engine_registry(reload: bool = False) -> dict[str, EngineEntry]:
    """Map engine name to its :class:`~tts.engines.registry.EngineEntry`, from ``tts_register_engines`` (cached).

    Building the registry imports no engine backend: built-in engines are registered as ``"module:Class"``.
    """
    global _engines
    if _engines is not None and not reload:
        return _engines
    registry: dict[str, EngineEntry] = {}

    def register(name: str, engine_cls: type | str, options_cls: type) -> None:
        entry = check_registration(name, engine_cls, options_cls)
        if name in registry and registry[name] != entry:
            raise EngineError(
                f"two plugins register an engine called {name!r} ({registry[name].options_cls.__module__} and "
                f"{options_cls.__module__}); uninstall one or set {DISABLE_AUTOLOAD_ENV}=1."
            )
        registry[name] = entry

    _registration_manager().hook.tts_register_engines(register=register)
    _engines = registry
    return registry


def get_engine_entry(name: str) -> EngineEntry:
    """Return the engine registered as ``name``, or a :class:`ConfigError` listing the registered ones."""
    registry = engine_registry()
    if name not in registry:
        raise ConfigError(
            f"unknown engine {name!r}{did_you_mean(name, registry)}; use one of {', '.join(sorted(registry))}."
        )
    return registry[name]


def get_strategy_class(name: str) -> type[Strategy]:
    """Return the strategy class registered as ``name`` (dashes and underscores are interchangeable)."""
    registry = strategy_registry()
    key = name.replace("-", "_")
    if key not in registry:
        raise StrategyError(
            f"unknown strategy {name!r}{did_you_mean(key, registry)}; available: {', '.join(sorted(registry))}."
        )
    return registry[key]


def run_plugin_manager(strategies: Sequence[object], defaults: object) -> TTSPluginManager:
    """A fresh manager for one run: ``defaults`` registered trylast, then the strategies.

    pluggy calls implementations last-registered-first, so strategies are registered in reverse: the
    first strategy in the list is called first.
    """
    manager = TTSPluginManager()
    manager.register(defaults, name="defaults")
    for index, strategy in reversed(list(enumerate(strategies))):
        manager.register(strategy, name=f"{index}:{getattr(strategy, 'name', type(strategy).__name__)}")
    return manager
