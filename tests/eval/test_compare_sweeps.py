"""Greedy budget sweeps in a comparison run as one BudgetSweep pass and give what separate runs give."""

from __future__ import annotations

from pathlib import Path

from tts.eval.benchmarks import load_benchmark
from tts.eval.compare import Comparison, cell_groups, run_comparison
from tts.eval.gridfiles import grid_from_specs
from tts.runlog import read_run_log


def test_planning_groups_only_greedy_budget_forcing_full_products() -> None:
    grid = grid_from_specs([
        "BF=budget_forcing:max_thinking_tokens=8|16|32",
        "waits=budget_forcing:max_thinking_tokens=32,num_ignore=1|2",
        "TCC=token_conditional:num_tokens=8|16+budget_forcing:max_thinking_tokens=8|16",
        "hmm=budget_forcing:max_thinking_tokens=8|16,ignore_string=Hmm,num_ignore=1",
    ], [], zipped=True)
    everything = {cid: [0, 1] for cid in grid.cells}
    groups = cell_groups(grid, everything)
    bf = grid.methods[0].cells
    waits = grid.methods[1].cells
    assert groups[0] == bf  # budgets x {0}
    assert waits in groups  # {32} x {1, 2}
    assert [grid.methods[3].cells[0], grid.methods[3].cells[1]] in groups  # another ignore string: its own sweep
    assert all([c] in groups for c in grid.methods[2].cells)  # compositions run alone
    # Sampling, a different set of pending problems, or asking for separate runs: no sweep.
    assert all(len(g) == 1 for g in cell_groups(grid_from_specs(["budget_forcing:max_thinking_tokens=8|16"], [],
                                                                run={"temperature": 1.0}), {c: [0] for c in bf[:2]}))
    assert cell_groups(grid, {bf[0]: [0, 1], bf[1]: [1]}) == [[bf[0]], [bf[1]]]
    assert all(len(g) == 1 for g in cell_groups(grid, everything, one_pass_sweeps=False))


def test_one_pass_sweep_gives_the_tokens_of_separate_runs(hf_engine, tiny_model_path: str, tmp_path: Path) -> None:
    grid = grid_from_specs(["BF=budget_forcing:max_thinking_tokens=8|16|32",
                            "waits=budget_forcing:max_thinking_tokens=48,num_ignore=0|1|2"], [],
                           run={"max_answer_tokens": 8})
    bench = load_benchmark("tiny", limit=4)
    model = {"engine": "hf", "model": tiny_model_path, "dtype": "float32"}
    runs = {}
    for one_pass in (True, False):
        comparison = Comparison(grid=grid, benchmark=bench, model=model, directory=tmp_path / str(one_pass),
                                one_pass_sweeps=one_pass)
        summary = run_comparison(comparison, hf_engine, progress=False)
        runs[one_pass] = (summary, read_run_log(comparison.samples_file).records)
    (swept, swept_lines), (separate, separate_lines) = runs[True], runs[False]
    assert swept["settings"] == separate["settings"] and swept["methods"] == separate["methods"]
    assert swept_lines.keys() == separate_lines.keys() and len(swept_lines) == 6 * 4
    for key, line in separate_lines.items():
        other = swept_lines[key]
        assert (other["thinking"], other["answer"], other["num_thinking_tokens"], other["correct"]) == \
            (line["thinking"], line["answer"], line["num_thinking_tokens"], line["correct"])
    assert any(i["kind"] == "fork" for line in swept_lines.values() for i in line["interventions"])
