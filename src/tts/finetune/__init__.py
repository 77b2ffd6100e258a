"""Finetune a model the s1 way: s1K formatting, data selection (59K -> 1K), and SFT through trl.

* :mod:`tts.finetune.data` — load s1K / s1K-1.1 rows and format them exactly as the s1 reference;
* :mod:`tts.finetune.sft` — the paper's recipe as a preset, run through trl's ``SFTTrainer``;
* :mod:`tts.finetune.fsdp` — the accelerate FSDP config for multi-GPU runs;
* :mod:`tts.finetune.selection` — composable selection stages; :mod:`tts.finetune.sampling` — s1's draw
  and the paper's ablations; :mod:`tts.finetune.domains` / :mod:`tts.finetune.difficulty` — pluggable
  classifiers, reference models and graders.

Importing this package imports neither trl nor datasets; they are loaded when a function needs them.
"""

from __future__ import annotations

from .data import TRACE_SOURCES, FormattedExample, assistant_content, format_example, format_rows, load_rows
from .difficulty import EngineSolver, boxed_match
from .domains import MSC_TOP_LEVEL, LLMDomainClassifier, keyword_domains
from .sampling import diverse_sample, longest_sample, random_sample, s1_sample
from .selection import (
    DifficultyFilter,
    DomainLabels,
    QualityFilter,
    Sample,
    SelectionResult,
    StageReport,
    TraceLength,
    select,
)
from .sft import (
    PRESETS,
    BlockSizeReport,
    FinetuneResult,
    build_sft_config,
    build_trainer,
    check_block_size,
    finetune,
    recipe,
)

__all__ = [
    "MSC_TOP_LEVEL",
    "PRESETS",
    "TRACE_SOURCES",
    "BlockSizeReport",
    "DifficultyFilter",
    "DomainLabels",
    "EngineSolver",
    "FinetuneResult",
    "FormattedExample",
    "LLMDomainClassifier",
    "QualityFilter",
    "Sample",
    "SelectionResult",
    "StageReport",
    "TraceLength",
    "assistant_content",
    "boxed_match",
    "build_sft_config",
    "build_trainer",
    "check_block_size",
    "diverse_sample",
    "finetune",
    "format_example",
    "format_rows",
    "keyword_domains",
    "load_rows",
    "longest_sample",
    "random_sample",
    "recipe",
    "s1_sample",
    "select",
]
