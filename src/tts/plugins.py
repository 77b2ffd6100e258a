"""Plugin managers: the process-wide strategy registry and the per-run hook caller.

Strategies come from two places through one path: the built-in modules listed in :data:`BUILTIN_MODULES`
and third-party modules advertised in the ``tts`` entry-point group, e.g. in a plugin's pyproject::

    [project.entry-points.tts]
    my_strategy = "my_package.my_module"

Each such module implements ``tts_register_strategies(register)``. Set ``TTS_DISABLE_PLUGIN_AUTOLOAD=1``
to load only the built-ins (useful to rule out a broken third-party plugin).
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import StrategyError, did_you_mean

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
}

_registry: dict[str, type[Strategy]] | None = None


class TTSPluginManager(pluggy.PluginManager):
    """A pluggy manager where every ``tts_*`` attribute of a plugin is a hook implementation.

    Plugins need no decorator (``@tts.hookimpl`` is still honoured for options such as ``tryfirst``), and
    :meth:`register` checks at once that each ``tts_*`` name matches a hook spec.
    """

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)

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
        return registered


def _describe(plugin: object) -> str:
    name = getattr(plugin, "name", None) or getattr(plugin, "__name__", None) or type(plugin).__name__
    return repr(name)


def strategy_registry(reload: bool = False) -> dict[str, type[Strategy]]:
    """Map strategy name to class, from built-in modules and the ``tts`` entry points (cached)."""
    global _registry
    if _registry is not None and not reload:
        return _registry
    manager = TTSPluginManager()
    for plugin_name, module_path in BUILTIN_MODULES.items():
        manager.register(importlib.import_module(module_path), name=plugin_name)
    if os.environ.get(DISABLE_AUTOLOAD_ENV, "") not in ("1", "true", "yes"):
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)  # skips names registered above
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
