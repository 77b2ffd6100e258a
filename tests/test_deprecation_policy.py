"""The deprecation policy of the tests (tests/deprecation_policy.py), and the HF engine under it.

The policy tests place callers in modules by name (code compiled into a namespace whose ``__name__`` is
``tts.…`` or a library's), because the policy decides by the module of the real caller, nothing else.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import pytest
import torch

from tts.engines.base import SegmentRequest


def _module(name: str, source: str, **names: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": name, "warnings": warnings, **names}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace


# A library with a deprecated function that blames its caller, the way libraries do (stacklevel=2).
LIBRARY = _module(
    "somelib.api",
    """
def old(category=FutureWarning):
    warnings.warn("old() is deprecated; use new()", category, stacklevel=2)
    return 1

def internal():  # the library's own use of its deprecated function
    return old()

def deprecated_forward(forward):  # a decorator that deprecates a keyword, as transformers' deprecate_kwarg
    def wrapped(*args, **kwargs):
        if "past" in kwargs:
            warnings.warn("`past` is deprecated; use `cache`", FutureWarning, stacklevel=2)
        return forward(*args, **kwargs)
    return wrapped
""",
)


class _Model(torch.nn.Module):
    @LIBRARY["deprecated_forward"]
    def forward(self, x: torch.Tensor, past: Any = None, cache: Any = None) -> torch.Tensor:
        return x


TTS_CALLER = _module(
    "tts._probe",
    """
def call_old(category):
    return old(category)

def call_internal():
    return internal()

def call_model(**kwargs):
    return model(torch.zeros(1), **kwargs)
""",
    old=LIBRARY["old"],
    internal=LIBRARY["internal"],
    model=_Model(),
    torch=torch,
)


@pytest.mark.parametrize("category", [DeprecationWarning, FutureWarning, PendingDeprecationWarning])
def test_a_deprecated_call_from_tts_code_fails(category: type[Warning]) -> None:
    with pytest.raises(category, match="old"):
        TTS_CALLER["call_old"](category)


def test_a_deprecated_keyword_passed_by_tts_through_a_torch_module_fails() -> None:
    """The warning is attributed to torch's Module.__call__; the policy looks through it to the tts caller."""
    with pytest.raises(FutureWarning, match="`past` is deprecated"):
        TTS_CALLER["call_model"](past=1)
    TTS_CALLER["call_model"](cache=1)  # the current name passes


def test_a_deprecation_inside_a_library_stays_a_warning() -> None:
    with pytest.warns(FutureWarning, match="old"):
        assert TTS_CALLER["call_internal"]() == 1
    with pytest.warns(FutureWarning, match="old"):  # a test (not tts) calling the deprecated function
        LIBRARY["old"]()


def test_hf_engine_passes_the_cache_under_the_name_the_model_takes(hf_engine: Any) -> None:
    parameters = inspect.signature(hf_engine.model.forward).parameters
    assert hf_engine._cache_argument == ("cache" if "cache" in parameters else "past_key_values")
    assert hf_engine._cache_argument in parameters


def test_reverting_the_hf_engine_to_past_key_values_fails_where_it_is_deprecated(
    hf_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On transformers >= 5.24 (the latest environment) the old name warns; under the policy that fails."""
    if "cache" not in inspect.signature(hf_engine.model.forward).parameters:
        pytest.skip("this transformers still takes past_key_values; the latest environment runs this test")
    monkeypatch.setattr(hf_engine, "_cache_argument", "past_key_values")
    request = SegmentRequest(key="deprecation-probe", token_ids=[1, 2, 3], max_tokens=2)
    with pytest.raises(FutureWarning, match="past_key_values"):
        hf_engine.generate([request])
    hf_engine.release(["deprecation-probe"])
