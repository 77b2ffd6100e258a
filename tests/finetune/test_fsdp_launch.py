"""Scale-out: the shipped FSDP config, and a real 2-process CPU launch through ``accelerate launch``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")
pytest.importorskip("accelerate")

from tts.finetune.fsdp import accelerate_config, main  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_fsdp_config_is_full_shard_of_the_decoder_layer(tmp_path: Path) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    assert main(["-o", str(tmp_path / "fsdp.yaml")]) == 0
    loaded = load_config_from_file(str(tmp_path / "fsdp.yaml"))  # accelerate's own parser
    assert str(loaded.distributed_type).endswith("FSDP")
    assert (loaded.num_processes, loaded.num_machines, loaded.mixed_precision) == (16, 2, "bf16")
    fsdp = loaded.fsdp_config
    assert fsdp["fsdp_sharding_strategy"] == "FULL_SHARD"
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert fsdp["fsdp_transformer_layer_cls_to_wrap"] == "Qwen2DecoderLayer"
    assert fsdp["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # saved model loads with tts.HFEngine
    shipped = (ROOT / "examples" / "accelerate_fsdp_s1.yaml").read_text()
    assert shipped == (tmp_path / "fsdp.yaml").read_text()  # the shipped file is what the module writes


def test_fsdp_config_rejects_uneven_machines() -> None:
    from tts.errors import ConfigError

    with pytest.raises(ConfigError, match="num_processes=9 is not a multiple of num_machines=2"):
        accelerate_config(num_processes=9, num_machines=2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_two_cpu_processes_train_and_save(
    tmp_path: Path, tiny_model_path: str, s1k_rows: list[dict[str, Any]]
) -> None:
    config = tmp_path / "cpu.yaml"
    port = str(_free_port())
    assert main(["-o", str(config), "--cpu", "--num-processes", "2", "--main-process-port", port]) == 0
    data = tmp_path / "s1k.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in s1k_rows))
    out = tmp_path / "model"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
        "-m", "tts.finetune", "finetune", "--model", tiny_model_path, "--data", str(data), "--output", str(out),
        "--use-cpu", "--epochs", "2", "--global-batch-size", "4", "--max-length", "512", "--learning-rate", "1e-3",
        "--set", "gradient_checkpointing=false",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "rank 0 of 2 finished" in log and "rank 1 of 2 finished" in log
    # 8 examples, global batch 4 over 2 processes -> 2 steps per epoch, 2 epochs.
    assert "finetuned on 8 examples: 4 steps" in proc.stdout
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpu.yaml", "model", "s1k.jsonl"]
