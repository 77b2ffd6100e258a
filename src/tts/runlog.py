"""The run log: one append-only, locked, identity-checked JSONL file of finished records.

A run (``tts run --output``, ``tts compare``) writes what it finishes here, one line per record, as soon as
the record exists, so a crash costs at most the work in flight. The file is never rewritten, truncated or
reordered; resuming only appends. Layout::

    {"tts_run_log": 1, "identity": {...}, "created": "...", "tts_version": "..."}   <- header, first line
    {"key": "0", "record": {...}}                                                   <- one line per record
    {"key": "3", "record": {...}}

Guarantees, each enforced by :meth:`RunLog.open` before anything is written:

- **identity**: the header stores what makes the records comparable (model, engine, strategies and their
  settings, sampling, think format, a hash of the input). Resuming with a different identity is refused
  with the differing fields named, so records of two different runs never mix in one file.
- **one writer**: the file is locked (``flock``, exclusive, non-blocking) while open; a second writer fails
  at once instead of duplicating records.
- **nobody else's file**: a non-empty file that is not a tts run log (a user's own data, the input) is
  never opened for writing; nor is a path that is one of the run's inputs.
- **torn lines**: a crash in the middle of a write leaves a cut-off last line. Readers skip it; the next
  append first writes a newline, so the cut line stays a separate, skipped line and is never repaired in place.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import RunLogError

#: Format version written in every header (``{"tts_run_log": FORMAT_VERSION, ...}``).
FORMAT_VERSION = 1
_HEADER_KEY = "tts_run_log"
_HEADER_PREFIX = b'{"' + _HEADER_KEY.encode() + b'"'


def fingerprint(obj: Any) -> str:
    """SHA-256 (hex) of ``obj`` as canonical JSON (sorted keys): equal data gives an equal hash.

    Used for run identities, e.g. the hash of the list of problems a run was given.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fingerprint_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks (the identity of an input file)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise RunLogError(f"cannot read {str(path)!r} to fingerprint it ({exc.strerror}); check the path.") from None
    return digest.hexdigest()


@dataclass
class RunLogContents:
    """What :func:`read_run_log` found in a run log.

    Attributes:
        path: The file.
        header: The first line (format version, identity, creation time).
        identity: ``header["identity"]``.
        records: Key -> record, for every complete record line, in file order.
        skipped_lines: Lines that are not complete records (cut off by a crash), left in place and ignored.
        ends_cleanly: False when the file ends in a cut-off line (the next append writes a newline first).
    """

    path: Path
    header: dict[str, Any]
    identity: dict[str, Any]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped_lines: int = 0
    ends_cleanly: bool = True


def read_run_log(path: str | os.PathLike[str]) -> RunLogContents:
    """Read a run log without locking it (for tools that only read, e.g. reports and viewers).

    Raises:
        tts.errors.RunLogError: if the file is missing, empty, or not a tts run log.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise RunLogError(f"cannot read run log {str(p)!r} ({exc.strerror}); check the path.") from None
    contents = _parse(p, data)
    if contents is None:
        raise RunLogError(f"{str(p)!r} is empty; it holds no tts run log yet.")
    return contents


def _parse(path: Path, data: bytes) -> RunLogContents | None:
    """Parse a run log's bytes; ``None`` for an empty file; RunLogError if it is not a run log."""
    if not data:
        return None
    lines = data.split(b"\n")
    header = _json_line(lines[0])
    if header is None and len(lines) == 1 and data.startswith(_HEADER_PREFIX):
        raise RunLogError(
            f"{str(path)!r} holds only a tts run log header cut off by a crash and no records; delete it and "
            "start the run again."
        )
    if not isinstance(header, dict) or _HEADER_KEY not in header or not isinstance(header.get("identity"), dict):
        raise RunLogError(
            f"{str(path)!r} exists and is not a tts run log (its first line is not a tts header); tts never "
            "writes into another file, so choose a new output path."
        )
    if header[_HEADER_KEY] != FORMAT_VERSION:
        raise RunLogError(
            f"{str(path)!r} is a tts run log of format {header[_HEADER_KEY]!r}, this tts writes format "
            f"{FORMAT_VERSION}; use the tts version that wrote it or choose a new output path."
        )
    contents = RunLogContents(path, header, header["identity"], ends_cleanly=data.endswith(b"\n"))
    for line in lines[1:]:
        if not line.strip():
            continue
        row = _json_line(line)
        if isinstance(row, dict) and isinstance(row.get("key"), str) and isinstance(row.get("record"), dict):
            contents.records.setdefault(row["key"], row["record"])
        else:
            contents.skipped_lines += 1
    return contents


def _json_line(line: bytes) -> Any:
    try:
        return json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


