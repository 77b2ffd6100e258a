"""What ``tts compare`` uses when it is given nothing: the one place that names the built-in model,
benchmark and grid.

The built-in model is today the tiny random-weight model of :mod:`tts.testing` (its answers are noise, its
token accounting is real); replacing it with a trained miniature means changing :func:`builtin_model` only.
"""

from __future__ import annotations

#: How the built-in model is named in run identities (its cache path differs between machines).
BUILTIN_MODEL = "builtin:tiny-random"
#: The benchmark shipped inside the package.
BUILTIN_BENCHMARK = "tiny"
#: The shipped grid run with no arguments (``src/tts/eval/grids/tiny.toml``).
BUILTIN_GRID = "tiny"
#: Engine settings the built-in model needs (fp32 on the CPU: deterministic greedy decoding).
BUILTIN_ENGINE_OPTIONS = {"dtype": "float32"}


def builtin_model() -> str:
    """Build (once, cached under ``$TTS_CACHE``) the built-in model; return its directory."""
    from ..testing import build_tiny_model, default_tiny_model_dir

    return str(build_tiny_model(default_tiny_model_dir()))
