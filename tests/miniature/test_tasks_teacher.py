"""The miniature's task family, teacher and tokenizer: splits, trace format, forced strings."""

from __future__ import annotations

import random
import re

import pytest

from tts.finetune import format_rows
from tts.miniature import make_splits, teach
from tts.miniature.tasks import DOMAINS, MAX_STEPS, draw
from tts.miniature.teacher import CCC_LONG, CCC_SHORT, TeacherConfig, recheck
from tts.miniature.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def tok():  # type: ignore[no-untyped-def]
    return build_tokenizer()


@pytest.fixture(scope="module")
def splits():  # type: ignore[no-untyped-def]
    return make_splits(3, 200, 400, 3000)


def test_splits_never_share_a_question(splits) -> None:  # type: ignore[no-untyped-def]
    held, pool, train = ({p.question for p in s} for s in (splits.heldout, splits.pool, splits.train))
    assert not held & pool and not held & train and not pool & train
    assert len(held) == 200 and len(pool) == 400
    # Short chains are the crowded ones: there are 81 one-step sums, and training still has most of them.
    assert sum(1 for p in splits.train if p.domain == "sum" and p.steps == 1) > 50


def test_splits_are_deterministic_by_seed(splits) -> None:  # type: ignore[no-untyped-def]
    again = make_splits(3, 200, 400, 3000)
    assert again.heldout == splits.heldout and again.train == splits.train
    assert make_splits(4, 200, 400, 3000).heldout != splits.heldout


def test_problems_have_exact_answers_and_both_domains() -> None:
    problems = draw(0, "heldout", 300)
    assert {p.domain for p in problems} == set(DOMAINS)
    assert {p.steps for p in problems} == set(range(1, MAX_STEPS + 1))
    for p in problems:
        assert eval(p.question.removeprefix("What is ").removesuffix("?")) == p.answer  # noqa: S307
        assert min(p.partials()) >= 0


STEP = re.compile(r"^(\d+) ([+-]) (\d) = (-?\d+)$")


def _check_steps(paragraphs: list[str]) -> None:
    for para in paragraphs:
        assert STEP.match(para), repr(para)


def test_traces_are_in_the_exact_s1_format(tok, splits) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(0)
    rows = [teach(rng, p, control="none") for p in splits.train[:600]]
    examples = format_rows(rows, tok, trace_source="s1K")
    shape = re.compile(
        r"<\|im_start\|>think\n(?P<trace>.+)\n<\|im_start\|>answer\n(?:Final )?Answer: (?P<answer>-?\d+)<\|im_end\|>",
        re.S,
    )
    verified = fixed = 0
    for ex, problem in zip(examples, splits.train):
        assert ex.prompt == f"<|im_start|>user\n{problem.question}<|im_end|>\n<|im_start|>assistant\n"
        m = shape.fullmatch(ex.completion)
        assert m, ex.completion
        assert m["answer"] == str(problem.answer)  # the teacher's final answer is always right
        blocks = re.split(r"\n(?:Wait|Hmm|Alternatively), ", m["trace"])
        _check_steps(blocks[0].split("\n\n"))
        assert len(blocks[0].split("\n\n")) == problem.steps
        for block in blocks[1:]:
            assert block == recheck(problem)  # a re-check redoes the last two steps correctly
        verified += len(blocks) > 1
        fixed += len(blocks) > 1 and blocks[0].split("\n\n")[-2:] != recheck(problem).split("\n\n")
    assert 0.3 < verified / len(rows) < 0.8
    assert 0.1 < fixed / verified < 0.4  # re-checks mostly confirm, sometimes fix a slip


def test_every_forced_string_is_known_and_seen_in_training(tok, splits) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    texts = [e.text for e in format_rows([teach(rng, p) for p in splits.train], tok, trace_source="s1K")]
    corpus = "\n".join(texts)
    for forced in ("Final Answer:", "\nWait", "\nHmm", "\nAlternatively", "Think for up to ", " tokens.",
                   " steps.", "<|im_start|>3 steps left\n", CCC_SHORT, CCC_LONG):
        assert forced in corpus, forced
        ids = tok.encode(forced, add_special_tokens=False)
        assert tok.decode(ids) == forced and tok.unk_token_id not in ids


def test_control_traces_follow_their_instruction(tok) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(2)
    problems = draw(5, "train", 200, unique=False)
    for p in problems:
        tcc = teach(rng, p, control="tcc")
        n = int(re.search(r"up to (\d+) tokens", str(tcc["question"]))[1])  # type: ignore[index]
        trace = tcc["thinking_trajectories"][0]  # type: ignore[index]
        assert len(tok.encode("\n" + trace + "\n", add_special_tokens=False)) <= n
        scc = teach(rng, p, control="scc")
        k = int(re.search(r"up to (\d+) steps", str(scc["question"]))[1])  # type: ignore[index]
        counts = [int(c) for c in re.findall(r"<\|im_start\|>(\d+) steps left", scc["thinking_trajectories"][0])]  # type: ignore[index]
        assert counts == list(range(k, k - min(k, p.steps), -1)) and min(counts) >= 1
        short = teach(rng, p, control="ccc_short")["thinking_trajectories"][0]  # type: ignore[index]
        assert "Wait" not in short and "Hmm" not in short


def test_tokenizer_is_one_token_per_character_under_qwen2_loading(tmp_path, tok) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer, Qwen2Config

    tok.save_pretrained(tmp_path)
    Qwen2Config(vocab_size=len(tok)).save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)  # a Qwen2 directory gets Qwen2Tokenizer
    text = "What is 12 - 3?\n\n<|im_start|>think\n12 - 3 = 9\nWait, 12 - 3 = 9\n<|im_start|>answer\nFinal Answer: 9<|im_end|>"
    ids = loaded.encode(text, add_special_tokens=False)
    assert ids == tok.encode(text, add_special_tokens=False)
    assert loaded.decode(ids) == text
    assert len(ids) == len(text.replace("<|im_start|>", "S").replace("<|im_end|>", "E"))
    assert TeacherConfig().slip_given_verify > 0


def test_one_step_recheck_redoes_only_the_last_step_and_slips_only_there() -> None:
    import random

    from tts.miniature.tasks import draw
    from tts.miniature.teacher import TeacherConfig, plain_trace, recheck

    problems = draw(5, "train", 400, steps=range(3, 9))
    rng = random.Random(0)
    verified = slipped = 0
    for p in problems:
        trace = plain_trace(rng, p, TeacherConfig(recheck_steps=1), verify=True, checks=1)
        first, check = trace.rsplit("\n", 1)
        verified += 1
        assert check.split(", ", 1)[1] == recheck(p, 1)  # exactly one step: the last, done right
        partials = [p.start, *p.partials()]
        first_steps = first.split("\n\n")
        assert first_steps[:-1] == [f"{partials[i]} {p.op} {p.terms[i]} = {partials[i + 1]}" for i in range(p.steps - 1)]
        slipped += first_steps[-1] != recheck(p, 1)
    assert 0.15 < slipped / verified < 0.35  # a quarter of the re-checks fix a slip in the last step
    # The shipped sft stage's teacher is unchanged: two steps re-checked, the same draws as before the option.
    a = [plain_trace(random.Random(1), p, TeacherConfig()) for p in problems[:50]]
    assert all(t.count("\n\n") >= 1 for t in a)
    p = problems[0]
    assert recheck(p) == recheck(p, 2) and recheck(p, 2).count("\n\n") == 1
