"""The accelerate configuration for multi-GPU finetuning: FSDP full-shard wrapping the decoder layer.

The s1 recipe trained Qwen2.5-32B-Instruct on 16 H100 (2 nodes x 8) with FSDP ``full_shard auto_wrap``
and ``Qwen2DecoderLayer`` as the unit of wrapping. This module writes the same setting as an
``accelerate launch --config_file`` YAML, so that we build no distributed machinery of our own::

    python -m tts.finetune.fsdp --num-machines 2 --num-processes 16 -o fsdp_s1.yaml
    accelerate launch --config_file fsdp_s1.yaml --machine_rank $RANK --main_process_ip $HEAD \\
        -m tts.finetune finetune --model Qwen/Qwen2.5-32B-Instruct --data simplescaling/s1K --output ckpts/s1-32b

The state dict is gathered in full on save (``FULL_STATE_DICT``) so the saved model loads with
``tts.HFEngine`` like any checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def accelerate_config(
    num_processes: int = 16,
    num_machines: int = 2,
    layer_cls: str = "Qwen2DecoderLayer",
    mixed_precision: str = "bf16",
    main_process_port: int = 29500,
) -> dict[str, Any]:
    """Return the accelerate config (as a dict) for FSDP full-shard with ``layer_cls`` as the wrapping unit."""
    for name, value in (("num_processes", num_processes), ("num_machines", num_machines)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    if num_processes % num_machines:
        raise ConfigError(
            f"num_processes={num_processes} is not a multiple of num_machines={num_machines}; "
            "give the total number of processes over all machines."
        )
    if mixed_precision not in ("no", "bf16", "fp16"):
        raise ConfigError(f"mixed_precision must be 'no', 'bf16' or 'fp16', got {mixed_precision!r}.")
    return {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "FSDP",
        "fsdp_config": {
            "fsdp_version": 1,
            "fsdp_sharding_strategy": "FULL_SHARD",
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_transformer_layer_cls_to_wrap": layer_cls,
            "fsdp_backward_prefetch": "BACKWARD_PRE",
            "fsdp_state_dict_type": "FULL_STATE_DICT",
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_sync_module_states": True,
            "fsdp_use_orig_params": True,
            "fsdp_offload_params": False,
        },
        "machine_rank": 0,
        "main_process_port": main_process_port,
        "mixed_precision": mixed_precision,
        "num_machines": num_machines,
        "num_processes": num_processes,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
    }


def cpu_config(num_processes: int = 2, main_process_port: int = 29500) -> dict[str, Any]:
    """Data-parallel CPU processes over gloo: the smoke-run stand-in for FSDP.

    accelerate refuses FSDP without an accelerator ("no available devices found"), so a CPU run can check the
    multi-process path (launch, data sharding, gradient sync, rank-0 saving) but not the sharding itself.
    The launcher type is the torchrun one (accelerate's ``MULTI_CPU`` type starts several processes only
    through ``mpirun``); each process then picks gloo because training runs with ``use_cpu=True``
    (``tts finetune --use-cpu``) or ``ACCELERATE_USE_CPU=1`` is set.
    """
    if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1:
        raise ConfigError(f"num_processes must be a positive integer, got {num_processes!r}.")
    return {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "MULTI_GPU",
        "machine_rank": 0,
        "main_process_ip": "127.0.0.1",
        "main_process_port": main_process_port,
        "mixed_precision": "no",
        "num_machines": 1,
        "num_processes": num_processes,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
    }


def write_accelerate_config(path: str | Path, config: dict[str, Any] | None = None, **kwargs: Any) -> Path:
    """Write ``config`` (default: :func:`accelerate_config` with ``kwargs``) as YAML to ``path``; return it."""
    import yaml

    out = Path(path)
    what = "FSDP full-shard as in the s1 recipe" if config is None else "CPU smoke run (train with --use-cpu)"
    text = f"# {what}; written by tts.finetune.fsdp\n"
    text += yaml.safe_dump(config or accelerate_config(**kwargs), sort_keys=False)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_text(text)
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m tts.finetune.fsdp -o fsdp.yaml [--num-processes 16] [--num-machines 2]``."""
    parser = argparse.ArgumentParser(prog="python -m tts.finetune.fsdp", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", required=True, help="where to write the accelerate YAML")
    parser.add_argument("--num-processes", type=int, default=16, help="processes (GPUs) over all machines")
    parser.add_argument("--num-machines", type=int, default=2, help="machines (nodes)")
    parser.add_argument("--layer-cls", default="Qwen2DecoderLayer", help="decoder layer class FSDP wraps")
    parser.add_argument("--mixed-precision", default="bf16", choices=["no", "bf16", "fp16"])
    parser.add_argument(
        "--main-process-port", type=int, default=29500, help="rendezvous port on the head node"
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="data-parallel CPU processes over gloo instead of FSDP (a smoke run)",
    )
    args = parser.parse_args(argv)
    if args.cpu:
        path = write_accelerate_config(args.output, cpu_config(args.num_processes, args.main_process_port))
    else:
        path = write_accelerate_config(
            args.output,
            num_processes=args.num_processes,
            num_machines=args.num_machines,
            layer_cls=args.layer_cls,
            mixed_precision=args.mixed_precision,
            main_process_port=args.main_process_port,
        )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
