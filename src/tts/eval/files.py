"""Rows of a local benchmark file (JSONL, JSON, CSV, parquet), each with the place it came from.

Every row comes with a human location (``"aime.jsonl:17"``, ``"data.json item 3"``, ``"x.parquet row 9"``)
so that a malformed row is reported with its file and line rather than as a traceback from a parser.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DataError, MissingDependencyError

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")

Row = tuple[str, dict[str, Any]]  # (location, row)


def read_rows(path: Path) -> Iterator[Row]:
    """Yield ``(location, row)`` for each record of ``path``; :class:`DataError` names a malformed one."""
    suffix = path.suffix.lower()
    if path.is_dir():
        raise DataError(f"{path} is a directory; pass one {'/'.join(SUFFIXES)} file.")
    if suffix not in SUFFIXES:
        raise DataError(f"{path} has suffix {suffix!r}; benchmark files must be one of {', '.join(SUFFIXES)}.")
    if suffix == ".parquet":
        yield from _parquet_rows(path)
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text (byte {exc.start}); re-save it as UTF-8.") from exc
    if suffix == ".jsonl":
        yield from _jsonl_rows(path, text)
    elif suffix == ".json":
        yield from _json_rows(path, text)
    else:
        yield from _csv_rows(path, text)


def _jsonl_rows(path: Path, text: str) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where} is not valid JSON ({exc.msg}); fix or remove that line.") from exc
        yield where, _as_object(where, row)


def _json_rows(path: Path, text: str) -> Iterator[Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno} is not valid JSON ({exc.msg}); fix the file.") from exc
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]  # the SQuAD-style {"data": [...]} wrapper
    elif isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        columns = list(data)  # column-oriented {"problem": [...], "answer": [...]} (pandas orient="list")
        data = [dict(zip(columns, values)) for values in zip(*data.values())]
    if not isinstance(data, list):
        raise DataError(f"{path} holds a JSON {type(data).__name__}; expected a list of objects, one per problem.")
    for number, row in enumerate(data, start=1):
        where = f"{path} item {number}"
        yield where, _as_object(where, row)


def _csv_rows(path: Path, text: str) -> Iterator[Row]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    try:
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row:
                raise DataError(f"{where} has more values than the header has columns; quote fields with commas.")
            yield where, dict(row)
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num} is not valid CSV ({exc}); fix that line.") from exc


def _parquet_rows(path: Path) -> Iterator[Row]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError(
            f"reading {path} needs pyarrow; run `pip install pyarrow` or convert the file to JSONL."
        ) from exc
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid for a damaged file
        raise DataError(f"{path} is not a readable parquet file ({exc}); re-export it.") from exc
    for number, row in enumerate(table.to_pylist(), start=1):
        yield f"{path} row {number}", row


def _as_object(where: str, row: object) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise DataError(f"{where} is a JSON {type(row).__name__}; each problem must be an object with fields.")
    return row
