"""Engines as plugins: the registry, options dataclasses, CLI flags built from them, and an installed plugin."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import tts
from tts import cli, plugins
from tts.cli_engines import engine_flag_values
from tts.engines import build_engine
from tts.errors import ConfigError, EngineError

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def test_builtin_engines_register_through_the_hook_without_importing_backends() -> None:
    code = (
        "import sys\n"
        "from tts.plugins import engine_registry\n"
        "from tts.cli import build_parser\n"
        "registry = engine_registry(); build_parser()\n"
        "print(sorted(registry), [isinstance(e.engine, str) for e in registry.values()])\n"
        "print([m for m in ('torch', 'transformers', 'vllm') if m in sys.modules])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(SRC), TTS_DISABLE_PLUGIN_AUTOLOAD="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.splitlines() == ["['hf', 'openai', 'vllm'] [True, True, True]", "[]"]


def test_builtin_option_defaults_equal_the_constructor_defaults() -> None:
    # The options dataclass is what the CLI and build_engine use; the constructor is what Python users call.
    for name, entry in plugins.engine_registry(reload=True).items():
        parameters = inspect.signature(entry.engine_class()).parameters
        for f in entry.fields():
            assert f.name in parameters, f"{name}: option {f.name} is not a constructor argument"
            default = None if f.default is dataclasses.MISSING else f.default
            assert parameters[f.name].default == default, f"{name}.{f.name}"


def test_every_builtin_engine_flag_is_in_the_cli_docs() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    for name in ("hf", "vllm", "openai"):
        entry = plugins.get_engine_entry(name)
        assert f"`{name}`" in text
        for f, _ in entry.cli_fields():
            assert f"`--{f.name.replace('_', '-')}" in text, f"docs/cli.md does not list --engine {name}'s flag {f.name}"


def test_build_engine_checks_names_and_options(tiny_model_path: str) -> None:
    with pytest.raises(ConfigError, match="did you mean 'vllm'"):
        build_engine("vlm", "model")
    with pytest.raises(ConfigError, match="needs a model"):
        build_engine("hf", None)
    with pytest.raises(ConfigError, match="has no option 'max_batch'.*did you mean 'max_batch_size'"):
        build_engine("hf", tiny_model_path, max_batch=2)
    engine = build_engine("hf", tiny_model_path, dtype="float32", device="cpu", max_batch_size=2, tokenizer_path=None)
    assert isinstance(engine, tts.HFEngine) and engine.max_batch_size == 2


@contextlib.contextmanager
def engine_plugin(root: Path, source: str, name: str) -> Iterator[None]:
    """A module and a distribution advertising it in the ``tts`` entry-point group, on sys.path while in use."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"tts_{name}_engine.py").write_text(textwrap.dedent(source))
    dist = root / f"tts_{name}_engine-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tts-{name}-engine\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[tts]\n{name} = tts_{name}_engine\n")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(f"tts_{name}_engine", None)
        importlib.invalidate_caches()
        plugins.engine_registry(reload=True)


TOY_ENGINE = '''
    from dataclasses import dataclass, field
    from tts.engines.hf import HFEngine

    @dataclass
    class ToyOptions:
        """HF with a fixed batch size of its own."""
        batch: int = field(default=1, metadata={"help": "rows per batch"})
        verbose: bool = field(default=False, metadata={"help": "say more"})

    class ToyEngine(HFEngine):
        def __init__(self, model, *, batch=1, verbose=False):
            super().__init__(model, dtype="float32", device="cpu", max_batch_size=batch)

    def tts_register_engines(register):
        register("toy", ToyEngine, ToyOptions)
'''


def test_a_third_party_engine_gets_its_flags_and_runs(tmp_path: Path, tiny_model_path: str) -> None:
    with engine_plugin(tmp_path, TOY_ENGINE, "toy"):
        entry = plugins.engine_registry(reload=True)["toy"]
        assert entry.summary == "HF with a fixed batch size of its own."
        args = cli.build_parser().parse_args(["run", "--engine", "toy", "--batch", "3", "--verbose", "--prompt", "q"])
        assert engine_flag_values(args, entry) == {"batch": 3, "verbose": True}
        stray = cli.build_parser().parse_args(["run", "--engine", "hf", "--batch", "3", "--prompt", "q"])
        with pytest.raises(ConfigError, match="--batch only applies to --engine toy"):
            engine_flag_values(stray, plugins.get_engine_entry("hf"))
        engine = build_engine("toy", tiny_model_path, batch=2)
        assert engine.max_batch_size == 2
        result = tts.run(engine, ["q"], strategies=[tts.strategies.BudgetForcing(max_thinking_tokens=6)], max_answer_tokens=10)
        assert result[0].samples[0].num_thinking_tokens <= 6
    assert "toy" not in plugins.engine_registry()


