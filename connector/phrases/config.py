"""Phrase rules from configuration: ``CONNECTOR_PHRASE_RULES`` and ``CONNECTOR_PHRASE_RULES_FILE``.

Both hold a JSON list of rules (the file for rules too many or too long for a variable; both
are read, ids must be unique across them)::

    [{"id": "cancel", "name": "Cancellation", "phrases": ["cancel my account", "close my account"],
      "roles": ["external"], "languages": ["en"], "onPartials": true},
     {"name": "Card number", "pattern": "\\\\b(?:\\\\d[ -]?){13,16}\\\\b"}]

``name`` and ``phrases`` or ``pattern`` are required; ``id`` defaults to the name in lower case with
dashes (``card-number``). Every rule is checked as the API checks one (:func:`compile_rule`), and
read through :class:`~connector.envparse.EnvReader`, so a problem reads ``NAME: rule 2 (Card
number): pattern: ...`` and, with a collecting reader, is reported with every other setting's.
The result is plain :class:`RuleSpec` records: the store layer above turns them into its
``PhraseRule`` records (``source="config"``) for the API's listing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..envparse import EnvReader
from .rules import CompiledRule, RuleSpec, compile_rule

__all__ = [
    "ID_PATTERN",
    "PHRASE_RULES",
    "PHRASE_RULES_FILE",
    "compile_rules",
    "parse_rule",
    "phrase_rules_from_env",
    "rule_id_from_name",
]

PHRASE_RULES = "CONNECTOR_PHRASE_RULES"
PHRASE_RULES_FILE = "CONNECTOR_PHRASE_RULES_FILE"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
"""A rule id: what the API's ``/v1/phrase-rules/{id}`` accepts."""
MAX_FILE_BYTES = 1024 * 1024
_KEYS = frozenset({"id", "name", "phrases", "pattern", "roles", "languages", "onPartials"})


def rule_id_from_name(name: str) -> str:
    """``"Card number!"`` → ``card-number`` (empty when the name has no ASCII letter or digit)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")


def _strings(entry: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key}: must be a list of strings")
    return tuple(value)


def parse_rule(entry: Any, number: int) -> RuleSpec:
    """One configured rule (``number`` from 1 names it when it has no id); checked by :func:`compile_rule`."""
    if not isinstance(entry, dict):
        raise ValueError("must be an object")
    if unknown := sorted(set(entry) - _KEYS):
        raise ValueError(f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(_KEYS))})")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name: required, a non-empty string")
    rule_id = entry.get("id", rule_id_from_name(name) or f"rule-{number}")
    if not isinstance(rule_id, str) or not re.fullmatch(ID_PATTERN, rule_id):
        raise ValueError("id: 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit")
    pattern = entry.get("pattern")
    if pattern is not None and not isinstance(pattern, str):
        raise ValueError("pattern: must be a string")
    on_partials = entry.get("onPartials", False)
    if not isinstance(on_partials, bool):
        raise ValueError("onPartials: must be true or false")
    spec = RuleSpec(
        id=rule_id,
        name=name.strip(),
        phrases=_strings(entry, "phrases"),
        pattern=pattern,
        roles=frozenset(_strings(entry, "roles")),
        languages=frozenset(_strings(entry, "languages")),
        on_partials=on_partials,
    )
    compiled = compile_rule(spec)
    return RuleSpec(
        id=spec.id, name=spec.name, phrases=spec.phrases, pattern=spec.pattern,
        roles=compiled.roles, languages=compiled.languages, on_partials=spec.on_partials,
    )  # fmt: skip


def _json_list(text: str) -> list[Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, list):
        raise ValueError("must be a JSON list of rules")
    return value


def _from_file(read: EnvReader) -> list[Any]:
    path = read.text(PHRASE_RULES_FILE)
    if not path:
        return []
    try:
        raw = Path(path).read_bytes()
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError(f"over {MAX_FILE_BYTES} bytes")
        return _json_list(raw.decode("utf-8"))
    except OSError as exc:
        read.problem(f"{PHRASE_RULES_FILE}: {path!r} cannot be read ({exc.strerror})")
    except UnicodeDecodeError:
        read.problem(f"{PHRASE_RULES_FILE}: {path!r} is not UTF-8 text")
    except ValueError as exc:
        read.problem(f"{PHRASE_RULES_FILE}: {path!r}: {exc}")
    return []


def phrase_rules_from_env(env: Mapping[str, str], *, read: EnvReader | None = None) -> tuple[RuleSpec, ...]:
    """The configured rules, checked; pass a collecting ``read`` to report problems with other settings'.

    Without ``read``, the first problem raises :class:`~connector.envparse.ConfigError`.
    """
    read = read or EnvReader(env)
    sources: Sequence[tuple[str, Callable[[], list[Any]]]] = (
        (PHRASE_RULES, lambda: read.parsed(PHRASE_RULES, [], _json_list)),
        (PHRASE_RULES_FILE, lambda: _from_file(read)),
    )
    rules: list[RuleSpec] = []
    number = 0
    for variable, load in sources:
        for index, entry in enumerate(load(), start=1):
            number += 1
            try:
                rule = parse_rule(entry, number)
            except ValueError as exc:
                label = entry.get("name") if isinstance(entry, dict) else None
                named = f" ({label})" if isinstance(label, str) and label.strip() else ""
                read.problem(f"{variable}: rule {index}{named}: {exc}")
                continue
            if any(r.id == rule.id for r in rules):
                read.problem(f"{variable}: rule {index}: id {rule.id!r} is used by another rule (give each an id)")
                continue
            rules.append(rule)
    return tuple(rules)


def compile_rules(rules: Iterable[RuleSpec]) -> tuple[CompiledRule, ...]:
    """The rules compiled (each was checked when it was read)."""
    return tuple(compile_rule(rule) for rule in rules)
