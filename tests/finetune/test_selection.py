"""Selection 59K -> 1K: stage counts, s1's sampling properties (hypothesis), ablations, classifiers."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from finetune_rows import QUALITY_DEFECTS, synthetic_pool
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from tts.errors import ConfigError, DataError
from tts.finetune import (
    DifficultyFilter,
    DomainLabels,
    QualityFilter,
    Sample,
    TraceLength,
    boxed_match,
    diverse_sample,
    keyword_domains,
    longest_sample,
    random_sample,
    s1_sample,
    select,
)
from tts.finetune.sampling import rank_weights


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


def test_each_stage_reports_its_counts() -> None:
    pool = synthetic_pool(3000, defects=True)
    per_kind = 3000 // 50

    def even_solver(questions: list[str]) -> list[str]:  # "solves" questions with an even id
        return [f"\\boxed{{{q.split()[1]}}}" if int(q.split()[1]) % 2 == 0 else "no idea" for q in questions]

    stages = [QualityFilter(), DifficultyFilter({"even": even_solver}, boxed_match), TraceLength(),
              DomainLabels(), Sample(target=500, seed=1)]  # fmt: skip
    seen = []
    result = select(pool, stages, progress=seen.append)
    quality, difficulty, length, domains, sample = result.reports
    assert seen == result.reports
    assert quality.dropped == {reason: per_kind for reason in QUALITY_DEFECTS}
    assert quality.rows_out == 3000 - 6 * per_kind
    kept_ids = {row["id"] for row in pool} - {i for i in range(3000) if 1 <= i % 50 <= 6}
    assert difficulty.dropped == {"solved by even": sum(i % 2 == 0 for i in kept_ids)}
    assert difficulty.rows_out == sum(i % 2 == 1 for i in kept_ids)
    assert (length.rows_in, length.rows_out, domains.rows_out) == (difficulty.rows_out,) * 3
    assert sample.rows_out == len(result.rows) == 500 and sample.dropped == {
        "not drawn": domains.rows_out - 500
    }
    assert "quality" in result.summary() and "solved by even: " in result.summary()


def test_trace_length_counts_tokens(ft_tokenizer: Any) -> None:
    row = {"question": "q", "thinking_trajectories": ["one two", "three"], "attempt": "a"}
    (words,), _ = TraceLength().apply([row])
    (tokens,), _ = TraceLength(ft_tokenizer).apply([row])
    assert words["trace_tokens"] == 3
    assert tokens["trace_tokens"] == len(ft_tokenizer.encode("one two\nthree", add_special_tokens=False))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3000),
    n_domains=st.integers(1, 12),
    target=st.integers(1, 1200),
    seed=st.integers(0, 2**32),
    method=st.sampled_from(["s1", "random", "diverse", "longest"]),
)
def test_sampling_invariants(n: int, n_domains: int, target: int, seed: int, method: str) -> None:
    pool = synthetic_pool(n, n_domains, seed=seed % 7)
    stage = Sample(target, method, seed)
    picked, _ = stage.apply(pool)
    assert ids(picked) == ids(Sample(target, method, seed).apply(pool)[0])  # seeded determinism
    assert len(set(ids(picked))) == len(picked)  # no question twice
    assert len(picked) == min(target, n)  # target reached whenever the pool allows (empty domains dropped)


def test_preselected_rows_come_first() -> None:
    pool = synthetic_pool(200)
    picked = s1_sample(pool, 30, seed=3, preselect=lambda row: row["id"] % 40 == 0)
    assert ids(picked)[:5] == [0, 40, 80, 120, 160] and len(set(ids(picked))) == 30


@settings(max_examples=15, deadline=None)
@given(lengths=st.lists(st.integers(1, 10_000), min_size=2, max_size=8, unique=True))
def test_longer_traces_are_drawn_more_often(lengths: list[int]) -> None:
    pool = [{"id": i, "domain": "d", "trace_tokens": n} for i, n in enumerate(lengths)]
    draws = Counter(s1_sample(pool, 1, seed)[0]["trace_tokens"] for seed in range(3000))
    by_length = sorted(lengths, reverse=True)
    expected = [w / sum(rank_weights(len(lengths))) * 3000 for w in rank_weights(len(lengths))]
    observed = [draws[n] for n in by_length]
    frequent = [count for count, e in zip(observed, expected, strict=True) if e >= 100]
    assert all(
        a > b for a, b in zip(frequent, frequent[1:], strict=False)
    )  # each rank drawn more often than the next
    assert observed[0] > observed[-1]
    assert chisquare(observed, expected).pvalue > 1e-4  # frequencies follow 2^-rank


def test_domains_are_uniform_in_expectation() -> None:
    sizes = {"a": 400, "b": 200, "c": 120, "d": 80}
    pool = [
        {"id": i, "domain": d, "trace_tokens": i % 97}
        for i, d in enumerate(d for d, k in sizes.items() for _ in range(k))
    ]
    s1_counts = Counter(row["domain"] for seed in range(300) for row in s1_sample(pool, 40, seed))
    observed = [s1_counts[d] for d in sizes]
    assert chisquare(observed).pvalue > 1e-3  # uniform over domains, not proportional to their size
    rand_counts = Counter(row["domain"] for seed in range(300) for row in random_sample(pool, 40, seed))
    assert chisquare([rand_counts[d] for d in sizes]).pvalue < 1e-6  # the test can tell the difference
    div_counts = Counter(row["domain"] for seed in range(300) for row in diverse_sample(pool, 40, seed))
    assert chisquare([div_counts[d] for d in sizes]).pvalue > 1e-3


def test_ablations() -> None:
    pool = synthetic_pool(500)
    longest = longest_sample(pool, 10)
    assert sorted(r["trace_tokens"] for r in longest) == sorted(r["trace_tokens"] for r in pool)[-10:]
    assert ids(random_sample(pool, 10, 1)) != ids(random_sample(pool, 10, 2))
    small = [{"id": 0, "domain": "x", "trace_tokens": 1}, {"id": 1, "domain": "y", "trace_tokens": 2}]
    assert sorted(ids(diverse_sample(small, 5))) == [0, 1]


def test_bad_selection_input() -> None:
    with pytest.raises(DataError, match=r"row 1 has no 'trace_tokens'.*run the stage that adds it"):
        s1_sample([{"domain": "a", "trace_tokens": 1}, {"domain": "a"}], 1)
    with pytest.raises(ConfigError, match=r"unknown selection method 'longer' \(did you mean 'longest'\?\)"):
        Sample(10, "longer")
    with pytest.raises(ConfigError, match="target size must be a positive integer, got 0"):
        s1_sample([], 0)
    with pytest.raises(ConfigError, match="at least one reference model"):
        DifficultyFilter({}, boxed_match)
    with pytest.raises(DataError, match="unknown trace_source 'gemin'"):
        QualityFilter("gemin")


def test_keyword_domains() -> None:
    labels = keyword_domains(["Find the area of the triangle inside the circle.", "Is 91 prime?", "Hello"])
    assert labels == ["51 Geometry", "11 Number theory", "Other"]


def test_boxed_match() -> None:
    assert boxed_match("so \\boxed{\\dfrac{1}{2}}.", "The answer is $\\boxed{\\frac{1}{2}}$")
    assert boxed_match("Answer: 42", "\\boxed{42}")
    assert not boxed_match("\\boxed{41}", "\\boxed{42}")
    assert not boxed_match("anything", "")


def test_reference_models_and_llm_labels_run_through_engines(hf_engine: Any) -> None:
    from tts.finetune import MSC_TOP_LEVEL, EngineSolver, LLMDomainClassifier

    rows = synthetic_pool(6)
    solver = EngineSolver(hf_engine, max_tokens=8)
    responses = solver([row["question"] for row in rows])
    assert len(responses) == 6 and all(isinstance(r, str) for r in responses)
    kept, dropped = DifficultyFilter({"tiny": solver}, boxed_match).apply(rows)
    assert len(kept) + sum(dropped.values()) == 6
    classifier = LLMDomainClassifier(hf_engine, max_tokens=8)
    labels = DomainLabels(classifier, batch_size=4).apply(rows)[0]
    assert all(row["domain"] in (*MSC_TOP_LEVEL, "Other") for row in labels)
    assert classifier.parse("It is 51 Geometry.") == "51 Geometry"
    assert classifier.parse("MSC 11") == "11 Number theory"
    assert classifier.parse("no idea") == "Other"


def test_select_cli(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tts.finetune.cli import main

    data = tmp_path / "pool.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in synthetic_pool(2000, defects=True)))
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        argv = [
            "select",
            "--data",
            str(data),
            "--output",
            str(tmp_path / name),
            "--target",
            "100",
            "--seed",
            "5",
        ]
        assert main(argv) == 0
        outputs.append((tmp_path / name).read_text())
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 100
    selected = [json.loads(line) for line in outputs[0].splitlines()]
    assert len({row["id"] for row in selected}) == 100 and all("domain" in row for row in selected)
    captured = capsys.readouterr()
    assert "[quality] 2000 -> 1760" in captured.err and "selected 100 of 2000 rows" in captured.out
    assert (
        main(["select", "--data", str(data), "--output", str(tmp_path / "c.jsonl"), "--method", "longer"])
        == 2
    )
    assert not (tmp_path / "c.jsonl").exists()


def test_select_cli_with_models(
    tmp_path: Any, tiny_model_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from tts.finetune.cli import main

    data = tmp_path / "pool.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in synthetic_pool(12)))
    argv = ["select", "--data", str(data), "--output", str(tmp_path / "out.jsonl"), "--target", "5",
            "--tokenizer", tiny_model_path, "--reference-model", tiny_model_path, "--reference-max-tokens", "4",
            "--domains", "llm", "--domain-model", tiny_model_path, "--method", "diverse"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "[difficulty] 12 -> " in err and "[domains] " in err and "[sample (diverse)] " in err
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == min(5, int(err.split("[domains] ")[1].split(" -> ")[1].split()[0]))
