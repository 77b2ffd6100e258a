"""The CPU smoke example runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "finetune_tiny.py"


@pytest.mark.slow
def test_finetune_tiny_example(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "in 6 steps" in proc.stdout and "thinking " in proc.stdout
    first, last = (float(x) for x in proc.stdout.split("loss ")[1].split(" in ")[0].split(" -> "))
    assert last < first
    assert (tmp_path / "s1-tiny" / "model.safetensors").exists()