class RunLog:
    """An open run log: the records already done, and :meth:`append` for new ones. Use :meth:`open`.

    Attributes:
        path: The file.
        identity: The run identity stored in the header.
        done: Key -> record of every complete record (earlier runs' and those appended since opening).
    """

    def __init__(self, path: Path, fd: int, identity: dict[str, Any], done: dict[str, dict[str, Any]],
                 needs_newline: bool) -> None:
        self.path = path
        self.identity = identity
        self.done = done
        self._fd: int | None = fd
        self._needs_newline = needs_newline
        self._writing = threading.Lock()  # appends from several threads stay whole lines

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        identity: Mapping[str, Any],
        *,
        resume: bool,
        forbid: Sequence[str | os.PathLike[str]] = (),
    ) -> RunLog:
        """Open (or create) the run log at ``path`` for appending, locked until :meth:`close`.

        Args:
            path: The log file; missing parent directories are created.
            identity: What identifies the run (JSON-serialisable); stored in a new log's header and compared
                with an existing log's header when resuming.
            resume: Continue an existing log of the same identity. Without it an existing non-empty file is
                refused, so finished work is never overwritten or mixed by accident.
            forbid: The run's input paths; ``path`` may not be any of them (symlinks and hard links resolved).

        Raises:
            tts.errors.RunLogError: for every refusal above, and when another process holds the lock.
        """
        p = Path(path)
        wanted = _normalise(identity)
        _check_not_an_input(p, forbid)
        if p.is_dir():
            raise RunLogError(f"output {str(p)!r} is a directory; pass a file path such as {str(p / 'run.jsonl')!r}.")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise RunLogError(f"cannot open output {str(p)!r} ({exc.strerror}); choose a writable path.") from None
        try:
            return cls._locked(p, fd, wanted, resume)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def _locked(cls, path: Path, fd: int, wanted: dict[str, Any], resume: bool) -> RunLog:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLogError(
                f"output {str(path)!r} is locked: another process is writing it; wait for that run to finish or "
                "choose another output path."
            ) from None
        contents = _parse(path, _read_all(fd))
        if contents is None:
            header = {_HEADER_KEY: FORMAT_VERSION, "identity": wanted, "tts_version": _version(),
                      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
            _write_all(fd, (json.dumps(header, sort_keys=True) + "\n").encode("utf-8"))
            os.fsync(fd)
            _fsync_dir(path.parent)
            return cls(path, fd, wanted, {}, needs_newline=False)
        if not resume:
            raise RunLogError(
                f"output {str(path)!r} already holds {len(contents.records)} records of a run; pass --resume "
                "(resume=True) to continue it, or choose another path."
            )
        differences = identity_differences(contents.identity, wanted)
        if differences:
            raise RunLogError(
                f"cannot resume {str(path)!r}: it was written by a different run ({'; '.join(differences)}); "
                "rerun with the same settings or choose another output path."
            )
        return cls(path, fd, contents.identity, contents.records, needs_newline=not contents.ends_cleanly)

    def append(self, key: str, record: Mapping[str, Any]) -> None:
        """Write one record as one line and fsync it; it is on disk when this returns.

        Raises:
            tts.errors.RunLogError: if the log is closed, ``key`` is already done, or the record is not JSON.
        """
        if not isinstance(key, str):
            raise RunLogError(f"run log keys are strings, got {key!r}; pass str(key).")
        try:
            line = json.dumps({"key": key, "record": record}) + "\n"
        except (TypeError, ValueError) as exc:
            raise RunLogError(f"record {key!r} cannot be written as JSON ({exc}); pass plain data.") from None
        stored = json.loads(line)["record"]
        with self._writing, _sigint_deferred():  # a Ctrl-C lands after the record is written and counted
            if self._fd is None:
                raise RunLogError(f"run log {str(self.path)!r} is closed; open it again to append.")
            if key in self.done:
                raise RunLogError(f"record {key!r} is already in {str(self.path)!r}; each key is written once.")
            # A cut-off last line (a crash during an earlier write) is ended first, so it stays a separate,
            # skipped line instead of corrupting this record.
            _write_all(self._fd, ("\n" + line if self._needs_newline else line).encode("utf-8"))
            self._needs_newline = False
            self.done[key] = stored
            os.fsync(self._fd)

    def close(self) -> None:
        """Release the lock and close the file (idempotent)."""
        with self._writing:
            fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def identity_differences(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two identities, by dotted field path (``[]`` when equal)."""
    out: list[str] = []
    _diff(_normalise(stored), _normalise(wanted), "", out)
    return out


def _diff(old: Any, new: Any, where: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _diff(old.get(key, _MISSING), new.get(key, _MISSING), f"{where}.{key}" if where else key, out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            _diff(a, b, f"{where}[{i}]", out)
    elif old != new:
        out.append(f"{where or 'identity'}: stored {_short(old)}, now {_short(new)}")


_MISSING = "<absent>"


def _short(value: Any) -> str:
    text = value if value == _MISSING else json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _normalise(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The identity as it reads back from JSON (tuples become lists, keys strings), for exact comparison."""
    try:
        result = json.loads(json.dumps(dict(identity), sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise RunLogError(f"a run identity must be plain JSON data ({exc}); convert the values to str/int/float.") from None
    return dict(result)


def _check_not_an_input(path: Path, forbid: Sequence[str | os.PathLike[str]]) -> None:
    target = path.resolve()
    for other in forbid:
        o = Path(other)
        same = o.resolve() == target
        if not same and path.exists() and o.exists():
            same = os.path.samefile(path, o)
        if same:
            raise RunLogError(
                f"output {str(path)!r} is also an input of this run ({str(o)!r}); writing it would destroy the "
                "input, so choose another output path."
            )


def _read_all(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold SIGINT back in this thread for the duration; a Ctrl-C meanwhile is delivered right after."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (AttributeError, OSError, ValueError):  # a platform without per-thread signal masks
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable too (a no-op where directories cannot be opened)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _version() -> str:
    from . import __version__

    return __version__


def strategy_identity(strategy: Any) -> dict[str, Any]:
    """``{"name": ..., "settings": {...}}`` of a strategy object, as plain JSON, for a run identity."""
    import dataclasses

    settings = {}
    if dataclasses.is_dataclass(strategy):
        settings = {f.name: getattr(strategy, f.name) for f in dataclasses.fields(strategy) if f.init}
    name = getattr(strategy, "name", "") or type(strategy).__name__
    return dict(json.loads(json.dumps({"name": name, "settings": settings}, sort_keys=True, default=repr)))
