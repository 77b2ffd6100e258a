"""Grids: command-line sweep syntax, TOML files, shipped grids, canonical ids, shards; bad input fails clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tts.errors import ConfigError, StrategyError
from tts.eval.grid import Grid, GridError
from tts.eval.gridfiles import (
    builtin_grids,
    cell_from_spec,
    grid_from_specs,
    load_grid,
    method_from_spec,
)
from tts.eval.shards import Shard, parse_shard, shard_pairs


def test_sweep_spec_is_a_product_of_typed_values() -> None:
    label, cells = method_from_spec("budget_forcing:max_thinking_tokens=64|128,num_ignore=0|1")
    assert label == "budget_forcing"
    assert [c.id for c in cells] == [
        "budget_forcing:max_thinking_tokens=64,num_ignore=0", "budget_forcing:max_thinking_tokens=64,num_ignore=1",
        "budget_forcing:max_thinking_tokens=128,num_ignore=0", "budget_forcing:max_thinking_tokens=128,num_ignore=1",
    ]
    assert [c.budget for c in cells] == [64, 64, 128, 128]
    assert cells[0].strategies[0].settings == (("max_thinking_tokens", 64), ("num_ignore", 0))


def test_zip_moves_sweeps_together_and_labels_name_methods() -> None:
    label, cells = method_from_spec(
        "TCC+BF=token_conditional:num_tokens=16|32+budget_forcing:max_thinking_tokens=16|32", zipped=True)
    assert label == "TCC+BF"
    assert [c.id for c in cells] == ["token_conditional:num_tokens=16+budget_forcing:max_thinking_tokens=16",
                                     "token_conditional:num_tokens=32+budget_forcing:max_thinking_tokens=32"]
    with pytest.raises(GridError, match="same number of values"):
        method_from_spec("token_conditional:num_tokens=16|32|64+budget_forcing:max_thinking_tokens=16|32", zipped=True)


def test_setting_spec_keeps_bars_as_list_values_and_groups_by_label() -> None:
    label, cell = cell_from_spec("rotate=budget_forcing:num_ignore=2,ignore_string=Wait|Hmm")
    assert label == "rotate" and cell.build()[0].ignore_string == ["Wait", "Hmm"]
    grid = grid_from_specs([], ["a=budget_forcing:max_thinking_tokens=8", "a=budget_forcing:max_thinking_tokens=16"])
    assert [m.label for m in grid.methods] == ["a"] and len(grid.methods[0].cells) == 2


def test_shared_cells_run_once_and_round_trip_through_the_log_header() -> None:
    grid = grid_from_specs(["budget_forcing:max_thinking_tokens=8|16", "x=budget_forcing:max_thinking_tokens=16|32"], [])
    assert len(grid.cells) == 3 and grid.method_of()["budget_forcing:max_thinking_tokens=16"] == ["budget_forcing", "x"]
    again = Grid.from_dict(json.loads(json.dumps(grid.to_dict())))
    assert again.to_dict() == grid.to_dict() and again.fingerprint() == grid.fingerprint()


def test_shipped_grids_load_and_cover_the_papers_methods() -> None:
    assert {"tiny", "paper-table3", "paper-table4"} <= set(builtin_grids())
    table3 = load_grid("paper-table3")
    assert [m.label for m in table3.methods] == ["BF", "TCC", "TCC + BF", "SCC", "SCC + BF", "CCC", "RS"]
    tcc = [table3.cells[c] for c in table3.methods[1].cells]
    assert [c.budget for c in tcc] == [1024, 2048, 4096, 8192, 16384]  # the appendix's instructed N
    table4 = load_grid("paper-table4")
    strings = [table4.cells[c].build()[0].ignore_string for c in table4.methods[1].cells]
    assert strings == ["", "Alternatively", "Hmm", "Wait"] and table4.methods[0].cells == ["none"]
    # The same tables at the built-in miniature's scale: the same methods (and voting), budgets of its tokens.
    mini3, mini4 = load_grid("miniature-table3"), load_grid("miniature-table4")
    assert [m.label for m in mini3.methods] == [m.label for m in table3.methods] + ["majority voting"]
    assert max(c.budget or 0 for c in mini3.cells.values()) <= 512
    waits = [mini4.cells[c].build()[0] for c in mini4.methods[2].cells]
    assert [w.num_ignore for w in waits] == [1, 2, 4, 6] and {w.ignore_string for w in waits} == {"Wait"}
    assert mini4.methods[1].cells[-1] == mini4.methods[2].cells[1]  # 2x "Wait" is one cell, run once


def test_toml_grid_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[run]\ntemperature = 0.0\n[[method]]\nlabel = "BF"\nstrategy = "budget_forcing"\n'
                    'settings = { num_ignore = 1 }\nsweep = { max_thinking_tokens = [8, 16] }\n')
    grid = load_grid(path)
    assert grid.name == "mine" and grid.run == {"temperature": 0.0}
    assert list(grid.cells) == ["budget_forcing:max_thinking_tokens=8,num_ignore=1",
                                "budget_forcing:max_thinking_tokens=16,num_ignore=1"]


@pytest.mark.parametrize(("text", "error", "match"), [
    ('[[method]]\nstrategy = "budget_forcin"\n', StrategyError, "did you mean 'budget_forcing'"),
    ('[[method]]\nstrategy = "budget_forcing"\nsweep = { max_thinking = [8] }\n', StrategyError, "no setting 'max_thinking'"),
    ('[[method]]\nstrategy = "budget_forcing"\nsweeps = { max_thinking_tokens = [8] }\n', GridError, "unknown key 'sweeps'"),
    ('[[method]]\nstrategy = "budget_forcing"\nsweep = { max_thinking_tokens = [] }\n', GridError, "non-empty list"),
    ('[run]\ntemprature = 1.0\n[[method]]\nstrategy = "budget_forcing"\nsettings = { num_ignore = 1 }\n', GridError, "temperature"),
    ('[[method]]\nstrategy = "budget_forcing"\nsweep = { max_thinking_tokens = [0] }\n', ConfigError, "max_thinking_tokens"),
    ('[[method]\n', GridError, "not valid TOML"),
    ('name = "x"\n', GridError, "no methods"),
])
def test_bad_grid_files_fail_with_one_sentence(tmp_path: Path, text: str, error: type, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(error, match=match):
        load_grid(path)


def test_unknown_grid_name_suggests_a_shipped_one() -> None:
    with pytest.raises(GridError, match="did you mean 'paper-table3'"):
        load_grid("paper-table33")


def test_budget_sweep_is_not_a_grid_strategy() -> None:
    with pytest.raises(GridError, match="list budget_forcing settings"):
        grid_from_specs(["budget_sweep:max_thinking_tokens=8|16"], [], zipped=False)


def test_conflicting_strategies_in_a_cell_fail_early() -> None:
    with pytest.raises(StrategyError, match="cannot be combined"):
        grid_from_specs(["budget_forcing:max_thinking_tokens=8+rejection_sampling:max_thinking_tokens=8"], [])


@pytest.mark.parametrize("spec", ["3/2", "0/2", "1/0", "two/3", "1-2"])
def test_bad_shard_specs_are_refused(spec: str) -> None:
    with pytest.raises(ConfigError, match="shard"):
        parse_shard(spec)


def test_shards_are_disjoint_and_cover_the_grid() -> None:
    settings, docs = ["a", "b", "c"], [str(i) for i in range(7)]
    parts = [shard_pairs(settings, docs, Shard(k, 3)) for k in (1, 2, 3)]
    flat = [p for part in parts for p in part]
    assert sorted(flat) == sorted(shard_pairs(settings, docs, None)) and len(flat) == len(set(flat)) == 21
    assert [len(p) for p in parts] == [9, 6, 6]
    # Every setting of a shard gets the same problems, so sweeps stay one pass inside a shard.
    assert all({d for s, d in part if s == "a"} == {d for s, d in part if s == "c"} for part in parts)
    assert parse_shard(" 2/3 ") == Shard(2, 3)
    with pytest.raises(ConfigError, match="use at most 7 shards"):
        shard_pairs(settings, docs, Shard(1, 8))
