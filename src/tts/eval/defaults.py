"""What ``tts compare`` uses when it is given nothing: the one place that names the built-in model,
benchmark and grid.

The built-in model is the miniature s1 shipped inside the package (:mod:`tts.miniature`, docs/miniature.md):
a 1.74M-parameter model trained here to think in the s1 format on chained one-digit arithmetic, on which
budget forcing really changes answers. Its benchmark is the miniature's held-out set.
"""

from __future__ import annotations

#: How the built-in model is named in run identities (its path differs between machines).
BUILTIN_MODEL = "builtin:miniature"
#: The benchmark shipped inside the package that ``tts compare`` runs by default.
BUILTIN_BENCHMARK = "miniature"
#: With no ``--benchmark`` and no ``--limit``: the first problems of the built-in benchmark, so the default
#: comparison takes about a minute on a laptop CPU (``--limit 200`` runs all of them).
BUILTIN_LIMIT = 60
#: The shipped grid run with no arguments (``src/tts/eval/grids/tiny.toml``).
BUILTIN_GRID = "tiny"
#: Engine settings the built-in model needs (fp32 on the CPU: deterministic greedy decoding).
BUILTIN_ENGINE_OPTIONS = {"dtype": "float32"}


def builtin_model() -> str:
    """The directory of the built-in model (the shipped miniature)."""
    from ..miniature import shipped_model_path

    return str(shipped_model_path())
