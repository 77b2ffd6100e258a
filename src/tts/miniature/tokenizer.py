"""The miniature's tokenizer: one token per character, plus the s1 special tokens and a Qwen-style template.

Built in-process with ``tokenizers`` (no download). The vocabulary is printable ASCII and the newline, so
every string the library forces — ``Final Answer:``, ``Wait``, ``Hmm``, ``Alternatively``, the TCC / SCC /
CCC sentences — is spelled in known tokens; the teacher makes sure they also occur in training.
``<|im_start|>`` and ``<|im_end|>`` are single special tokens (``<|im_end|>`` is EOS) and ``<|fim_pad|>``
pads, as in s1's SFT. One token per character makes budgets easy to read: a step such as ``12 + 8 = 20``
plus its blank line is 14 tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_pad|>")

#: Qwen's ChatML layout; unlike Qwen2.5's template (which inserts "You are Qwen, created by Alibaba Cloud. ...")
#: no system turn is added when none is given (as in Qwen3's), which keeps the training sequences short.

CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))


def build_tokenizer() -> Any:
    """A ``PreTrainedTokenizerFast`` with one token per character of :data:`ALPHABET` and the special tokens.

    The model is byte-level BPE without merges (characters spelled the GPT-2 byte-level way, space as
    ``Ġ``), so that transformers' ``Qwen2Tokenizer`` — which ``AutoTokenizer`` picks for a Qwen2 model
    directory, rebuilding the pipeline from vocabulary and merges — tokenizes exactly the same way.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    byte_char = pre_tokenizers.ByteLevel.alphabet()  # the 256 printable stand-ins, in no particular order
    mapping = _bytes_to_unicode()
    assert set(mapping.values()) == set(byte_char)
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for char in ALPHABET:
        vocab[mapping[ord(char)]] = len(vocab)
    raw = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    raw.decoder = decoders.ByteLevel()
    raw.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|fim_pad|>",
        additional_special_tokens=["<|im_start|>"],
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = 1024
    return tokenizer


def save_tokenizer(tokenizer: Any, path: Path | str) -> None:
    """``save_pretrained``, then make ``tokenizer_config.json`` loadable by every transformers tts supports.

    transformers 5 writes ``"tokenizer_class": "TokenizersBackend"`` and a list of ``extra_special_tokens``,
    which transformers 4.x cannot read; ``PreTrainedTokenizerFast`` with ``additional_special_tokens`` loads the
    same tokenizer.json, with the same ids, on 4.56 through 5.24.
    """
    import json

    tokenizer.save_pretrained(path)
    config_file = Path(path) / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    extra = config.pop("extra_special_tokens", None)
    if isinstance(extra, list):
        config["additional_special_tokens"] = extra
    config_file.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-character table (the one byte-level BPE uses)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = keep[:]
    n = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(keep, (chr(c) for c in chars)))
