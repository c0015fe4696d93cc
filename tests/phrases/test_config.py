"""``CONNECTOR_PHRASE_RULES`` and ``CONNECTOR_PHRASE_RULES_FILE``: JSON lists of rules, checked as the
API checks them, every problem naming the variable and the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.envparse import ConfigError, EnvReader
from connector.phrases import RuleSpec, compile_rules, phrase_rules_from_env, rule_id_from_name


def test_rules_from_the_variable_and_the_file(tmp_path: Path) -> None:
    listed = [
        {"id": "cancel", "name": "Cancellation", "phrases": ["cancel my account"], "roles": ["External"],
         "languages": ["en", "fr-ca"], "onPartials": True},
        {"name": "Card number!", "pattern": r"\b(?:\d[ -]?){13,16}\b"},
    ]  # fmt: skip
    file = tmp_path / "rules.json"
    file.write_text(json.dumps([{"name": "Complaint", "phrases": ["complaint", "supervisor"]}]), encoding="utf-8")
    rules = phrase_rules_from_env(
        {"CONNECTOR_PHRASE_RULES": json.dumps(listed), "CONNECTOR_PHRASE_RULES_FILE": str(file)}
    )
    assert rules == (
        RuleSpec(id="cancel", name="Cancellation", phrases=("cancel my account",), roles=frozenset({"external"}),
                 languages=frozenset({"en", "fr-CA"}), on_partials=True),
        RuleSpec(id="card-number", name="Card number!", pattern=r"\b(?:\d[ -]?){13,16}\b"),
        RuleSpec(id="complaint", name="Complaint", phrases=("complaint", "supervisor")),
    )  # fmt: skip
    assert [r.id for r in compile_rules(rules)] == ["cancel", "card-number", "complaint"]


def test_nothing_configured_is_no_rules() -> None:
    assert phrase_rules_from_env({}) == ()
    assert phrase_rules_from_env({"CONNECTOR_PHRASE_RULES": "  "}) == ()
    assert phrase_rules_from_env({"CONNECTOR_PHRASE_RULES": "[]"}) == ()


def test_ids_from_names() -> None:
    assert rule_id_from_name("  Card number! ") == "card-number"
    assert rule_id_from_name("取消") == ""
    [rule] = phrase_rules_from_env({"CONNECTOR_PHRASE_RULES": '[{"name": "取消", "phrases": ["取消"]}]'})
    assert rule.id == "rule-1"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{", "CONNECTOR_PHRASE_RULES: not valid JSON: Expecting property name enclosed in double quotes (line 1, "),
        ('{"name": "x"}', "CONNECTOR_PHRASE_RULES: must be a JSON list of rules"),
        ("[1]", "CONNECTOR_PHRASE_RULES: rule 1: must be an object"),
        ('[{"phrases": ["a"]}]', "CONNECTOR_PHRASE_RULES: rule 1: name: required"),
        ('[{"name": "A"}]', "CONNECTOR_PHRASE_RULES: rule 1 (A): phrases: a rule needs phrases or a pattern"),
        ('[{"name": "A", "pattern": "(a"}]', "CONNECTOR_PHRASE_RULES: rule 1 (A): pattern: not a valid regular "
                                             "expression: missing ), unterminated subpattern at position 0"),
        ('[{"name": "A", "pattern": "(a+)+$"}]', "CONNECTOR_PHRASE_RULES: rule 1 (A): pattern: a repeated group"),
        ('[{"name": "A", "phrase": ["a"]}]', "CONNECTOR_PHRASE_RULES: rule 1 (A): unknown field 'phrase'"),
        ('[{"name": "A", "phrases": "a"}]', "CONNECTOR_PHRASE_RULES: rule 1 (A): phrases: must be a list of strings"),
        ('[{"name": "A", "phrases": ["a"], "onPartials": "yes"}]', "CONNECTOR_PHRASE_RULES: rule 1 (A): onPartials: "),
        ('[{"name": "A", "id": "no spaces", "phrases": ["a"]}]', "CONNECTOR_PHRASE_RULES: rule 1 (A): id: 1 to 64"),
        ('[{"name": "A", "phrases": ["a"]}, {"name": "a", "phrases": ["b"]}]',
         "CONNECTOR_PHRASE_RULES: rule 2: id 'a' is used by another rule"),
    ],
)  # fmt: skip
def test_a_bad_rule_names_the_variable_the_rule_and_the_problem(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        phrase_rules_from_env({"CONNECTOR_PHRASE_RULES": value})
    assert str(info.value).startswith(message), str(info.value)


def test_file_problems(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(ConfigError, match=r"CONNECTOR_PHRASE_RULES_FILE: '.*missing.json' cannot be read"):
        phrase_rules_from_env({"CONNECTOR_PHRASE_RULES_FILE": str(missing)})
    binary = tmp_path / "rules.bin"
    binary.write_bytes(b"\xff\xfe[")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        phrase_rules_from_env({"CONNECTOR_PHRASE_RULES_FILE": str(binary)})
    broken = tmp_path / "rules.json"
    broken.write_text("[", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rules.json': not valid JSON"):
        phrase_rules_from_env({"CONNECTOR_PHRASE_RULES_FILE": str(broken)})


def test_a_collecting_reader_gets_every_problem_at_once(tmp_path: Path) -> None:
    env = {
        "CONNECTOR_PHRASE_RULES": '[{"name": "A"}, {"name": "B", "phrases": ["b"]}, {"name": "C", "pattern": "("}]',
        "CONNECTOR_PHRASE_RULES_FILE": str(tmp_path / "none.json"),
    }
    read = EnvReader(env, collect=True)
    rules = phrase_rules_from_env(env, read=read)
    assert [r.id for r in rules] == ["b"]  # the good one is kept; the start-up fails on the rest
    with pytest.raises(ConfigError) as info:
        read.raise_problems()
    lines = str(info.value).splitlines()
    assert [line.strip().split(":")[0] for line in lines[1:]] == [
        "CONNECTOR_PHRASE_RULES", "CONNECTOR_PHRASE_RULES", "CONNECTOR_PHRASE_RULES_FILE",
    ]  # fmt: skip
