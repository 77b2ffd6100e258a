"""One shared check of settings: types, ranges and choices from dataclass hints and metadata, for every strategy."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tts
from tts.errors import BudgetError, ConfigError, TTSError, did_you_mean
from tts.plugins import strategy_registry
from tts.settings import MAX_SAMPLES, check_setting, describe, setting, validate_settings
from tts.strategies import BudgetForcing, ClassConditionalControl, MajorityVoting, Strategy


@dataclasses.dataclass
class Options:
    count: int = setting(3, "A count.", min=1, max=10)
    ratio: float = setting(0.5, "A ratio.", above=0, max=1)
    scale: float = setting(1.0, "May be infinite.", finite=False)
    mode: str = setting("a", "A mode.", choices=("a", "b"))
    flag: bool = setting(False, "A flag.")
    sizes: list[int] = setting(default_factory=lambda: [1], help="Sizes.", min=1)
    pair: tuple[int, str] = setting((1, "x"), "A pair.")
    names: dict[str, int] = setting(default_factory=dict, help="A mapping.")
    kind: Literal["x", "y"] = setting("x", "A literal.")
    maybe: int | None = setting(None, "Optional.", min=0, error=BudgetError)


def test_valid_options_pass() -> None:
    validate_settings(Options())
    validate_settings(Options(count=10, ratio=1, scale=math.inf, mode="b", flag=True, sizes=[1, 2], pair=(2, "y"),
                              names={"a": 1}, kind="y", maybe=0))


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("count", 0, "an integer from 1 to 10, got 0"),
        ("count", 11, "from 1 to 10"),
        ("count", True, "got True"),  # bools are not ints
        ("count", 2.0, "got 2.0"),
        ("ratio", 0, "a finite number > 0 and <= 1"),
        ("ratio", math.nan, "got nan"),
        ("ratio", math.inf, "got inf"),
        ("scale", math.nan, "a number, got nan"),
        ("mode", "c", "one of 'a', 'b', got 'c'"),
        ("mode", 4, "got 4"),
        ("flag", 1, "true or false"),
        ("sizes", [1, "2"], "a list whose items are each an integer >= 1"),
        ("sizes", [0], "got [0]"),
        ("sizes", (1,), "got (1,)"),
        ("pair", (1, 2), "got (1, 2)"),
        ("names", {"a": "b"}, "a dict from a string to an integer"),
        ("kind", "z", "one of 'x', 'y'"),
        ("maybe", -1, "an integer >= 0 or None"),
    ],
)
def test_each_bad_value_is_one_sentence_naming_field_value_and_range(field: str, value: Any, words: str) -> None:
    options = Options()
    setattr(options, field, value)
    with pytest.raises(ConfigError) as info:
        validate_settings(options, owner="demo")
    message = str(info.value)
    assert message.startswith(f"demo.{field} must be ") and words in message and "\n" not in message
    assert isinstance(info.value, BudgetError) == (field == "maybe")  # the field's own error class


def test_huge_integers_and_unknown_hints() -> None:
    check_setting("x", 10**400, int, {"min": 1})  # no float overflow
    with pytest.raises(ConfigError, match="got 1000"):
        check_setting("x", 10**400, int, {"max": 5})
    check_setting("x", print, Any)
    assert describe(int | None, {"min": 1, "max": 4}) == "an integer from 1 to 4 or None"


def test_did_you_mean_takes_any_value() -> None:
    assert did_you_mean(4, ["auto"]) == ""
    assert did_you_mean("autp", [1, "auto"]) == " (did you mean 'auto'?)"
    with pytest.raises(ConfigError, match="majority_voting.equivalence must be one of 'auto'.*got 4"):
        MajorityVoting(equivalence=4)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "build",
    [
        lambda: BudgetForcing(max_thinking_tokens=8, forced_answer=None),
        lambda: ClassConditionalControl(level=None),
        lambda: ClassConditionalControl(separator=None),
        lambda: MajorityVoting(n=1_000_000_000),
        lambda: MajorityVoting(temperature=math.nan),
        lambda: MajorityVoting(temperature=math.inf),
        lambda: BudgetForcing(max_thinking_tokens=8, ignore_string=["Wait", 3]),
    ],
)
def test_findings_fail_at_construction(build: Any) -> None:
    with pytest.raises(TTSError):
        build()


def test_run_wide_settings_are_bounded(hf_engine: Any) -> None:
    for kwargs in ({"temperature": math.nan}, {"temperature": math.inf}, {"top_p": math.nan}, {"max_answer_tokens": 0},
                   {"max_answer_tokens": 10**9}):
        with pytest.raises(ConfigError):
            tts.run(hf_engine, ["q"], **kwargs)

    changed = MajorityVoting(n=2)
    changed.n = 10**9  # changed after construction: checked again when the run starts
    with pytest.raises(BudgetError, match="majority_voting.n"):
        tts.run(hf_engine, ["q"], strategies=[changed])

    @dataclasses.dataclass
    class Greedy(Strategy):
        name = "greedy_many"

        def tts_configure(self, config: Any) -> None:
            config.samples_per_problem = MAX_SAMPLES + 1  # a plugin's typo must not allocate a million samples

    with pytest.raises(BudgetError, match="samples_per_problem"):
        tts.run(hf_engine, ["q"], strategies=[Greedy()])


# ---------------------------------------------------------------- every registered strategy, wrong values

def _base(cls: type[Strategy]) -> dict[str, Any]:
    """Settings with which ``cls`` builds: its defaults, or one numeric field set (BudgetForcing needs a budget)."""
    try:
        cls()
        return {}
    except TTSError:
        pass
    for f in cls.settings():
        for value in (8, [8]):
            try:
                cls(**{f.name: value})
                return {f.name: value}
            except TTSError:
                continue
    raise AssertionError(f"strategy {cls.name!r} builds neither with defaults nor with one setting changed")


REGISTRY = sorted(strategy_registry().items())
WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**12), max_value=10**12), st.floats(),
    st.text(max_size=8), st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.one_of(st.integers(), st.text(max_size=3)), max_size=2),
    st.builds(object), st.tuples(st.integers()),
)


def test_every_registered_strategy_builds_with_valid_defaults() -> None:
    assert {"budget_forcing", "majority_voting"} <= dict(REGISTRY).keys()
    for _, cls in REGISTRY:
        cls(**_base(cls))


@settings(max_examples=400, deadline=None)
@given(entry=st.sampled_from(REGISTRY), data=st.data(), value=WRONG)
def test_any_value_of_any_setting_builds_or_raises_a_tts_error(entry: tuple[str, Any], data: Any, value: Any) -> None:
    _, cls = entry
    field = data.draw(st.sampled_from([f.name for f in cls.settings()]))
    try:
        cls(**{**_base(cls), field: value})
    except TTSError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("name, cls", REGISTRY)
def test_every_setting_refuses_a_wrong_type_and_out_of_range_values(name: str, cls: Any) -> None:
    base = _base(cls)
    for f in cls.settings():
        with pytest.raises(TTSError, match=f"{name}.{f.name}"):
            cls(**{**base, f.name: object()})
        for bound, step in (("min", -1), ("max", 1)):
            if bound in f.metadata:
                beyond = f.metadata[bound] + step
                with pytest.raises(TTSError, match=f"{name}.{f.name}"):
                    cls(**{**base, f.name: beyond})


@settings(max_examples=200, deadline=None)
@given(entry=st.sampled_from(REGISTRY), data=st.data(), raw=st.text(max_size=12))
def test_command_line_strings_build_or_raise_a_tts_error(entry: tuple[str, Any], data: Any, raw: str) -> None:
    _, cls = entry
    field = data.draw(st.sampled_from([f.name for f in cls.settings()]))
    options = {key: str(value) if not isinstance(value, list) else "|".join(map(str, value))
               for key, value in _base(cls).items()}
    try:
        cls.from_options({**options, field: raw})
    except TTSError:
        pass
