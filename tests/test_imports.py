"""`import tts` stays light: no vLLM, no trl, not even torch until an engine is built."""

from __future__ import annotations

import subprocess
import sys


def test_import_tts_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, tts, tts.cli, tts.finetune, tts.strategies, tts.answers\n"
        "heavy = [m for m in ('vllm', 'trl', 'datasets', 'accelerate', 'torch', 'transformers') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import tts loaded {out}"
