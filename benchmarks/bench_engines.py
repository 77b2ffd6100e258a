"""Budget forcing on the vLLM engine and on a vLLM server, as ratios against baselines on the same engine.

    python benchmarks/bench_engines.py [--engines vllm,openai] [--problems 64] [--repeats 2] [--json out.json]

For each engine (in-process ``tts.VLLMEngine``; ``tts.OpenAIEngine`` against a local
``python -m vllm.entrypoints.openai.api_server``):

(a) budget forcing (4 ignores) over N problems vs one plain generate round producing the same number of
    tokens per problem (``min_tokens = max_tokens =`` that count, all problems in one batch; target <= 1.3x):
    what the segment rounds, hooks and resubmissions cost;
(b) the same budget forcing vs the s1 reference style, i.e. every round resubmits the whole sequence to an
    engine *without* prefix caching (a second engine started with ``enable_prefix_caching=False`` /
    ``--no-enable-prefix-caching``): what the prefix cache saves. Same tokens are checked.

Prompts are padded to ``--prompt-tokens`` so that re-prefilling them is a visible cost, as with real
problems and long reasoning traces. Times are the best of ``--repeats`` runs after a warm-up. On CPU set
the KV cache size with ``VLLM_CPU_KVCACHE_SPACE`` (GiB; default here 2).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from _timing import best_time  # benchmarks/ is on sys.path when a script runs

import tts
from tts.engines.base import SegmentRequest
from tts.strategies import BudgetForcing
from tts.testing import build_tiny_model, sample_questions

BUDGET, IGNORES, ANSWER = 384, 4, 32


def make_questions(tokenizer: Any, n: int, prompt_tokens: int) -> list[str]:
    """``n`` questions, each padded with filler text to about ``prompt_tokens`` tokens once rendered."""
    filler_ids = tokenizer.encode(" ".join(sample_questions(600, offset=1000)))
    fmt = tts.S1.bind(tokenizer)
    out = []
    for q in sample_questions(n):
        room = max(0, prompt_tokens - len(fmt.encode(fmt.render_prompt(q))) - 1)
        out.append(tokenizer.decode(filler_ids[:room]) + " " + q)
    return out


def run_bf(engine: Any, questions: list[str]) -> list[tts.ProblemResult]:
    strategy = BudgetForcing(max_thinking_tokens=BUDGET, num_ignore=IGNORES)
    return tts.run(engine, questions, strategies=[strategy], max_answer_tokens=ANSWER)


def rounds_of(per_sample: list[list[int]]) -> int:
    return max(len(s) for s in per_sample)


def plain_round(engine: Any, results: list[tts.ProblemResult]) -> list[Any]:
    """One batched round generating, per problem, as many tokens as budget forcing's whole stream had."""
    requests = [
        SegmentRequest(key=f"plain{r.index}", token_ids=r.prompt_token_ids, max_tokens=len(r.samples[0].token_ids),
                       min_tokens=len(r.samples[0].token_ids))
        for r in results
    ]
    return engine.generate(requests)


