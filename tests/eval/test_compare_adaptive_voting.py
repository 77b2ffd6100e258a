"""``tts compare`` with voting strategies whose problems draw different numbers of samples (adaptive voting)."""

from __future__ import annotations

import json
from pathlib import Path

from tts.eval.benchmarks import load_benchmark
from tts.eval.compare import Comparison, run_comparison
from tts.eval.gridfiles import load_grid
from tts.eval.report import format_summary, method_metrics, setting_metrics

GRID = """
name = "adaptive-test"
[run]
max_answer_tokens = 10
[[method]]
label = "voting"
strategy = ["majority_voting", "budget_forcing"]
settings = { "majority_voting.n" = 6, "majority_voting.temperature" = 0.0, "budget_forcing.max_thinking_tokens" = 16 }
[[method]]
label = "adaptive"
strategy = ["adaptive_voting", "budget_forcing"]
settings = { "adaptive_voting.n" = 6, "adaptive_voting.temperature" = 0.0, "budget_forcing.max_thinking_tokens" = 16 }
"""


def _line(problem: str, sample: int, correct: bool, voted: bool | None) -> dict:  # type: ignore[type-arg]
    return {"doc_id": problem, "sample": sample, "correct": correct, "num_thinking_tokens": 10, "num_answer_tokens": 2,
            "extracted": "1", "aggregate_correct": voted}


def test_setting_metrics_count_the_voted_answer_once_per_problem_and_average_the_samples() -> None:
    problems = {"a": [_line("a", 0, True, True), _line("a", 1, True, True)],
                "b": [_line("b", i, i == 0, False) for i in range(4)]}
    m = setting_metrics(problems, None)
    assert m["avg_samples_per_problem"] == 3.0 and m["samples_per_problem"] == 2
    assert m["final_accuracy"] == 50.0 and m["final_ci"][0] <= 50.0 <= m["final_ci"][1]
    assert m["accuracy"] == (100.0 + 25.0) / 2  # pass@1 still averages each problem's samples
    unvoted = {"a": [_line("a", 0, True, None)]}
    assert setting_metrics(unvoted, None)["final_accuracy"] == 100.0  # one sample: its own verdict


def test_a_voting_method_scales_with_the_thinking_of_all_its_samples_and_scores_its_vote() -> None:
    # maj@n over n = 2, 4: the same per-sample accuracy and thinking, a better vote at twice the compute.
    settings = [{"avg_thinking_tokens": 10.0, "avg_samples_per_problem": n, "accuracy": 30.0, "final_accuracy": f,
                 "budget": 16} for n, f in ((2, 30.0), (4, 40.0))]
    m = method_metrics(settings)
    assert m["performance"] == 40.0 and m["control"] == 100.0
    assert m["scaling"] == 10.0  # (40 - 30) points over log2(40) - log2(20) = 1
    single = [{"avg_thinking_tokens": t, "accuracy": a, "final_accuracy": a, "budget": b}
              for t, a, b in ((8.0, 10.0, 8), (16.0, 30.0, 16))]
    assert method_metrics(single)["scaling"] == 20.0  # one sample per problem: per-sample figures, unchanged


def test_adaptive_voting_in_a_toml_grid(hf_engine, tmp_path: Path) -> None:
    path = tmp_path / "adaptive-test.toml"
    path.write_text(GRID)
    grid = load_grid(path)
    comparison = Comparison(grid=grid, benchmark=load_benchmark("tiny", limit=3), directory=tmp_path / "out",
                            model={"engine": "hf", "model": "tiny"})
    summary = run_comparison(comparison, hf_engine, progress=False)
    lines = [json.loads(x)["record"] for x in next((tmp_path / "out").glob("samples_*.jsonl")).read_text().splitlines()[1:]]
    voting, adaptive = (summary["settings"][cid] for cid in grid.methods[0].cells + grid.methods[1].cells)
    assert voting["avg_samples_per_problem"] == 6 and "final_accuracy" in voting and "final_accuracy" in adaptive
    drawn = {}
    for line in lines:
        assert isinstance(line["aggregate_correct"], bool)
        if line["setting"].startswith("adaptive_voting"):
            drawn[line["doc_id"]] = line["num_samples"]
    # Greedy samples are identical: a parseable answer settles after 4 (Beta, 0.969), no answer draws all 6.
    assert set(drawn.values()) <= {4, 6} and len(drawn) == 3
    assert adaptive["avg_samples_per_problem"] == sum(drawn.values()) / 3
    assert adaptive["problems"] == 3 and sum(1 for x in lines if x["setting"].startswith("adaptive")) == sum(drawn.values())
    # The same samples, so the same votes: adaptive voting stops only where the greedy vote was already unanimous.
    assert adaptive["final_accuracy"] == voting["final_accuracy"]
    # The table's n column: voting's count, adaptive voting's mean where problems drew different numbers.
    table = {line.split()[0]: line.split() for line in format_summary(grid, summary).splitlines()
             if line.startswith(("voting ", "adaptive "))}
    mean = adaptive["avg_samples_per_problem"]
    assert table["voting"][-2] == "6"
    assert table["adaptive"][-2] == (f"{mean:.1f}" if mean != int(mean) else str(int(mean)))
