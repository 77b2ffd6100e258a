"""Domain labels for the diversity step of selection: a keyword heuristic and an LLM prompt through an engine.

The paper classifies each question into a top-level subject of the Mathematics Subject Classification
(MSC) with an LLM. A classifier here is any callable from a batch of questions to one label per
question, so users can plug in their own. Two are built in:

* :func:`keyword_domains` — free and offline: counts subject keywords; good enough for smoke runs and
  pools whose questions name their subject, no substitute for the LLM on a real 59K pool;
* :class:`LLMDomainClassifier` — asks a model served by any ``tts`` engine to name the subject, in one
  batched engine call, and maps its reply onto the label list (``Other`` when nothing matches).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..engines.base import SegmentRequest
from ..errors import ConfigError

#: MSC 2020 top-level classes, "code name" (the label set of the paper's diversity step).
MSC_TOP_LEVEL: tuple[str, ...] = (
    "00 General and overarching topics", "01 History and biography", "03 Mathematical logic and foundations",
    "05 Combinatorics", "06 Order, lattices, ordered algebraic structures", "08 General algebraic systems",
    "11 Number theory", "12 Field theory and polynomials", "13 Commutative algebra", "14 Algebraic geometry",
    "15 Linear and multilinear algebra; matrix theory", "16 Associative rings and algebras",
    "17 Nonassociative rings and algebras", "18 Category theory; homological algebra", "19 K-theory",
    "20 Group theory and generalizations", "22 Topological groups, Lie groups", "26 Real functions",
    "28 Measure and integration", "30 Functions of a complex variable", "31 Potential theory",
    "32 Several complex variables and analytic spaces", "33 Special functions", "34 Ordinary differential equations",
    "35 Partial differential equations", "37 Dynamical systems and ergodic theory",
    "39 Difference and functional equations", "40 Sequences, series, summability", "41 Approximations and expansions",
    "42 Harmonic analysis on Euclidean spaces", "43 Abstract harmonic analysis",
    "44 Integral transforms, operational calculus", "45 Integral equations", "46 Functional analysis",
    "47 Operator theory", "49 Calculus of variations and optimal control; optimization", "51 Geometry",
    "52 Convex and discrete geometry", "53 Differential geometry", "54 General topology", "55 Algebraic topology",
    "57 Manifolds and cell complexes", "58 Global analysis, analysis on manifolds",
    "60 Probability theory and stochastic processes", "62 Statistics", "65 Numerical analysis", "68 Computer science",
    "70 Mechanics of particles and systems", "74 Mechanics of deformable solids", "76 Fluid mechanics",
    "78 Optics, electromagnetic theory", "80 Classical thermodynamics, heat transfer", "81 Quantum theory",
    "82 Statistical mechanics, structure of matter", "83 Relativity and gravitational theory",
    "85 Astronomy and astrophysics", "86 Geophysics", "90 Operations research, mathematical programming",
    "91 Game theory, economics, finance, and other social and behavioral sciences",
    "92 Biology and other natural sciences", "93 Systems theory; control",
    "94 Information and communication theory, circuits", "97 Mathematics education",
)  # fmt: skip

OTHER = "Other"

#: Keyword stems per label for :func:`keyword_domains`; the first label with the most hits wins.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "11 Number theory": ("prime", "divisor", "divisible", "gcd", "modulo", "remainder", "integer", "digit"),
    "05 Combinatorics": (
        "how many ways",
        "permutation",
        "combination",
        "arrange",
        "subset",
        "graph",
        "choose",
    ),
    "51 Geometry": ("triangle", "circle", "angle", "polygon", "square", "radius", "perimeter", "area"),
    "60 Probability theory and stochastic processes": ("probability", "expected", "random", "dice", "coin"),
    "12 Field theory and polynomials": ("polynomial", "root", "quadratic", "coefficient"),
    "15 Linear and multilinear algebra; matrix theory": (
        "matrix",
        "matrices",
        "eigen",
        "determinant",
        "vector",
    ),
    "26 Real functions": ("derivative", "integral", "limit", "continuous", "function"),
    "34 Ordinary differential equations": ("differential equation", "ode"),
    "20 Group theory and generalizations": ("group", "subgroup", "homomorphism"),
    "68 Computer science": ("algorithm", "program", "code", "complexity", "string"),
    "70 Mechanics of particles and systems": ("velocity", "force", "mass", "acceleration", "momentum"),
    "81 Quantum theory": ("quantum", "electron", "photon", "spin"),
    "92 Biology and other natural sciences": ("molecule", "reaction", "chemical", "cell", "protein", "acid"),
}


def keyword_domains(questions: Sequence[str]) -> list[str]:
    """Label each question by keyword hits (whole-word prefix matches, case-insensitive); ``Other`` if none."""
    labels = []
    for question in questions:
        text = question.lower()
        best, best_hits = OTHER, 0
        for label, stems in KEYWORDS.items():
            hits = sum(len(re.findall(r"\b" + re.escape(stem), text)) for stem in stems)
            if hits > best_hits:
                best, best_hits = label, hits
        labels.append(best)
    return labels


DEFAULT_PROMPT = (
    "Classify the following question into exactly one of these subjects:\n{labels}\n\n"
    "Question:\n{question}\n\nReply with the subject's code and name only."
)


class LLMDomainClassifier:
    """Ask a model, through a ``tts`` engine, which subject a question belongs to.

    Args:
        engine: Any :class:`tts.engines.Engine` (HF, vLLM, OpenAI-compatible) whose tokenizer has a chat template.
        labels: The allowed labels; a reply is mapped to the first label it names (by full text, then by code).
        prompt: Template with ``{labels}`` and ``{question}``.
        max_tokens: Cap of each reply.
    """

    def __init__(
        self,
        engine: Any,
        labels: Sequence[str] = MSC_TOP_LEVEL,
        prompt: str = DEFAULT_PROMPT,
        max_tokens: int = 32,
    ) -> None:
        if "{question}" not in prompt:
            raise ConfigError("the domain prompt must contain '{question}'; add it where the question goes.")
        if not getattr(engine.tokenizer, "chat_template", None):
            raise ConfigError("the domain classifier's engine tokenizer has no chat template; set one.")
        self.engine, self.labels, self.prompt, self.max_tokens = engine, list(labels), prompt, max_tokens

    def __call__(self, questions: Sequence[str]) -> list[str]:
        """Label every question with one batched engine call."""
        tokenizer = self.engine.tokenizer
        requests = []
        for index, question in enumerate(questions):
            text = self.prompt.format(labels="\n".join(self.labels), question=question)
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=True, add_generation_prompt=True
            )
            ids = list(ids["input_ids"] if isinstance(ids, Mapping) else ids)
            room = max(1, min(self.max_tokens, self.engine.context_length - len(ids)))
            eos = tokenizer.eos_token_id
            requests.append(
                SegmentRequest(f"domain-{index}", ids, room, stop_token_ids=[eos] if eos is not None else [])
            )
        outputs = self.engine.generate(requests)
        self.engine.release([r.key for r in requests])
        return [self.parse(tokenizer.decode(out.token_ids, skip_special_tokens=True)) for out in outputs]

    def parse(self, reply: str) -> str:
        """Map a model reply onto a label: the label's full text, then its leading code; else ``Other``."""
        lowered = reply.lower()
        for label in self.labels:
            if label.lower() in lowered:
                return label
        for label in self.labels:
            code = label.split(" ", 1)[0]
            if code.isdigit() and re.search(rf"(?<!\d){code}(?!\d)", reply):
                return label
        return OTHER
