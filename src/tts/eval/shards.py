"""Splitting a comparison over machines: ``--shard K/N`` and ``tts compare merge``.

The work of a comparison is the grid's settings times the benchmark's problems. Shard K of N takes every N-th
problem starting at the K-th (1-based) under every setting, so shards are disjoint, together cover everything,
and each shard runs the whole grid — a greedy budget sweep stays one pass inside a shard. A shard's directory records ``K/N`` in its identity; merging checks that every input comes from
the same grid, model and benchmark, that no shard appears twice, and copies each sample line exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TTSError
from .samples import find_samples_file

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def takes(self, problem: int) -> bool:
        """Whether the problem at position ``problem`` (0-based, in benchmark order) belongs to this shard."""
        return problem % self.count == self.index - 1


def parse_shard(spec: str) -> Shard:
    """``"K/N"`` -> :class:`Shard`; ``K`` must be between 1 and ``N``."""
    match = _SPEC.match(spec)
    if not match:
        raise ConfigError(f"shard {spec!r} is not K/N; write e.g. --shard 1/4 for the first of four parts.")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"shard {spec!r} is out of range; K in K/N runs from 1 to N (e.g. 1/{max(count, 2)}).")
    return Shard(index, count)


def shard_pairs(settings: Sequence[str], doc_ids: Sequence[str], shard: Shard | None) -> list[tuple[str, str]]:
    """The (setting, doc_id) pairs a shard runs, in grid order (all of them without a shard)."""
    if shard is not None and shard.count > len(doc_ids):
        raise ConfigError(
            f"shard {shard} splits {len(doc_ids)} problems into {shard.count} parts; use at most {len(doc_ids)} shards."
        )
    mine = [d for j, d in enumerate(doc_ids) if shard is None or shard.takes(j)]
    return [(s, d) for s in settings for d in mine]


def without_shard(identity: dict[str, Any]) -> dict[str, Any]:
    """An identity with its shard removed: what shards of one comparison share."""
    return {k: v for k, v in identity.items() if k != "shard"}


def merge_inputs(directories: Sequence[Path]) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[str]]:
    """Check shard directories against each other; return (shared identity, all records, shards seen).

    Raises:
        tts.errors.TTSError: when the inputs come from different grids, models or benchmarks, repeat a shard,
            or hold the same sample twice.
    """
    from ..runlog import read_run_log

    if not directories:
        raise TTSError("tts compare merge needs at least one input directory.")
    shared: dict[str, Any] | None = None
    first = ""
    records: dict[str, dict[str, Any]] = {}
    shards: list[str] = []
    for directory in directories:
        log = read_run_log(find_samples_file(directory))
        identity = without_shard(log.identity)
        if shared is None:
            shared, first = identity, str(directory)
        elif identity != shared:
            differing = sorted(k for k in set(identity) | set(shared) if identity.get(k) != shared.get(k))
            raise TTSError(
                f"{str(directory)!r} comes from a different comparison than {first!r} (differs in "
                f"{', '.join(differing)}); merge only shards of one grid, model and benchmark."
            )
        shard = str(log.identity.get("shard"))
        if shard in shards:
            raise TTSError(f"shard {shard} appears twice ({str(directory)!r}); pass each shard directory once.")
        shards.append(shard)
        for key, record in log.records.items():
            if key in records:
                raise TTSError(f"sample {key} is in two inputs (the second is {str(directory)!r}); inputs must be disjoint.")
            records[key] = record
    assert shared is not None
    return shared, records, shards


def merge_directories(directories: Sequence[Path], output: Path,
                      reference: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Merge shard directories into ``output`` (a new directory); return (identity, summary).

    The merged samples file holds every input line once, in grid order; ``results.json`` says how much of the
    grid the shards covered, and, with ``reference``, what each setting saved against it.
    """
    from ..runlog import RunLog
    from .compare import check_directory, results_document
    from .grid import Grid
    from .report import resolve_reference, summarize
    from .samples import RESULTS_FILE, complete_problems, samples_path, write_json_atomic

    shared, records, _ = merge_inputs(directories)
    identity = {**shared, "shard": None}
    target = samples_path(output, identity["benchmark"]["name"])
    check_directory(output, target, resume=False)
    grid = Grid.from_dict(identity["grid"])
    if reference is not None:
        reference = resolve_reference(grid, reference)  # before anything is written
    order = {cid: i for i, cid in enumerate(grid.cells)}
    docs = {doc: i for i, doc in enumerate(identity["benchmark"]["doc_ids"])}
    ranked = sorted(records.items(), key=lambda kv: (order[kv[1]["setting"]], docs[kv[1]["doc_id"]], kv[1]["sample"]))
    with RunLog.open(target, identity, resume=False, forbid=[find_samples_file(d) for d in directories]) as log:
        for key, record in ranked:
            log.append(key, record)
    summary = summarize(grid, records.values(), reference=reference)
    total = len(grid.cells) * len(docs)
    write_json_atomic(output / RESULTS_FILE, results_document(identity, summary, len(complete_problems(records)), total))
    return identity, summary