def bench_engine(name: str, cached: Any, uncached_factory: Callable[[], Any], questions: list[str], repeats: int) -> dict[str, Any]:
    bf_time, results = best_time(lambda: run_bf(cached, questions), repeats)
    plain_time, _ = best_time(lambda: plain_round(cached, results), repeats)
    tokens = sum(len(r.samples[0].token_ids) for r in results)
    segments = sum(e.kind == "segment" for r in results for e in r.samples[0].events)
    rounds = max(sum(e.kind == "segment" for e in r.samples[0].events) for r in results)
    # Rounds are synchronous: round k lasts as long as the longest k-th segment of any sample. Decode steps
    # summed that way, against the plain round's longest sample, is the floor the ratio (a) cannot go below.
    per_sample = [[len(e.token_ids) for e in r.samples[0].events if e.kind == "segment"] for r in results]
    round_steps = sum(max((s[k] for s in per_sample if k < len(s)), default=0) for k in range(rounds_of(per_sample)))
    plain_steps = max(len(r.samples[0].token_ids) for r in results)
    figures: dict[str, Any] = {
        "decode_steps_rounds": round_steps, "decode_steps_plain": plain_steps,
        "engine": name, "problems": len(questions), "prompt_tokens": sum(len(r.prompt_token_ids) for r in results) // len(results),
        "generated_and_injected_tokens": tokens, "segments": segments, "rounds": rounds,
        "budget_forcing_s": bf_time, "plain_generate_s": plain_time, "ratio_vs_plain": bf_time / plain_time,
        "cache_stats": dict(cached.stats),
    }
    with uncached_factory() as uncached:
        ref_time, ref_results = best_time(lambda: run_bf(uncached, questions), repeats)
    figures["reference_no_prefix_cache_s"] = ref_time
    figures["speedup_vs_reference"] = ref_time / bf_time
    figures["same_tokens_as_reference"] = all(
        a.samples[0].token_ids == b.samples[0].token_ids for a, b in zip(results, ref_results)
    )
    return figures


@contextmanager
def vllm_engine(model_dir: str, prefix_caching: bool) -> Iterator[Any]:
    engine = tts.VLLMEngine(model_dir, dtype="float32", enable_prefix_caching=prefix_caching)
    try:
        yield engine
    finally:
        engine.close()


@contextmanager
def vllm_server(model_dir: str, prefix_caching: bool) -> Iterator[Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir, "--dtype", "float32",
            "--enforce-eager", "--host", "127.0.0.1", "--port", str(port), "--enable-prompt-tokens-details"]
    if not prefix_caching:
        args.append("--no-enable-prefix-caching")
    log = tempfile.NamedTemporaryFile(prefix="tts-bench-server-", suffix=".log", delete=False)
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"vllm server did not start; see {log.name}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        engine = tts.OpenAIEngine(base_url=f"http://127.0.0.1:{port}/v1", max_concurrency=64)
        try:
            yield engine
        finally:
            engine.close()
    finally:
        process.terminate()
        try:
            process.wait(60)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the engine-core child, if it outlived the server
            except ProcessLookupError:
                pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="vllm,openai")
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    model_dir = str(build_tiny_model(tempfile.mkdtemp(prefix="tts-bench-")))
    figures = []
    factories = {"vllm": vllm_engine, "openai": vllm_server}
    for name in args.engines.split(","):
        factory = factories[name]
        with factory(model_dir, True) as engine:
            questions = make_questions(engine.tokenizer, args.problems, args.prompt_tokens)
            figures.append(bench_engine(name, engine, lambda f=factory: f(model_dir, False), questions, args.repeats))
    import vllm

    print(f"vllm {vllm.__version__}, tiny Qwen2 (2 layers, fp32), BF max {BUDGET} thinking tokens, {IGNORES} ignores")
    for f in figures:
        print(f"[{f['engine']}] {f['problems']} problems, ~{f['prompt_tokens']}-token prompts, {f['generated_and_injected_tokens']} "
              f"tokens in {f['segments']} segments ({f['rounds']} rounds)")
        print(f"  (a) BF {f['budget_forcing_s']:.2f} s vs plain generate of the same tokens {f['plain_generate_s']:.2f} s: "
              f"{f['ratio_vs_plain']:.2f}x the time (target <= 1.3x)")
        print(f"  (b) BF vs reference style (resubmit per round, no prefix cache) {f['reference_no_prefix_cache_s']:.2f} s: "
              f"{f['speedup_vs_reference']:.2f}x faster; same tokens: {f['same_tokens_as_reference']}")
        print(f"  decode steps: {f['decode_steps_rounds']} over the rounds (longest segment per round, summed) vs "
              f"{f['decode_steps_plain']} in the plain round")
        print(f"  prefix cache: {f['cache_stats']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
