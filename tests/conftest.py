"""Shared fixtures: one tiny model on disk and one HF engine per test session."""

from __future__ import annotations

import os

import pytest

# A deprecated call from tts code fails its test (tests/deprecation_policy.py says how and why).
pytest_plugins = ["deprecation_policy"]

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the tests may reach a hub


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tts.testing import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2")))


@pytest.fixture(scope="session")
def hf_engine(tiny_model_path: str):  # type: ignore[no-untyped-def]
    import tts

    return tts.HFEngine(tiny_model_path, dtype="float32", device="cpu")


@pytest.fixture(scope="session")
def tokenizer(hf_engine):  # type: ignore[no-untyped-def]
    return hf_engine.tokenizer

