"""Finetune a model the s1 way: s1K formatting, data selection (59K -> 1K), and SFT through trl.

Importing this package imports neither trl nor datasets; they are loaded when a function needs them.
"""

from __future__ import annotations

from .data import (
    TRACE_SOURCES,
    FormattedExample,
    assistant_content,
    format_example,
    format_rows,
    load_rows,
)
from .sft import PRESETS, BlockSizeReport, FinetuneResult, build_sft_config, build_trainer, check_block_size, finetune, recipe

__all__ = [
    "PRESETS",
    "TRACE_SOURCES",
    "BlockSizeReport",
    "FinetuneResult",
    "FormattedExample",
    "assistant_content",
    "build_sft_config",
    "build_trainer",
    "check_block_size",
    "finetune",
    "format_example",
    "format_rows",
    "load_rows",
    "recipe",
]
