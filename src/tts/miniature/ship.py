"""Put a built model into the package: weights, tokenizer, the held-out benchmark and a model card.

``python -m tts.miniature.ship BUILD_DIR`` copies ``BUILD_DIR/refine`` (the sft model after its refinement
stage) to :func:`tts.miniature.shipped_model_path`, ``BUILD_DIR/data/heldout.jsonl`` to
:func:`tts.miniature.benchmark_path`, and writes ``MODEL_CARD.md`` from the sft and refine stages'
``training.json`` and the build's ``eval.json``, so the card's numbers are the measured ones. The shipped
``training.json`` is the sft stage's, with the refine stage's under ``"refine"``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from . import benchmark_path, shipped_model_path
from .tokenizer import ALPHABET, SPECIAL_TOKENS

VOCAB_SIZE = len(ALPHABET) + len(SPECIAL_TOKENS)

_KEEP = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
         "chat_template.jinja", "training.json")


def _pct(x: float) -> str:
    return f"{x:.1f}%"


def model_card(training: dict[str, Any], report: dict[str, Any], build_seconds: dict[str, float] | None = None) -> str:
    """The card: how the model was made and what it measured (numbers from the build's own files)."""
    cfg, rc = training["config"], training["refine"]
    rtr = rc["config"]
    shape, tr = cfg["shape"], cfg["train"]
    budgets = " / ".join("unlimited" if p["max_thinking_tokens"] is None else str(p["max_thinking_tokens"])
                         for p in report["budget_forcing"])
    accs = " / ".join(f"{p['accuracy']:.1f}" for p in report["budget_forcing"])
    toks = " / ".join(f"{p['thinking_tokens']:.0f}" for p in report["budget_forcing"])
    waits = "; ".join(f"Wait x{w['num_ignore']}: {_pct(w['accuracy'])} ({w['thinking_tokens']:.0f} thinking tokens)"
                      for w in report["wait"])
    minutes = ""
    if build_seconds:
        minutes = "\n" + "".join(f"- stage `{k}`: {v / 60:.1f} min\n" for k, v in build_seconds.items())
    return f"""# Miniature s1 — model card

A {sum_params(shape, training)}-parameter Qwen2 model that thinks in the s1 format on chained one-digit
arithmetic ("What is 3 + 9 + 8?", "What is 41 - 3 - 9?"; 1–8 steps). Built by `tts miniature build`
(seed {cfg['seed']}); shipped as the built-in model of the `tts` library. It is a miniature for exercising
test-time scaling strategies on a real model on a laptop CPU, not a useful calculator.

## How it was made
- Data: {training['n_examples']:,} teacher traces ({training['tokens']:,} tokens), problems disjoint from the
  {report['n']}-problem held-out benchmark and from the {cfg['n_pool']:,}-problem selection pool. Traces are one step per
  paragraph (`12 + 8 = 20`, steps separated by a blank line); after the answer about half verify it on a new
  line ("Wait, " — sometimes "Hmm, " or "Alternatively, " — then the last two steps redone), and a quarter of
  those re-checks fix a slip (a misread term or a wrong sum). A few percent carry the TCC, SCC and CCC
  sentences of the paper and follow them.
- Tokenizer: one token per character (byte-level BPE without merges, {VOCAB_SIZE} tokens), `<|im_start|>`,
  `<|im_end|>` (EOS), `<|fim_pad|>` (padding); Qwen ChatML template without a default system turn.
- Model: Qwen2, hidden {shape['hidden_size']}, {shape['num_hidden_layers']} layers, {shape['num_attention_heads']}
  heads of 64 (head_dim 64: HF and vLLM both run it), {shape['num_key_value_heads']} KV head(s), MLP
  {shape['intermediate_size']}, tied embeddings; float32 safetensors.
- Training: from scratch (no base model — see docs/miniature.md for why the paper's base → 1K → SFT route
  does not work at this scale), loss on the assistant turn only, {tr['steps']} steps x {tr['batch_size']},
  AdamW (0.9, 0.95), weight decay {tr['weight_decay']}, {int(tr['warmup'] * 100)}% warm-up then cosine, peak lr
  {tr['lr']}, clip {tr['clip']}, bf16 autocast on CPU, {tr['threads']} thread{_schedule_note(cfg)}; final loss
  {sum(training['losses'][-20:]) / len(training['losses'][-20:]):.3f} (mean of the last 20 steps).
- Refinement (stage `refine`): {rtr['steps']} more steps x {rtr['batch_size']} on {rc['n_examples']:,} fresh traces of the
  same teacher (peak lr {rtr['lr']}, {int(rtr['warmup'] * 100)}% warm-up, cosine). Before it the model reached 60.5% and
  one forced "Wait" cost it 9 points; final loss {sum(rc['losses'][-20:]) / len(rc['losses'][-20:]):.3f}.{minutes}
## Numbers (held-out, {report['n']} problems, greedy, HF engine, float32)
- Budget forcing, max thinking tokens {budgets}: accuracy {accs}% at {toks} mean thinking tokens.
- Control {_pct(report['control'])}, Scaling {report['scaling_log2']:.1f} (points per doubling, log2 x),
  Performance {_pct(report['performance'])}.
- "Wait" forced at the natural end (no maximum): {waits}.

## Limits
One training seed is shipped (a second is measured in docs/miniature.md); ±3–4 points is noise on {report['n']} problems. Accuracy falls with the number of steps (a misread
term ends a chain). The model knows only this task and this format.
"""


def _schedule_note(cfg: dict[str, Any]) -> str:
    tr, p2 = cfg["train"], cfg.get("phase2")
    note = ""
    if tr.get("initial_schedule"):
        planned, until = tr["initial_schedule"]
        note += (f"; the cosine was planned for {planned} steps and re-planned to end at {tr['steps']} at step "
                 f"{until}, when the shared machine ran 3-4x slower than measured")
    if p2:
        note += (f"; then a second schedule of {p2['steps']} steps x {p2['batch_size']} (peak lr {p2['lr']}, "
                 f"{int(p2['warmup'] * 100)}% warm-up, cosine) on the traces the first one never drew")
    return note


def sum_params(shape: dict[str, Any], training: dict[str, Any]) -> str:
    """The parameter count of a Qwen2 of ``shape`` with tied embeddings (q/k/v biases, two norms per layer)."""
    h, i, n = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    kv = shape["num_key_value_heads"] * shape["head_dim"]
    q = shape["num_attention_heads"] * shape["head_dim"]
    per_layer = h * q + q + 2 * (h * kv + kv) + q * h + 3 * h * i + 2 * h
    total = n * per_layer + VOCAB_SIZE * h + h
    return f"{total / 1e6:.2f}M"


def ship(build_dir: str | Path, dest: Path | None = None) -> Path:
    """Copy the build's model and benchmark into the package and write the model card; returns the model dir."""
    root = Path(build_dir)
    dest = dest or shipped_model_path()
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in _KEEP:
        if (root / "refine" / name).exists():
            shutil.copy2(root / "refine" / name, dest / name)
    training = json.loads((root / "sft" / "training.json").read_text())
    training["refine"] = json.loads((root / "refine" / "training.json").read_text())
    for record in (training, training["refine"]):
        record["losses"] = [round(x, 4) for x in record["losses"]]
    (dest / "training.json").write_text(json.dumps(training))
    report = json.loads((root / "eval.json").read_text())
    seconds = json.loads((root / "seconds.json").read_text()) if (root / "seconds.json").exists() else None
    (dest / "MODEL_CARD.md").write_text(model_card(training, report, seconds))
    benchmark_path().parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "data" / "heldout.jsonl", benchmark_path())
    return dest


if __name__ == "__main__":  # pragma: no cover
    print(ship(sys.argv[1]))
