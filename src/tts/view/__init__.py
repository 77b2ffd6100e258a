"""A self-contained HTML view of ``tts compare`` directories: ``tts view DIR`` or :func:`write_view`.

Reads only what :mod:`tts.eval` wrote (``results.json`` and the samples log), never a model; see
``docs/viewing.md``.
"""

from __future__ import annotations

from .cli import add_view_command
from .load import ViewError, read_comparison, verdict
from .page import build_html, script_json, write_view

__all__ = ["ViewError", "add_view_command", "build_html", "read_comparison", "script_json", "verdict", "write_view"]
