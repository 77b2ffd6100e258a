"""Grouping a vote's answers fast, with exactly the groups of the pairwise algorithm.

The pairwise algorithm (:func:`reference_grouping`, kept as the oracle for the tests and the benchmark)
takes each answer in turn, compares it with the first member (the *representative*) of each group in
order of creation, joins the first it is equivalent to, else starts a group. Equivalence need not be
transitive (``50`` ~ ``50\\%`` ~ ``0.5`` but ``50`` !~ ``0.5``), so the order of those comparisons is part of
the result. Here the same comparisons decide, in the same order, against the same representatives, but:

- equal answers are one *form*: a later copy goes where the first went, with the same slow pairs (for
  the built-in check a form is the normalised text and exact value, which decide everything it says);
- instant verdicts come from indexes (normalised text, exact value, and math-verify's verdict on plain
  numbers read from how it parses them, :func:`tts.mathverify_numbers.numbers_equivalent`), so a form meets
  only the few groups it could join or cannot rule out;
- what only math-verify can tell goes to its worker in batches, one round trip for every form waiting on
  it: each form's comparisons in order, stopping at the first "equivalent", each under the same timeout
  and deadline as one call; verdicts are cached for the problem and, for math-verify, across problems.

A form can only start a group once every earlier form is placed (a group it could have joined might
come first); until then it is compared, speculatively, with the groups already there, which it would
meet first anyway, so no comparison is made that the pairwise algorithm would not make.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from dataclasses import dataclass, field
from fractions import Fraction

from .answers import (
    Equivalence,
    Grouping,
    MathVerifyEquivalence,
    as_rational,
    normalize,
    simple_equivalent,
)
from .mathverify import NOT_RUN
from .mathverify_numbers import NearbyValues, Signature, numbers_equivalent

_NEVER = 1 << 62  # a group index past every group


def group_within(answers: list[str | None], check: Equivalence, time_limit: float | None) -> Grouping:
    """:func:`tts.answers.group_answers_within` for an equivalence ``check`` already chosen."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    if check is simple_equivalent:
        result = _group_simple(answers)
    elif isinstance(check, MathVerifyEquivalence) and check.batches:
        result = _MathVerifyGrouping(answers, check, deadline).run()
    else:
        return _pairwise(answers, check, deadline, memo={})
    if deadline is not None and time.monotonic() >= deadline and sum(a is not None for a in answers) > 1:
        result.time_limit_hit = True  # as the pairwise algorithm: comparisons were still due at the limit
    return result


