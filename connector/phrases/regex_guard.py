"""Refuse regular expressions that can take exponential time, before they meet a transcript.

Python's ``re`` backtracks and cannot be interrupted, and a phrase rule's pattern runs on every
final (and partial) of every call, in the session's event loop. A pattern such as ``(\\w+\\s?)+``
takes seconds on a few dozen characters that almost match: a repeated group whose parts can match
the same characters lets the engine split the text in exponentially many ways before it gives up.
Such patterns are refused here when the rule is configured or posted, with a message saying so.

The check is a best-effort static analysis of CPython's own parse of the pattern (the parse tree
``re.compile`` builds on), not a proof. Under every quantifier that repeats more than once it looks
for the known shapes of catastrophic backtracking:

* a repeated part that can match empty text (``(a*)*``);
* a part of variable length followed, within the repeated body or across its repetitions, by a part
  that can start with a character it can end with (``(\\w+)+``, ``(\\w+\\s?)*``, ``(.*a){9}``);
* an alternation whose alternatives can start and end alike (``(a|aa)+``, ``(\\w|\\d)*``).

Characters are compared on a sample alphabet (ASCII, some letters, digits and spaces of other
scripts, and every character and range end the pattern names), which is exact for literals and
ranges and close for ``\\w``, ``\\d``, ``\\s`` and ``.``. Possessive quantifiers (``\\w++``) and atomic
groups (``(?>...)``) never backtrack, so they are the way to write a refused pattern safely. What
it lets through (``.*`` and ``\\w+\\w+``: polynomial, not exponential) is bounded by the text length
the matcher searches (:data:`connector.phrases.rules.MAX_TEXT_CHARS`).
"""

from __future__ import annotations

import importlib
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["check_pattern"]

try:  # CPython's parser (the one re.compile uses); without it only the length and compile checks apply
    _parser: Any = importlib.import_module("re._parser")
    _MAXREPEAT: Any = importlib.import_module("re._constants").MAXREPEAT
except ImportError:  # pragma: no cover - another Python implementation
    _parser = None
    _MAXREPEAT = None

_SAMPLE = (
    string.ascii_letters + string.digits + string.punctuation + " \t\n\r\f\v"
    + "éèüßñøçЖжΩωאع日本語中文ひらカナ한국ไทย٣३\u00a0\u2003\u3000’‘“”—–…¿¡€£\u0301\u0900"
)  # fmt: skip
_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W",
}  # fmt: skip


@dataclass(frozen=True)
class _Node:
    """One part of a sequence: what it may start and end with, whether it can match empty text, and
    whether backtracking can make it match a different length (``variable``)."""

    first: frozenset[str]
    last: frozenset[str]
    nullable: bool
    variable: bool
    alternatives: tuple[tuple[_Node, ...], ...] = field(default=())
    """For an alternation: each alternative's parts."""


