"""The run log: append-only, locked, identity-checked; never rewrites a byte, never touches a foreign file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tts
from tts.errors import RunLogError, TTSError
from tts.runlog import (
    RunLog,
    fingerprint,
    fingerprint_file,
    identity_differences,
    read_run_log,
    strategy_identity,
)

IDENTITY = {"model": "m", "strategies": [{"name": "budget_forcing", "settings": {"max_thinking_tokens": 64}}],
            "sampling": {"temperature": 0.0, "seed": None}, "problems": {"count": 3, "sha256": "abc"}}
SRC = str(Path(tts.__file__).resolve().parents[1])


def test_new_log_has_a_header_and_one_line_per_record(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "run.jsonl"
    with RunLog.open(path, IDENTITY, resume=False) as log:
        assert log.done == {}
        log.append("0", {"answer": "4"})
        log.append("2", {"answer": "-Infinity is fine", "logprob": float("-inf")})
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["tts_run_log"] == 1 and header["identity"] == IDENTITY and header["tts_version"] == tts.__version__
    assert [json.loads(line)["key"] for line in lines[1:]] == ["0", "2"]
    contents = read_run_log(path)
    assert contents.identity == IDENTITY and list(contents.records) == ["0", "2"] and contents.skipped_lines == 0
    assert contents.records["2"]["logprob"] == float("-inf")


def test_resume_continues_only_with_the_same_identity(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with RunLog.open(path, IDENTITY, resume=False) as log:
        log.append("0", {"answer": "a"})
    before = path.read_bytes()
    with pytest.raises(RunLogError, match="already holds 1 records.*--resume"):
        RunLog.open(path, IDENTITY, resume=False)
    changed = json.loads(json.dumps(IDENTITY))
    changed["strategies"][0]["settings"]["max_thinking_tokens"] = 32
    changed["problems"]["sha256"] = "def"
    with pytest.raises(RunLogError) as info:
        RunLog.open(path, changed, resume=True)
    message = str(info.value)
    assert "strategies[0].settings.max_thinking_tokens: stored 64, now 32" in message
    assert "problems.sha256" in message and "sampling" not in message
    assert path.read_bytes() == before
    # Tuples and lists are the same identity once stored as JSON.
    same = dict(IDENTITY, strategies=tuple(IDENTITY["strategies"]))
    with RunLog.open(path, same, resume=True) as log:
        assert list(log.done) == ["0"]
        log.append("1", {"answer": "b"})
        with pytest.raises(RunLogError, match="already in"):
            log.append("0", {"answer": "again"})
    assert path.read_bytes().startswith(before)
    assert list(read_run_log(path).records) == ["0", "1"]


def test_identity_differences_name_added_and_removed_fields() -> None:
    assert identity_differences(IDENTITY, IDENTITY) == []
    diff = identity_differences({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2, 3], "c": "x"})
    assert diff == ["b: stored [1, 2], now [1, 2, 3]", 'c: stored <absent>, now "x"']


def test_a_torn_last_line_is_skipped_kept_and_ended_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with RunLog.open(path, IDENTITY, resume=False) as log:
        log.append("0", {"answer": "a"})
    with path.open("ab") as handle:  # what a kill in the middle of a write leaves
        handle.write(b'{"key": "1", "record": {"ans')
    torn = path.read_bytes()
    contents = read_run_log(path)
    assert list(contents.records) == ["0"] and contents.skipped_lines == 1 and not contents.ends_cleanly
    with RunLog.open(path, IDENTITY, resume=True) as log:
        assert list(log.done) == ["0"]
        log.append("1", {"answer": "b"})
    data = path.read_bytes()
    assert data.startswith(torn) and data[len(torn):len(torn) + 1] == b"\n"
    contents = read_run_log(path)
    assert contents.records == {"0": {"answer": "a"}, "1": {"answer": "b"}} and contents.skipped_lines == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(finished=st.integers(0, 6), cut=st.floats(0, 1, exclude_max=True), total=st.integers(7, 9))
@example(finished=4, cut=0.9999, total=7)
def test_any_crash_then_resume_gives_every_record_exactly_once(tmp_path: Path, finished: int, cut: float,
                                                                total: int) -> None:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "run.jsonl"
    with RunLog.open(path, IDENTITY, resume=False) as log:
        for key in range(finished):
            log.append(str(key), {"value": key, "text": "é" * key})
    line = (json.dumps({"key": str(finished), "record": {"value": finished}}) + "\n").encode()
    written = int(cut * len(line))
    with path.open("ab") as handle:
        handle.write(line[:written])  # the record in flight, cut anywhere (or not started)
    crashed = path.read_bytes()
    whole = written >= len(line) - 1  # all of it but the newline: the record itself is intact
    with RunLog.open(path, IDENTITY, resume=True) as log:
        assert set(log.done) == {str(k) for k in range(finished + whole)}
        for key in range(total):
            if str(key) not in log.done:
                log.append(str(key), {"value": key})
    data = path.read_bytes()
    assert data.startswith(crashed)
    keys = [row["key"] for row in map(_json_or_none, data.splitlines()[1:]) if isinstance(row, dict)]
    assert sorted(keys, key=int) == [str(k) for k in range(total)]


def _json_or_none(line: bytes) -> object:
    try:
        return json.loads(line)
    except ValueError:
        return None


@pytest.mark.parametrize("content", [b"my own notes\n", b'{"index": 0, "answer": "an old record"}\n', b"\x00\xff\x10",
                                     b'{"tts_run_log": 1}\n', b"[1, 2, 3]\n"])
@pytest.mark.parametrize("resume", [False, True])
def test_a_file_that_is_not_a_run_log_is_never_touched(tmp_path: Path, content: bytes, resume: bool) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_bytes(content)
    os.utime(path, (1_000_000, 1_000_000))
    with pytest.raises(RunLogError, match="not a tts run log"):
        RunLog.open(path, IDENTITY, resume=resume)
    assert path.read_bytes() == content and path.stat().st_mtime == 1_000_000
    with pytest.raises(RunLogError, match="not a tts run log"):
        read_run_log(path)


def test_a_log_cut_inside_its_header_says_so(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b'{"tts_run_log": 1, "identity": {"mod')
    with pytest.raises(RunLogError, match="header cut off by a crash"):
        RunLog.open(path, IDENTITY, resume=True)
    assert path.read_bytes() == b'{"tts_run_log": 1, "identity": {"mod'


def test_an_empty_existing_file_becomes_a_log(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.touch()
    with RunLog.open(path, IDENTITY, resume=False) as log:
        log.append("0", {})
    assert read_run_log(path).records == {"0": {}}


def test_the_output_may_not_be_an_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "problems.jsonl"
    source.write_text('"What is 2+2?"\n')
    os.symlink(source, tmp_path / "link.jsonl")
    os.link(source, tmp_path / "hard.jsonl")
    monkeypatch.chdir(tmp_path)
    for output in [source, tmp_path / "link.jsonl", tmp_path / "hard.jsonl", Path("problems.jsonl"),
                   tmp_path / "sub" / ".." / "problems.jsonl"]:
        with pytest.raises(RunLogError, match="is also an input"):
            RunLog.open(output, IDENTITY, resume=True, forbid=[Path("problems.jsonl")])
    assert source.read_text() == '"What is 2+2?"\n' and not (tmp_path / "sub").exists()


def test_a_directory_or_unwritable_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RunLogError, match="is a directory"):
        RunLog.open(tmp_path, IDENTITY, resume=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunLogError, match="cannot open output"):
        RunLog.open(tmp_path / "file" / "run.jsonl", IDENTITY, resume=False)


def test_bad_records_and_identities_write_nothing(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with pytest.raises(RunLogError, match="plain JSON"):
        RunLog.open(path, {"engine": object()}, resume=False)
    assert not path.exists()
    with RunLog.open(path, IDENTITY, resume=False) as log:
        size = path.stat().st_size
        with pytest.raises(RunLogError, match="cannot be written as JSON"):
            log.append("0", {"engine": object()})
        with pytest.raises(RunLogError, match="keys are strings"):
            log.append(0, {})  # type: ignore[arg-type]
        assert path.stat().st_size == size
    with pytest.raises(RunLogError, match="is closed"):
        log.append("1", {})
    assert issubclass(RunLogError, TTSError)


def test_a_second_writer_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with RunLog.open(path, IDENTITY, resume=False) as log:
        log.append("0", {})
        with pytest.raises(RunLogError, match="locked: another process is writing it"):
            RunLog.open(path, IDENTITY, resume=True)
        assert read_run_log(path).records == {"0": {}}  # readers need no lock
    with RunLog.open(path, IDENTITY, resume=True) as log:  # closing released the lock
        log.append("1", {})


def test_a_writer_in_another_process_holds_the_lock_until_it_dies(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import json, sys, time; from tts.runlog import RunLog; "
         "log = RunLog.open(sys.argv[1], json.loads(sys.argv[2]), resume=False); print('locked', flush=True); "
         "time.sleep(120)", str(path), json.dumps(IDENTITY)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": SRC},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLogError, match=f"{path.name}.*another process"):
            RunLog.open(path, IDENTITY, resume=True)
    finally:
        holder.kill()
        holder.wait()
    with RunLog.open(path, IDENTITY, resume=True) as log:
        assert log.done == {}


def test_fingerprints_are_stable() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint(["q1", "q2"]) != fingerprint(["q2", "q1"])
    assert len(fingerprint("x")) == 64


def test_fingerprint_file_hashes_bytes(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "data.bin"
    path.write_bytes(b"abc" * 1_000_000)
    assert fingerprint_file(path) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()
    with pytest.raises(RunLogError, match="cannot read"):
        fingerprint_file(tmp_path / "missing")


def test_strategy_identity_holds_every_setting() -> None:
    strategy = tts.strategies.BudgetForcing(max_thinking_tokens=64, num_ignore=2)
    identity = strategy_identity(strategy)
    assert identity["name"] == "budget_forcing"
    assert identity["settings"]["max_thinking_tokens"] == 64 and identity["settings"]["num_ignore"] == 2
    assert identity != strategy_identity(tts.strategies.BudgetForcing(max_thinking_tokens=64, num_ignore=1))


def test_the_docs_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "run-log.md").read_text()
    example = page.split("## For library users and tool authors")[1].split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "problems.jsonl").write_text('"q0"\n"q1"\n')
    namespace = {"questions": ["q0", "q1"], "solve": str.upper}
    exec(example, namespace)  # noqa: S102 - our own docs
    exec(example, namespace)  # a resume: nothing left to do, nothing written twice
    assert read_run_log(tmp_path / "out.jsonl").records == {"0": {"answer": "Q0"}, "1": {"answer": "Q1"}}
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 3


def test_appends_from_several_threads_stay_whole_lines(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "run.jsonl"
    with RunLog.open(path, IDENTITY, resume=False) as log:
        def write(worker: int) -> None:
            for i in range(25):
                log.append(f"{worker}-{i}", {"text": "x" * 5000})

        threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    contents = read_run_log(path)
    assert len(contents.records) == 150 and contents.skipped_lines == 0
    assert len(path.read_text().splitlines()) == 151
