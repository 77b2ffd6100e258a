"""``tts view`` without a browser: the page is self-contained and escapes what it embeds; bad input gets one
line; ``--serve`` listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tts.cli import main
from tts.view import script_json, write_view

ROOT = Path(__file__).resolve().parents[2]


def test_script_json_cannot_close_its_script_element() -> None:
    data = {"t": "</script><script>alert(1)</script><!-- & \u2028\u2029 \u00e9"}
    text = script_json(data)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == data
    assert "\u00e9" in text  # non-ASCII stays compact


def test_page_is_one_self_contained_file(compare_dir: Path, tmp_path: Path) -> None:
    page = write_view([compare_dir], tmp_path / "v.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", page), "the page loads nothing"
    assert set(re.findall(r"https?://[^\s\"'<]+", page)) <= {"http://www.w3.org/2000/svg"}  # a namespace, not a fetch
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp and "default-src &#x27;none&#x27;" in csp.group(1) and "unsafe-inline" not in csp.group(1)
    # One trace blob per setting, each parsed only on demand.
    results = json.loads((compare_dir / "results.json").read_text())
    assert len(re.findall(r'<script type="application/json" id="tts-t-0-\d+">', page)) == len(results["settings"])
    assert write_view([compare_dir]) == compare_dir / "view.html"


def test_hostile_text_never_reaches_the_html_raw(compare_dir: Path, hostile_dir: Path, hostile: str, tmp_path: Path) -> None:
    page = write_view([compare_dir, hostile_dir], tmp_path / "v.html").read_text(encoding="utf-8")
    assert hostile not in page and "<script>window" not in page and "<img" not in page
    assert page.count("</script>") == page.count("<script")  # only the page's own elements close


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(["view", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("tts: error: "), err
    return err


def test_bad_directories_get_one_line(compare_dir: Path, copy_of, tmp_path: Path,  # type: ignore[no-untyped-def]
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert "is not a directory" in _error(capsys, str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    assert "not a tts compare directory" in _error(capsys, str(tmp_path / "empty"))

    old = copy_of(compare_dir)
    results = json.loads((old / "results.json").read_text())
    (old / "results.json").write_text(json.dumps({**results, "tts_compare": 99}))
    assert "results format 99" in _error(capsys, str(old))
    (old / "results.json").write_text("{not json")
    assert "is not JSON" in _error(capsys, str(old))


def test_unreadable_or_foreign_samples_files_get_one_line(compare_dir: Path, copy_of,  # type: ignore[no-untyped-def]
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    broken = copy_of(compare_dir)
    (samples,) = broken.glob("samples_*.jsonl")
    original = samples.read_bytes()
    samples.write_bytes(b"\x00\xffnot a log\n")
    assert "not a tts run log" in _error(capsys, str(broken))
    samples.unlink()
    samples.mkdir()  # a samples "file" that cannot be read
    assert "cannot read run log" in _error(capsys, str(broken))
    samples.rmdir()
    header, *lines = original.decode().splitlines()
    first = json.loads(header)
    first["identity"]["model"]["model"] = "another-model"
    samples.write_text("\n".join([json.dumps(first, sort_keys=True), *lines]) + "\n")
    assert "describe different comparisons" in _error(capsys, str(broken))
    first["tts_run_log"] = 7
    samples.write_text(json.dumps(first, sort_keys=True) + "\n")
    assert "format 7" in _error(capsys, str(broken))


def test_a_line_from_another_version_is_named(compare_dir: Path, copy_of,  # type: ignore[no-untyped-def]
                                              capsys: pytest.CaptureFixture[str]) -> None:
    broken = copy_of(compare_dir)
    (samples,) = broken.glob("samples_*.jsonl")
    header, first, *rest = samples.read_text().splitlines()
    line = json.loads(first)
    del line["record"]["num_thinking_tokens"]
    samples.write_text("\n".join([header, json.dumps(line), *rest]) + "\n")
    assert "lacks 'num_thinking_tokens'" in _error(capsys, str(broken))


def test_serve_answers_on_localhost_only(compare_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = tmp_path / "served.html"
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from tts.cli import main; sys.exit(main())",
                             "view", str(compare_dir), "-o", str(out), "--serve", "--no-browser"],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline(), proc.stderr.readline()]
        url = re.search(r"http://127\.0\.0\.1:\d+/", "".join(lines))
        assert url, lines
        with urllib.request.urlopen(url.group(0), timeout=30) as reply:
            assert reply.read() == out.read_bytes()
            assert reply.headers["Content-Type"].startswith("text/html")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url.group(0) + "etc/passwd", timeout=30)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_server_binds_the_loopback_address() -> None:
    from tts.view.serve import make_server

    server = make_server(b"<p>x</p>")
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()