class _Analysis:
    def __init__(self, pattern: str, flags: int) -> None:
        tree = _parser.parse(pattern, flags)
        self.flags = int(tree.state.flags)
        chars = set(_SAMPLE)
        self._collect(tree, chars)
        self.alphabet = frozenset(chars | {c.lower() for c in chars if len(c.lower()) == 1}
                                  | {c.upper() for c in chars if len(c.upper()) == 1})  # fmt: skip
        self._categories: dict[tuple[str, bool], frozenset[str]] = {}
        self.problem: str | None = None
        self.sequence(tree, self.flags)

    def _collect(self, items: Iterable[Any], chars: set[str]) -> None:
        """Every character the pattern names (literals, range ends), so comparisons on them are exact."""
        for op, av in items:
            name = str(op)
            if name in ("LITERAL", "NOT_LITERAL"):
                chars.add(chr(av))
            elif name == "RANGE":
                chars.update((chr(av[0]), chr(av[1])))
            elif name == "IN":
                self._collect(av, chars)
            else:
                for sub in _subpatterns(av):
                    self._collect(sub, chars)

    # ------------------------------------------------------------------ character sets

    def _variants(self, char: str, flags: int) -> set[str]:
        if not flags & re.IGNORECASE:
            return {char}
        return {char} | {c for c in (char.lower(), char.upper()) if len(c) == 1}

    def _in(self, items: Sequence[Any], flags: int) -> frozenset[str]:
        negate = any(str(op) == "NEGATE" for op, _ in items)
        ascii_only = bool(flags & re.ASCII)

        def member(char: str) -> bool:
            for op, av in items:
                name = str(op)
                if name == "LITERAL" and char == chr(av):
                    return True
                if name == "RANGE" and av[0] <= ord(char) <= av[1]:
                    return True
                if name == "CATEGORY" and char in self._category(str(av), ascii_only):
                    return True
            return False

        found = {c for c in self.alphabet if any(member(v) for v in self._variants(c, flags))}
        return frozenset(self.alphabet - found if negate else found)

    def _category(self, name: str, ascii_only: bool) -> frozenset[str]:
        """The alphabet's characters in ``\\w``, ``\\d``, ``\\s`` or their negations (all of it if unknown)."""
        key = (name, ascii_only)
        if key not in self._categories:
            source = _CATEGORIES.get(name)
            if source is None:
                self._categories[key] = self.alphabet
            else:
                compiled = re.compile(source, re.ASCII if ascii_only else 0)
                self._categories[key] = frozenset(c for c in self.alphabet if compiled.fullmatch(c))
        return self._categories[key]

    def _char(self, chars: frozenset[str]) -> _Node:
        return _Node(chars, chars, nullable=False, variable=False)

    # ------------------------------------------------------------------ the tree

    def sequence(self, items: Iterable[Any], flags: int) -> tuple[_Node, ...]:
        """The parts of a sequence, groups flattened (a group is its parts, wherever it sits)."""
        nodes: list[_Node] = []
        for op, av in items:
            name = str(op)
            if name == "SUBPATTERN":
                _group, add, remove, body = av
                nodes.extend(self.sequence(body, (flags | add) & ~remove))
            else:
                nodes.append(self.node(name, av, flags))
        return tuple(nodes)

    def node(self, name: str, av: Any, flags: int) -> _Node:
        if name == "LITERAL":
            return self._char(frozenset(self._variants(chr(av), flags)))
        if name == "NOT_LITERAL":
            return self._char(self.alphabet - self._variants(chr(av), flags))
        if name == "ANY":
            return self._char(self.alphabet if flags & re.DOTALL else self.alphabet - {"\n"})
        if name == "IN":
            return self._char(self._in(av, flags))
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            return self._repeat(name, av, flags)
        if name == "BRANCH":
            return self._branch([self.sequence(alt, flags) for alt in av[1]])
        if name == "GROUPREF_EXISTS":
            _group, yes, no = av
            return self._branch([self.sequence(yes, flags), self.sequence(no or (), flags)])
        if name == "ATOMIC_GROUP":  # never backtracked into: a fixed part, whatever it holds
            joined = _join(self.sequence(av, flags))
            return _Node(joined.first, joined.last, joined.nullable, variable=False)
        if name in ("ASSERT", "ASSERT_NOT"):
            self.sequence(av[1], flags)
            return _Node(frozenset(), frozenset(), nullable=True, variable=False)
        if name == "AT":
            return _Node(frozenset(), frozenset(), nullable=True, variable=False)
        return _Node(self.alphabet, self.alphabet, nullable=True, variable=True)  # a back-reference, ...

    def _branch(self, alternatives: Sequence[tuple[_Node, ...]]) -> _Node:
        joined = [_join(alt) for alt in alternatives]
        return _Node(
            first=frozenset().union(*(j.first for j in joined)),
            last=frozenset().union(*(j.last for j in joined)),
            nullable=any(j.nullable for j in joined),
            variable=len(joined) > 1 or any(j.variable for j in joined),
            alternatives=tuple(alternatives),
        )

    def _repeat(self, name: str, av: Any, flags: int) -> _Node:
        low, high, body = av
        parts = self.sequence(body, flags)
        joined = _join(parts)
        repeats = high is _MAXREPEAT or high > 1
        if repeats and name != "POSSESSIVE_REPEAT" and self.problem is None:
            self.problem = _ambiguity(parts, cyclic=True)
        return _Node(
            joined.first, joined.last, nullable=low == 0 or joined.nullable,
            variable=name != "POSSESSIVE_REPEAT" and (low != high or joined.variable),
        )  # fmt: skip


def _subpatterns(value: Any) -> list[Any]:
    """The parsed sub-patterns inside an item's argument (a group's body, a branch's alternatives, ...)."""
    if hasattr(value, "data"):
        return [value]
    if isinstance(value, tuple | list):
        return [sub for part in value for sub in _subpatterns(part)]
    return []


def _join(parts: Sequence[_Node]) -> _Node:
    """A sequence seen as one part."""
    first: set[str] = set()
    for part in parts:
        first |= part.first
        if not part.nullable:
            break
    last: set[str] = set()
    for part in reversed(parts):
        last |= part.last
        if not part.nullable:
            break
    return _Node(frozenset(first), frozenset(last), all(p.nullable for p in parts), any(p.variable for p in parts))


def _ambiguity(parts: Sequence[_Node], *, cyclic: bool) -> str | None:
    """Why ``parts`` (a repeated body when ``cyclic``) can match one text in many ways, or ``None``."""
    if cyclic and _join(parts).nullable:
        return "a repeated group can match empty text"
    count = len(parts)
    for i, part in enumerate(parts):
        if part.variable:
            follow: set[str] = set()
            for step in range(1, count + 1 if cyclic else count - i):
                after = parts[(i + step) % count]
                follow |= after.first
                if not after.nullable:
                    break
            if part.last & follow:
                return "a repeated group has parts that can match the same characters"
        if part.alternatives:
            joined = [_join(alt) for alt in part.alternatives]
            for a in range(len(joined)):
                for b in range(a + 1, len(joined)):
                    if joined[a].first & joined[b].first and joined[a].last & joined[b].last:
                        return "a repeated alternation has alternatives that can match the same text"
            for alt in part.alternatives:
                if problem := _ambiguity(alt, cyclic=False):
                    return problem
    return None


def check_pattern(pattern: str, flags: int = 0) -> None:
    """Raise :class:`ValueError` if ``pattern`` can backtrack exponentially (it must compile already)."""
    if _parser is None:  # pragma: no cover
        return
    problem = _Analysis(pattern, flags).problem
    if problem is not None:
        raise ValueError(
            f"{problem}, which can take exponential time on some text; make the repetition unambiguous, "
            "or use a possessive quantifier (\\w++) or an atomic group ((?>...))"
        )
