"""Test policy: a DeprecationWarning or FutureWarning raised by a call from tts code fails the test.

Why not only a ``filterwarnings`` line: a filter matches the module that a warning is *attributed* to, and
libraries attribute a deprecation to their caller's frame (``stacklevel=2``). For a deprecated keyword of a
model's forward that caller is torch's ``Module.__call__``, not the tts line that passed the keyword. So while
the tests run, ``warnings.warn`` is wrapped: the attributed frame is followed outwards through call plumbing
(torch's module call, functools/contextlib wrappers, the decorators in ``transformers.utils``) to the first
real caller, and when that caller is tts code the warning is raised in place, as the ``error`` action would.
A deprecation that a library raises from its own internals (the first real caller is the library) stays a
warning. Warnings issued from C are not seen by the wrapper; the ``filterwarnings`` lines in pyproject.toml
catch those that are attributed to a tts frame directly.

Loaded by ``pytest_plugins`` in tests/conftest.py.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType
from typing import Any

CATEGORIES: tuple[type[Warning], ...] = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
# Modules whose frames only pass a call on (module call, wrappers, decorators); the caller behind them counts.
PLUMBING = frozenset({
    "torch.nn.modules.module",
    "torch.utils._contextlib",
    "functools",
    "contextlib",
    "transformers.utils.deprecation",
    "transformers.utils.generic",
})

_original_warn = warnings.warn


def frame_module(frame: FrameType) -> str:
    return str(frame.f_globals.get("__name__", ""))


def real_caller(frame: FrameType | None) -> str:
    """The module of the first frame, from ``frame`` outwards, that is not call plumbing."""
    while frame is not None and frame_module(frame) in PLUMBING:
        frame = frame.f_back
    return "" if frame is None else frame_module(frame)


def is_tts(module: str) -> bool:
    return module == "tts" or module.startswith("tts.")


def warn(message: Any, category: type[Warning] | None = None, stacklevel: int = 1, *args: Any, **kwargs: Any) -> None:
    """``warnings.warn`` that raises a deprecation whose real caller is tts code; else the original."""
    kind = type(message) if isinstance(message, Warning) else (category or UserWarning)
    if issubclass(kind, CATEGORIES):
        try:
            attributed: FrameType | None = sys._getframe(max(stacklevel, 1))
        except ValueError:  # stacklevel beyond the outermost frame
            attributed = None
        if is_tts(real_caller(attributed)):
            raise message if isinstance(message, Warning) else kind(message)
    _original_warn(message, category, stacklevel + 1, *args, **kwargs)


def pytest_configure(config: Any) -> None:
    warnings.warn = warn  # type: ignore[assignment]


def pytest_unconfigure(config: Any) -> None:
    warnings.warn = _original_warn
