"""``tts select --output``: never silently overwritten, never the input pool, always complete or absent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from finetune_rows import synthetic_pool

from tts.finetune import cli
from tts.finetune.cli import main


def _pool(tmp_path: Path, n: int = 300) -> Path:
    data = tmp_path / "pool.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in synthetic_pool(n)))
    return data


def _select(data: Path, out: Path, *extra: str) -> list[str]:
    return ["select", "--data", str(data), "--output", str(out), "--target", "20", *extra]


def test_an_existing_output_is_refused_unless_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = _pool(tmp_path), tmp_path / "selected.jsonl"
    out.write_text("my previous selection\n")
    assert main(_select(data, out)) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "my previous selection\n"
    assert main(_select(data, out, "--overwrite")) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 20 and all("domain" in row for row in rows)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # like any new file, not the temporary file's 0600


def test_the_input_pool_is_never_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    data = _pool(tmp_path)
    before = data.read_bytes()
    os.symlink(data, tmp_path / "alias.jsonl")
    monkeypatch.chdir(tmp_path)
    for out in (data, tmp_path / "alias.jsonl", Path("pool.jsonl")):
        for extra in ([], ["--overwrite"]):
            assert main(_select(data, out, *extra)) == 2
            assert "is the input pool --data" in capsys.readouterr().err
    assert data.read_bytes() == before


def test_a_directory_is_refused_and_a_missing_one_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _pool(tmp_path)
    assert main(_select(data, tmp_path)) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(_select(data, tmp_path / "new" / "dir" / "selected.jsonl")) == 0
    assert len((tmp_path / "new" / "dir" / "selected.jsonl").read_text().splitlines()) == 20


def test_an_output_that_appears_while_selecting_is_not_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    data, out = _pool(tmp_path), tmp_path / "selected.jsonl"
    real = cli._publish

    def someone_else_writes_first(path: Path, payload: bytes, *, overwrite: bool) -> None:
        path.write_text("another process's file\n")
        real(path, payload, overwrite=overwrite)

    monkeypatch.setattr(cli, "_publish", someone_else_writes_first)
    assert main(_select(data, out)) == 2
    assert "appeared while selecting" in capsys.readouterr().err
    assert out.read_text() == "another process's file\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