def reference_grouping(answers: list[str | None], equivalent: Equivalence,
                       time_limit: float | None = None) -> Grouping:
    """The pairwise algorithm, one comparison (one worker round trip) at a time: the oracle, and slow."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    return _pairwise(answers, equivalent, deadline, memo=None)


# ---- the pairwise algorithm, for any equivalence ------------------------------------------------------


def _pairwise(answers: list[str | None], check: Equivalence, deadline: float | None,
              memo: dict[tuple[str, str], bool | None] | None) -> Grouping:
    """Each answer against each representative in order; ``memo`` (when given) remembers verdicts."""
    result = Grouping(groups=[])
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        for group in result.groups:
            verdict = _compare(check, answers[group[0]] or "", answer, deadline, result, memo)
            if verdict is None:
                result.slow.append((group[0], i))
            elif verdict:
                group.append(i)
                break
        else:
            result.groups.append([i])
    return result


def _compare(check: Equivalence, a: str, b: str, deadline: float | None, result: Grouping,
             memo: dict[tuple[str, str], bool | None] | None) -> bool | None:
    if deadline is not None and deadline - time.monotonic() <= 0:
        result.time_limit_hit = True
        return True if simple_equivalent(a, b) else (None if check is not simple_equivalent else False)
    if memo is not None and (a, b) in memo:
        return memo[(a, b)]
    within = getattr(check, "within", None)
    if deadline is None or within is None:
        verdict: bool | None = check(a, b)
    else:
        verdict = within(a, b, deadline - time.monotonic())
    if memo is not None:
        memo[(a, b)] = verdict
    return verdict


# ---- forms: equal answers placed once ------------------------------------------------------------------


def _expand(answers: list[str | None], form_of: list[int | None], placed: list[int],
            slow: list[list[int]], founders: list[int]) -> Grouping:
    """The answers' groups from their forms' places (group index), slow groups and group founders."""
    result = Grouping(groups=[[] for _ in founders])
    rep_index = [0] * len(founders)
    for i, form in enumerate(form_of):
        if form is None:
            continue
        group = placed[form]
        if not result.groups[group]:
            rep_index[group] = i  # the group's first member: its founding form's first answer
        result.groups[group].append(i)
        result.slow.extend((rep_index[g], i) for g in slow[form])
    return result


def _group_simple(answers: list[str | None]) -> Grouping:
    """The built-in check: normalised text and exact value decide every comparison, through two indexes."""
    keys: dict[tuple[str, Fraction | None], int] = {}
    form_of: list[int | None] = []
    seen: dict[str, int] = {}
    for answer in answers:
        if answer is None:
            form_of.append(None)
            continue
        if answer not in seen:
            seen[answer] = keys.setdefault((normalize(answer), as_rational(answer)), len(keys))
        form_of.append(seen[answer])
    by_text: dict[str, int] = {}
    by_value: dict[Fraction, int] = {}
    placed: list[int] = []
    founders: list[int] = []
    for text, value in keys:  # in order of first appearance
        group = min(by_text.get(text, _NEVER), by_value.get(value, _NEVER) if value is not None else _NEVER)
        if group == _NEVER:  # equivalent to no representative: a new group (its text and value are new)
            group = len(founders)
            founders.append(len(placed))
            by_text[text] = group
            if value is not None:
                by_value[value] = group
        placed.append(group)
    return _expand(answers, form_of, placed, [[] for _ in placed], founders)


# ---- math-verify ---------------------------------------------------------------------------------------

_TRUE, _FALSE, _SLOW, _ASK = "true", "false", "slow", "ask"


@dataclass
class _Form:
    """One distinct answer text and where its comparisons stand."""

    text: str
    simple_text: str
    value: Fraction | None
    signature: Signature | None = None  # None: not parsed (not needed, or the deadline came first)
    next_group: int = 0  # groups before this one are compared: none was equivalent
    slow: list[int] = field(default_factory=list)
    group: int | None = None


@dataclass
class _Blocked:
    """A form waiting on math-verify: its comparisons to ask, in order, against these groups."""

    form: int
    groups: list[int]


class _MathVerifyGrouping:
    """The pairwise algorithm's groups under :class:`MathVerifyEquivalence`, asked in batches.

    A comparison (representative ``r``, answer ``x``) is decided like :meth:`MathVerifyEquivalence.within`
    with math-verify's worker: the built-in check first, then math-verify, which parses ``r`` and then ``x``
    (so a parse that raises makes it False and one that hangs makes it slow, in that order), then verifies.
    """

    def __init__(self, answers: list[str | None], check: MathVerifyEquivalence, deadline: float | None) -> None:
        self.answers, self.check, self.deadline = answers, check, deadline
        self.slow_verdict = _SLOW if deadline is not None else _FALSE  # no limit: a timeout is a "no"
        index: dict[str, int] = {}
        self.form_of: list[int | None] = [None if a is None else index.setdefault(a, len(index)) for a in answers]
        self.forms = [_Form(text, normalize(text), as_rational(text)) for text in index]
        self.verdicts: dict[tuple[int, int], str] = {}  # (representative's form, form) -> verdict, this problem
        self.founders: list[int] = []  # group -> the form that founded it
        self.by_text: dict[str, int] = {}
        self.by_value: dict[Fraction, int] = {}
        self.by_number: dict[Fraction | str, list[int]] = {}  # math-verify equal on plain numbers
        # groups by what their representative's parse is (see _candidates)
        self.kinds: dict[str, list[int]] = {k: [] for k in ("hung", "unknown", "empty", "numbers", "other")}
        self.all_values, self.float_values = NearbyValues(), NearbyValues()  # of plain-number representatives
        self.time_limit_hit = False

    def run(self) -> Grouping:
        self._parse_forms()
        waiting = list(range(len(self.forms)))
        while waiting:
            blocked = self._place(waiting)
            waiting = [f for f in waiting if self.forms[f].group is None]
            if blocked:
                self._ask(blocked)
        forms = self.forms
        result = _expand(self.answers, self.form_of, [f.group or 0 for f in forms],
                         [f.slow for f in forms], self.founders)
        result.time_limit_hit = self.time_limit_hit
        return result

    def _expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _parse_forms(self) -> None:
        """Signatures of every form math-verify may see: each that the first one does not match by text."""
        forms = self.forms
        if len(forms) < 2 or self._expired():
            return
        first = forms[0]
        needed = [f for f in forms[1:] if f.simple_text != first.simple_text
                  and (f.value is None or f.value != first.value)]
        if not needed:
            return
        found = self.check.signatures([first.text] + [f.text for f in needed], self.deadline)
        for form in [first, *needed]:
            form.signature = found.get(form.text)

    def _place(self, waiting: list[int]) -> list[_Blocked]:
        """One pass over the waiting forms in order; returns those blocked on math-verify."""
        blocked: list[_Blocked] = []
        earlier_placed = True
        for f in waiting:
            form = self.forms[f]
            outcome = self._advance(f)
            if isinstance(outcome, int):
                form.group = outcome
            elif outcome is not None:
                blocked.append(outcome)
                earlier_placed = False
            elif earlier_placed:
                form.group = self._found(f)  # every earlier form is placed and none matched: a new group
            else:
                earlier_placed = False  # it waits for the groups earlier forms may start
        return blocked

    def _advance(self, f: int) -> int | _Blocked | None:
        """Compare form ``f`` with the groups it has not met yet, in order, as far as verdicts are known.

        Returns the group it joins, what to ask math-verify, or None when it met every group in vain.
        """
        form = self.forms[f]
        groups = len(self.founders)
        if form.next_group >= groups:
            return None
        expired = self._expired()
        if expired:
            self.time_limit_hit = True
        join = min(self.by_text.get(form.simple_text, _NEVER),
                   self.by_value.get(form.value, _NEVER) if form.value is not None else _NEVER)
        if not expired and form.signature is not None and form.signature.plain_numbers:
            join = min(join, self._numbers_match(form.signature, form.next_group))
        end = min(join, groups)
        asks: list[int] = []
        for g in self._candidates(form, end, expired):
            verdict = self._verdict(g, f, expired)
            if verdict == _ASK:
                asks.append(g)
                continue
            if asks:
                if verdict == _TRUE:  # known to join here: nothing after it needs asking
                    break
                continue
            form.next_group = g + 1
            if verdict == _TRUE:
                return g
            if verdict == _SLOW:
                form.slow.append(g)
        if asks:
            form.next_group = asks[0]
            return _Blocked(f, asks)
        form.next_group = end
        return join if join < groups else None

    def _candidates(self, form: _Form, end: int, expired: bool) -> list[int]:
        """The groups in [next_group, end) whose verdict may not be "no", in order."""
        start = form.next_group
        if expired or form.signature is None:
            return list(range(start, end))  # only the instant check and verdicts already made decide
        kinds = self.kinds
        signature = form.signature
        lists = [kinds["hung"], kinds["unknown"]]  # a representative whose parse hangs is slow with anyone
        if signature.status == "hung":
            lists += [kinds["empty"], kinds["numbers"], kinds["other"]]
        elif signature.status == "ok" and not signature.empty:
            lists.append(kinds["other"])
            if not signature.plain_numbers:
                lists.append(kinds["numbers"])
            else:  # plain numbers on both sides are decided, except floats close to each other
                near = {g for v in signature.floats for g in self.all_values.near(v)}
                near.update(g for v in signature.exact for g in self.float_values.near(v))
                lists.append([g for g in near if start <= g < end and self._numbers(g, form) is None])
        return sorted(g for kind in lists for g in _between(kind, start, end))

    def _verdict(self, g: int, f: int, expired: bool) -> str:
        """The verdict on (representative of group ``g``, form ``f``), or _ASK if math-verify must tell."""
        rep = self.founders[g]
        known = self.verdicts.get((rep, f))
        if known is not None:
            return known
        if expired:
            return self.slow_verdict
        a, b = self.forms[rep].signature, self.forms[f].signature
        if a is None or b is None:
            return self.slow_verdict
        if a.status == "hung":
            return self.slow_verdict
        if a.status == "error":
            return _FALSE
        if b.status == "hung":
            return self.slow_verdict
        if b.status == "error" or a.empty or b.empty:
            return _FALSE
        if a.plain_numbers and b.plain_numbers:
            decided = numbers_equivalent(a, b)
            if decided is not None:
                return _TRUE if decided else _FALSE
        cached = self.check.known(self.forms[rep].text, self.forms[f].text)
        if cached is not None:
            return _TRUE if cached else _FALSE
        return _ASK

    def _numbers(self, g: int, form: _Form) -> bool | None:
        rep = self.forms[self.founders[g]].signature
        assert rep is not None and form.signature is not None
        return numbers_equivalent(rep, form.signature)

    def _numbers_match(self, signature: Signature, start: int) -> int:
        """The first group from ``start`` whose plain numbers share a value or a string with these."""
        best = _NEVER
        for key in _number_keys(signature):
            groups = self.by_number.get(key)
            if groups:
                k = bisect_left(groups, start)
                if k < len(groups):
                    best = min(best, groups[k])
        return best

    def _found(self, f: int) -> int:
        """Start a group with form ``f`` as its representative and index what it matches instantly."""
        group = len(self.founders)
        self.founders.append(f)
        form = self.forms[f]
        self.by_text.setdefault(form.simple_text, group)
        if form.value is not None:
            self.by_value.setdefault(form.value, group)
        signature = form.signature
        if signature is None:
            self.kinds["unknown"].append(group)
        elif signature.status == "hung":
            self.kinds["hung"].append(group)
        elif signature.status == "error":
            pass  # math-verify fails on it first: "no" with every answer, never a candidate
        elif signature.empty:
            self.kinds["empty"].append(group)
        elif signature.plain_numbers:
            self.kinds["numbers"].append(group)
            for key in _number_keys(signature):
                self.by_number.setdefault(key, []).append(group)
            for value in (*signature.exact, *signature.floats):
                self.all_values.add(value, group)
            for value in signature.floats:
                self.float_values.add(value, group)
        else:
            self.kinds["other"].append(group)
        return group

    def _ask(self, blocked: list[_Blocked]) -> None:
        """One request for every blocked form's comparisons; verdicts kept for this problem."""
        chains = [[(self.forms[self.founders[g]].text, self.forms[b.form].text) for g in b.groups] for b in blocked]
        replies = self.check.compare_chains(chains, self.deadline)
        for b, chain_replies in zip(blocked, replies):
            for g, reply in zip(b.groups, chain_replies):
                if reply is NOT_RUN:
                    self.time_limit_hit = True
                verdict = (_TRUE if reply else _FALSE) if isinstance(reply, bool) else self.slow_verdict
                self.verdicts[(self.founders[g], b.form)] = verdict  # TIMED_OUT and NOT_RUN: slow


def _between(groups: list[int], start: int, end: int) -> list[int]:
    """The members of the sorted list ``groups`` in [start, end)."""
    return groups[bisect_left(groups, start) : bisect_left(groups, end)]


def _number_keys(signature: Signature) -> list[Fraction | str]:
    """What two plain-number parses must share to be math-verify equal: a value or a string."""
    return [*signature.exact, *(f"s:{s}" for s in signature.strings)]
