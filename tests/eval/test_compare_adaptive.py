"""``tts compare`` for adaptive compute, on the shipped miniature: total and probe tokens, the accuracy of the
returned answers, the first-correct position of probed answers, tokens saved against a reference, the frontier.

The probing strategy here is a test plugin (registered for this module only) that asks for the answer every
``chunk`` thinking tokens with the think format's forced-answer text, as certainty probing does.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tts import plugins
from tts.answers import extract_answer, simple_equivalent
from tts.cli import main
from tts.state import Continue, Probe, SegmentLimits
from tts.strategies import Strategy

BF_SMALL = "budget_forcing:max_thinking_tokens=24"
BF_LARGE = "budget_forcing:max_thinking_tokens=96"
PROBED = "probe_answer:chunk=16+budget_forcing:max_thinking_tokens=96"
VOTE = "majority_voting:n=3,temperature=1.0+budget_forcing:max_thinking_tokens=24"
GRID = ["-s", "BF=budget_forcing:max_thinking_tokens=24|96", "-s", f"probed={PROBED}", "-s", f"vote={VOTE}",
        "--benchmark", "miniature", "--limit", "6", "--max-answer-tokens", "32", "--no-progress"]


@dataclass
class ProbeAnswer(Strategy):
    """Probes every ``chunk`` thinking tokens for the answer (the forced-answer text) and records it."""

    name = "probe_answer"
    chunk: int = 16

    def tts_segment_params(self, sample, config):  # type: ignore[no-untyped-def]
        return SegmentLimits(max_tokens=self.chunk) if sample.phase == "thinking" else None

    def tts_segment_end(self, sample, segment, config):  # type: ignore[no-untyped-def]
        if segment.phase == "thinking" and segment.limited_by == self.name:
            return Probe(max_tokens=8, label="answer")
        return None

    def tts_probe_end(self, sample, probe, config):  # type: ignore[no-untyped-def]
        if probe.strategy == self.name:
            probe.answer = extract_answer("Answer:" + probe.text)
            return Continue()
        return None


@pytest.fixture(scope="module", autouse=True)
def probe_plugin():  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(plugins.strategy_registry(), ProbeAnswer.name, ProbeAnswer)
        yield


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, probe_plugin) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    """One comparison on the miniature with a reference: (directory, printed table)."""
    directory = tmp_path_factory.mktemp("adaptive") / "out"
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert main(["compare", *GRID, "--reference", BF_LARGE, "--output", str(directory)]) == 0
    return directory, buffer.getvalue().strip()


def _records(directory: Path) -> list[dict[str, Any]]:
    (path,) = directory.glob("samples_*.jsonl")
    return [json.loads(line)["record"] for line in path.read_text().splitlines()[1:]]


def test_results_carry_total_and_probe_tokens_and_the_returned_answers_accuracy(run: tuple[Path, str]) -> None:
    directory, _ = run
    records = _records(directory)
    settings = json.loads((directory / "results.json").read_text())["settings"]
    for cid, s in settings.items():
        mine = [r for r in records if r["setting"] == cid]
        total = [r["num_thinking_tokens"] + r["num_answer_tokens"] + r["num_probe_tokens"] for r in mine]
        assert s["avg_total_tokens"] == pytest.approx(sum(total) / len(mine))
        assert s["avg_problem_tokens"] == pytest.approx(sum(total) / s["problems"])
        assert s["avg_probe_tokens"] == pytest.approx(sum(r["num_probe_tokens"] for r in mine) / len(mine))
    assert settings[BF_SMALL]["avg_probe_tokens"] == 0 and settings[PROBED]["avg_probe_tokens"] > 0
    assert 0 < settings[PROBED]["probe_overhead"] < 100
    for cid in (BF_SMALL, BF_LARGE, PROBED):  # one sample: the returned answer is that sample's
        assert settings[cid]["final_accuracy"] == settings[cid]["accuracy"]
    # Several samples: the vote's answer is graded on its own (equal here to comparing it with the target).
    voted = {r["doc_id"]: r for r in records if r["setting"] == VOTE}
    assert len(voted) == 6
    for r in voted.values():
        right = r["aggregate_answer"] is not None and simple_equivalent(r["aggregate_answer"], r["target"])
        assert r["aggregate_correct"] == right
    assert settings[VOTE]["final_accuracy"] == pytest.approx(100 * sum(r["aggregate_correct"] for r in voted.values()) / 6)


def test_probes_are_graded_and_give_the_first_correct_position(run: tuple[Path, str]) -> None:
    directory, _ = run
    probed = [r for r in _records(directory) if r["setting"] == PROBED]
    # A probe each time 16 more thinking tokens were written (a model that stops at exactly 16 was not cut there).
    assert all(bool(r["probes"]) == (r["num_thinking_tokens"] > 16) for r in probed if r["num_thinking_tokens"] != 16)
    assert any(r["probes"] for r in probed) and not any(r["probes"] for r in _records(directory) if r["setting"] == BF_SMALL)
    firsts = []
    probed = [r for r in probed if r["probes"]]
    for r in probed:
        assert [p["position"] for p in r["probes"]] == list(range(16, 16 * len(r["probes"]) + 1, 16))
        for p in r["probes"]:
            assert p["correct"] == (None if p["answer"] is None else simple_equivalent(p["answer"], r["target"]))
        # Written out: the first position from which every later probe was right.
        marks = [bool(p["correct"]) for p in r["probes"]]
        ok = [i for i in range(len(marks)) if all(marks[i:])]
        firsts.append((r["probes"][ok[0]]["position"], r["num_thinking_tokens"]) if ok else None)
    settled = [f for f in firsts if f is not None]
    over = json.loads((directory / "results.json").read_text())["settings"][PROBED]["overthinking"]
    assert over["probed_samples"] == len(probed) and over["settled"] == len(settled)
    if settled:
        assert over["after_first_correct"] == pytest.approx(100 * sum((t - p) / t for p, t in settled) / len(settled))
        assert over["tokens_after_first_correct"] == pytest.approx(sum(t - p for p, t in settled) / len(settled))


def test_tokens_saved_against_the_reference_in_results_and_table(run: tuple[Path, str]) -> None:
    directory, table = run
    results = json.loads((directory / "results.json").read_text())
    assert results["reference"] == BF_LARGE
    records = _records(directory)

    def tokens(cid: str) -> float:
        mine = [r for r in records if r["setting"] == cid]
        return sum(r["num_thinking_tokens"] + r["num_answer_tokens"] + r["num_probe_tokens"] for r in mine)

    for cid, s in results["settings"].items():
        saved = s["saved_vs_reference"]
        assert saved["reference"] == BF_LARGE and saved["problems"] == 6
        assert saved["saved"] == pytest.approx(100 * (1 - tokens(cid) / tokens(BF_LARGE)))
        assert saved["accuracy_vs_reference"] in ("equal", "higher", "lower")
        low, high = saved["reference_ci"]
        acc = s["final_accuracy"]
        assert saved["equal_accuracy"] == (low - 1e-9 <= acc <= high + 1e-9)
    assert results["settings"][BF_SMALL]["saved_vs_reference"]["saved"] > 0
    assert "saved vs reference" in table and "(reference)" in table
    header = next(line for line in table.splitlines() if "accuracy (95% CI)" in line)
    assert all(column in header for column in ("final", "thinking", "probe", "total"))
    assert (directory / "plots" / "frontier.png").stat().st_size > 1000


def test_report_redraws_the_frontier_and_takes_its_own_reference(run: tuple[Path, str], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run[0], copy)
    shutil.rmtree(copy / "plots")
    capsys.readouterr()
    assert main(["compare", "report", str(copy), "--reference", BF_LARGE]) == 0
    assert capsys.readouterr().out.strip() == run[1]  # the run's table, from the records alone
    assert (copy / "plots" / "frontier.png").exists()
    assert main(["compare", "report", str(copy), "--no-plots"]) == 0
    plain = capsys.readouterr().out
    assert "saved vs reference" not in plain and "total" in plain
    assert main(["compare", "report", str(copy), "--reference", "vote"]) == 0  # a one-setting method's label
    assert "saved vs reference" in capsys.readouterr().out
    for bad, message in (("BF", "method 'BF' has 2 settings"), ("budget_forcing:max_thinking_tokens=7", "neither")):
        assert main(["compare", "report", str(copy), "--reference", bad, "--no-plots"]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


def test_a_misspelled_reference_fails_before_the_model_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never"
    assert main(["compare", *GRID, "--reference", "prbed", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'probed'" in err and not out.exists()


def test_an_extracted_answer_is_graded_as_the_model_would_have_written_it() -> None:
    from tts.eval.benchmarks import Problem
    from tts.eval.compare import answer_as_text
    from tts.eval.grading import grade

    assert answer_as_text("\\frac{1}{2}") == "\\boxed{\\frac{1}{2}}"
    assert answer_as_text("x}") == "Answer: x}"  # unbalanced: boxing it would hide the answer
    problem = Problem(id="p", question="?", answer="0.5", grader="exact")
    assert grade(problem, answer_as_text("\\frac{1}{2}")).correct and grade(problem, answer_as_text("1/2")).correct
    assert not grade(problem, "1/2").correct  # bare text has no answer the extractor finds: why the wrapping