def test_broken_engine_registrations_fail_with_one_sentence(tmp_path: Path) -> None:
    not_a_dataclass = '''
        class NotADataclass:
            pass

        def tts_register_engines(register):
            register("fine", "elsewhere:Engine", NotADataclass)
    '''
    with engine_plugin(tmp_path / "a", not_a_dataclass, "bad"):
        with pytest.raises(EngineError, match="engine 'fine': register\\(\\) needs a dataclass of options"):
            plugins.engine_registry(reload=True)
    clash = '''
        from tts.engines.builtin import HFOptions

        def tts_register_engines(register):
            register("hf", "tts_clash_engine:Other", HFOptions)
    '''
    with engine_plugin(tmp_path / "b", clash, "clash"):
        with pytest.raises(EngineError, match="two plugins register an engine called 'hf'"):
            plugins.engine_registry(reload=True)
    missing = '''
        from dataclasses import dataclass

        @dataclass
        class Nothing:
            pass

        def tts_register_engines(register):
            register("ghost", "tts_no_such_module:Engine", Nothing)
    '''
    with engine_plugin(tmp_path / "c", missing, "ghost"):
        plugins.engine_registry(reload=True)
        with pytest.raises(tts.errors.MissingDependencyError, match="engine 'ghost' could not be imported"):
            build_engine("ghost", "m")


def test_an_option_whose_flag_tts_run_already_has_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeded = '''
        from dataclasses import dataclass, field

        @dataclass
        class SeededOptions:
            seed: int = field(default=0, metadata={"help": "clashes with tts run --seed"})

        def tts_register_engines(register):
            register("seeded", "tts_seeded_engine:Engine", SeededOptions)
    '''
    with engine_plugin(tmp_path, seeded, "seeded"):
        plugins.engine_registry(reload=True)
        assert cli.main(["run", "--prompt", "q"]) == 2
        assert "option 'seed' whose flag --seed tts run already uses" in capsys.readouterr().err


# ---------------------------------------------------------------------- the example plugin, installed


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/engine_plugin installed with pip into a throwaway target directory (never the shared venv)."""
    target = tmp_path_factory.mktemp("site")
    python = sys.executable
    if importlib.util.find_spec("pip") is None:  # an environment made by uv has no pip: borrow one, changing nothing
        import sysconfig

        helper = tmp_path_factory.mktemp("pip-venv")
        subprocess.run([sys.executable, "-m", "venv", str(helper)], check=True)
        python = str(helper / "bin" / "python")
        site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        # The build backend (setuptools, from the dev extra) comes from the environment under test, not the
        # older copy ensurepip puts next to pip.
        subprocess.run([python, "-m", "pip", "uninstall", "--quiet", "-y", "setuptools"], capture_output=True)
        (Path(site) / "_tts_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    command = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
               "--target", str(target), str(ROOT / "examples" / "engine_plugin")]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PIP_NO_CACHE_DIR="1"))
    assert done.returncode == 0, done.stderr
    assert (target / "tts_markov.py").exists() and list(target.glob("tts_markov_engine-*.dist-info"))
    return target


def _tts(site: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(SRC)]), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "tts.cli", *argv], capture_output=True, text=True, env=env, timeout=300)


def test_installed_engine_plugin_runs_from_the_command_line(installed_example: Path, tiny_model_path: str,
                                                            tmp_path: Path) -> None:
    listed = _tts(installed_example, "run", "--help")
    assert listed.returncode == 0 and "markov: a bigram model" in listed.stdout and "--corpus" in listed.stdout
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("one two three four five six seven eight nine ten\n")
    out = tmp_path / "markov.jsonl"
    done = _tts(installed_example, "run", "--engine", "markov", "--model", tiny_model_path, "--corpus", str(corpus),
                "--prompt", "Count to ten.", "--prompt", "Count again.", "--no-progress", "--max-answer-tokens", "10",
                "-s", "budget_forcing:max_thinking_tokens=12", "--output", str(out))
    assert done.returncode == 0, done.stderr
    from tts.runlog import read_run_log

    rows = list(read_run_log(out).records.values())
    assert len(rows) == 2
    from transformers import AutoTokenizer

    ids = AutoTokenizer.from_pretrained(tiny_model_path).encode(corpus.read_text().strip(), add_special_tokens=False)
    bigrams = set(zip(ids, ids[1:]))
    for row in rows:
        sample = row["samples"][0]
        assert sample["num_thinking_tokens"] <= 12 and sample["num_answer_tokens"] <= 10
        # Greedy bigrams of the corpus: every generated pair of tokens is a pair the corpus has.
        generated = sample["events"][0]["token_ids"]
        assert generated and all((a, b) in bigrams for a, b in zip(generated, generated[1:]))
    refused = _tts(installed_example, "run", "--engine", "markov", "--model", tiny_model_path, "--device", "cpu",
                   "--prompt", "q")
    assert refused.returncode == 2 and "--device only applies to --engine hf" in refused.stderr


def test_engine_options_are_checked_against_their_metadata_before_anything_loads() -> None:
    from tts.engines import build_engine
    from tts.errors import ConfigError

    with pytest.raises(ConfigError, match="hf.max_batch_size must be an integer"):
        build_engine("hf", "/nonexistent/model", max_batch_size=0)
    with pytest.raises(ConfigError, match="hf.max_batch_size"):
        build_engine("hf", "/nonexistent/model", max_batch_size="8")
