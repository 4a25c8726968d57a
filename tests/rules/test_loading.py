"""Loading rule packs: what a valid pack gives, and how every mistake is reported
(file, rule id, key, what is wrong), all mistakes at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.rules import RuleError, RuleSet, compile_rules, load_rules
from tests.rules.conftest import PACK, WriteRules

GOOD = """
[[rule]]
id = "ilo"
description = "International Labour Organization"
fields = ["title"]
any = ["ILO"]
all = [["Belarus", "Беларус*"], ["ILO"]]
near = [{ terms = ["High Commissioner"], with = ["human rights"], within = 5 }]
exclude = ["port of Ilo"]
"""


def test_a_valid_file_gives_rules_with_their_source(write_rules: WriteRules) -> None:
    path = write_rules(GOOD)
    ruleset = load_rules([path])
    assert isinstance(ruleset, RuleSet)
    (rule,) = ruleset.rules
    assert (rule.id, rule.description, rule.source_file) == ("ilo", "International Labour Organization", path)
    assert rule.fields == ("title",)
    assert rule.any_terms == ("ILO",)
    assert rule.all_groups == (("Belarus", "Беларус*"), ("ILO",))
    assert (rule.near[0].terms, rule.near[0].with_terms, rule.near[0].within) == (
        ("High Commissioner",),
        ("human rights",),
        5,
    )
    assert rule.exclude == ("port of Ilo",)
    assert ruleset.ids == ("ilo",)
    assert ruleset["ilo"] is rule


def test_defaults_are_both_fields_and_an_empty_description(write_rules: WriteRules) -> None:
    (rule,) = load_rules([write_rules('[[rule]]\nid = "r"\nany = ["abc"]\n')]).rules
    assert rule.fields == ("title", "text")
    assert rule.description == ""


def test_a_directory_is_read_in_name_order_and_other_files_are_ignored(write_rules: WriteRules) -> None:
    write_rules('[[rule]]\nid = "second"\nany = ["bb"]\n', "20-b.toml")
    write_rules('[[rule]]\nid = "first"\nany = ["aa"]\n[[rule]]\nid = "first-b"\nany = ["ab"]\n', "10-a.toml")
    path = write_rules("not toml at all [", "notes.txt")
    ruleset = load_rules([path.parent])
    assert ruleset.ids == ("first", "first-b", "second")
    assert [r.source_file.name for r in ruleset.rules] == ["10-a.toml", "10-a.toml", "20-b.toml"]


def test_files_and_directories_combine_and_a_file_named_twice_loads_once(write_rules: WriteRules) -> None:
    path = write_rules('[[rule]]\nid = "r"\nany = ["abc"]\n')
    assert load_rules([path.parent, path]).ids == ("r",)
    assert set(load_rules([PACK, path]).ids) == {"ohchr", "upr", "ilo", "r"}


def test_languages_and_the_acronym_option_are_read(write_rules: WriteRules) -> None:
    body = (
        '[[rule]]\nid = "ilo"\nlanguages = ["fr", "es"]\nacronyms_defined_otherwise = "ignore"\n'
        'any = ["ILO", { terms = ["OIT", "BIT"], languages = ["fr", "es"] }]\n'
        'near = [{ terms = ["Conseil"], with = [{ terms = ["BIT"], languages = ["es", "fr"] }], within = 3 }]\n'
    )
    (rule,) = load_rules([write_rules(body)]).rules
    assert rule.any_terms == ("ILO", "OIT", "BIT")
    assert rule.near[0].with_terms == ("BIT",)
    assert dict(rule.term_languages) == {"OIT": {"fr", "es"}, "BIT": {"fr", "es"}}
    assert rule.languages == {"fr", "es"}
    assert rule.acronyms_defined_otherwise == "ignore"


def test_the_shipped_pack_loads_and_compiles() -> None:
    ruleset = load_rules([PACK])
    assert sorted(ruleset.ids) == ["ilo", "ohchr", "upr"]
    assert all(rule.description for rule in ruleset.rules)
    assert sorted(compile_rules(ruleset).rule_ids) == ["ilo", "ohchr", "upr"]


def problems(paths: list[Path]) -> list[str]:
    with pytest.raises(RuleError) as error:
        load_rules(paths)
    assert str(error.value) == "\n".join(error.value.problems)
    return list(error.value.problems)


def only_problem(path: Path) -> str:
    (problem,) = problems([path])
    return problem


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[[rule]]\nid = "r"\nany = ["OHCHR"]\ncolour = "red"\n', "rule 'r': key 'colour': unknown key"),
        ('[[rule]]\nid = "r"\nanny = ["OHCHR"]\n', "rule 'r': key 'anny': unknown key"),
        ('[[rule]]\nid = "r"\nany = ["OHCHR"]\nwithin = -1\n', "rule 'r': key 'within': unknown key"),
        ('[[rule]]\nany = ["OHCHR"]\n', "rule #1 (no id): key 'id': is required"),
        ('[[rule]]\nid = 7\nany = ["OHCHR"]\n', "rule #1 (no id): key 'id': must be a string"),
        ('[[rule]]\nid = "Bad id"\nany = ["OHCHR"]\n', "rule 'Bad id': key 'id': 'Bad id' is not a valid id"),
        ('[[rule]]\nid = "r"\nany = ["OHCHR", ""]\n', "rule 'r': key 'any': empty term (at any[1])"),
        ('[[rule]]\nid = "r"\nany = ["  "]\n', "rule 'r': key 'any': empty term"),
        ('[[rule]]\nid = "r"\nall = [["a b"], []]\n', "rule 'r': key 'all': must not be empty (at all[1])"),
        ('[[rule]]\nid = "r"\nany = []\n', "rule 'r': key 'any': must not be empty"),
        ('[[rule]]\nid = "r"\nany = "OHCHR"\n', "rule 'r': key 'any': must be a list, not a string"),
        ('[[rule]]\nid = "r"\nany = [3]\n', "rule 'r': key 'any': must be a string, not an integer (at any[0])"),
        (
            '[[rule]]\nid = "r"\nany = ["ab"]\nfields = ["body"]\n',
            "rule 'r': key 'fields': must be 'title' or 'text', not 'body'",
        ),
        ('[[rule]]\nid = "r"\nany = ["ab"]\nfields = []\n', "rule 'r': key 'fields': must not be empty"),
        (
            '[[rule]]\nid = "r"\nany = ["ab"]\nfields = ["text", "text"]\n',
            "rule 'r': key 'fields': names a field more than once",
        ),
        (
            '[[rule]]\nid = "r"\ndescription = "only words"\n',
            "rule 'r': has no clause: give at least one of 'any', 'all' or 'near'",
        ),
        ('[[rule]]\nid = "r"\nexclude = ["ab"]\n', "rule 'r': has no clause"),
        ('[[rule]]\nid = "r"\nany = ["Верх*овн"]\n', "rule 'r': key 'any': term 'Верх*овн': '*' can only end a word"),
        (
            '[[rule]]\nid = "r"\nany = ["*ab"]\n',
            "rule 'r': key 'any': term '*ab': '*' must directly follow a letter or digit",
        ),
        ('[[rule]]\nid = "r"\nany = ["ab*"]\n', "rule 'r': key 'any': term 'ab*': wildcard stem 'ab' is too short"),
        ('[[rule]]\nid = "r"\nany = ["x"]\n', "rule 'r': key 'any': term 'x': needs at least 2 letters or digits"),
        ('[[rule]]\nid = "r"\nany = ["--"]\n', "rule 'r': key 'any': term '--': needs at least 2 letters or digits"),
        ('rule = "r"\n', "key 'rule': must be an array of tables"),
        ('[rule]\nid = "r"\nany = ["ab"]\n', "key 'rule': must be an array of tables: write [[rule]], not [rule]"),
        ('[[rules]]\nid = "r"\nany = ["ab"]\n', "key 'rules': unknown key"),
        (
            '[[rule]]\nid = "r"\nany = [{ terms = ["OIT"], languages = ["fr", "xx"] }]\n',
            "rule 'r': key 'languages': 'xx': the language detector never reports this language"
            " (it knows ISO 639-1 codes) (at any[0].languages[1])",
        ),
        (
            '[[rule]]\nid = "r"\nany = [{ terms = ["OIT"], languages = ["fr-FR"] }]\n',
            "rule 'r': key 'languages': 'fr-FR' is not a language code",
        ),
        ('[[rule]]\nid = "r"\nany = [{ terms = ["OIT"] }]\n', "rule 'r': key 'languages': is required (at any[0].languages)"),
        (
            '[[rule]]\nid = "r"\nany = [{ terms = ["OIT"], languages = ["fr"], langs = ["fr"] }]\n',
            "rule 'r': key 'langs': unknown key (allowed: terms, languages); did you mean 'languages'? (at any[0].langs)",
        ),
        (
            '[[rule]]\nid = "r"\nany = [{ terms = [], languages = ["fr"] }]\n',
            "rule 'r': key 'terms': must not be empty (at any[0].terms)",
        ),
        (
            '[[rule]]\nid = "r"\nall = [["ab"], [{ terms = ["Or*"], languages = ["fr"] }]]\n',
            "rule 'r': key 'terms': term 'Or*': wildcard stem 'or' is too short (at least 3 letters before '*')"
            " (at all[1][0].terms[0])",
        ),
        (
            '[[rule]]\nid = "r"\nany = [{ terms = ["OIT"], languages = ["fr"] }]\n'
            'exclude = [{ terms = ["OIT"], languages = ["es"] }]\n',
            "rule 'r': key 'languages': term 'OIT' counts in fr at any[0] but in es at exclude[0]:"
            " give a term one set of languages in a rule",
        ),
        ('[[rule]]\nid = "r"\nany = ["ab"]\nlanguages = "fr"\n', "rule 'r': key 'languages': must be a list, not a string"),
        ('[[rule]]\nid = "r"\nany = ["ab"]\nlanguages = []\n', "rule 'r': key 'languages': must not be empty"),
        (
            '[[rule]]\nid = "r"\nany = ["ab"]\nacronyms_defined_otherwise = "drop"\n',
            "rule 'r': key 'acronyms_defined_otherwise': must be 'count' or 'ignore', not 'drop'",
        ),
        (
            '[[rule]]\nid = "r"\nany = ["ab"]\nacronyms_defined_otherwise = true\n',
            "rule 'r': key 'acronyms_defined_otherwise': must be 'count' or 'ignore', not True",
        ),
    ],
)
def test_a_mistake_names_file_rule_and_key(write_rules: WriteRules, body: str, expected: str) -> None:
    path = write_rules(body)
    problem = only_problem(path)
    assert problem.startswith(f"{path}: ")
    assert expected in problem


@pytest.mark.parametrize(
    ("within", "shown"), [("0", "0"), ("-1", "-1"), ('"5"', "'5'"), ("2.5", "2.5"), ("true", "True")]
)
def test_within_must_be_a_positive_integer(write_rules: WriteRules, within: str, shown: str) -> None:
    path = write_rules(f'[[rule]]\nid = "ohchr"\nnear = [{{ terms = ["ab"], with = ["cd"], within = {within} }}]\n')
    assert only_problem(path) == (
        f"{path}: rule 'ohchr': key 'within': must be a positive integer (a number of words), not {shown}"
        " (at near[0].within)"
    )


def test_near_needs_terms_with_and_within(write_rules: WriteRules) -> None:
    path = write_rules('[[rule]]\nid = "r"\nnear = [{ terms = ["ab"], distance = 3 }]\n')
    assert problems([path]) == [
        f"{path}: rule 'r': key 'with': is required (at near[0].with)",
        f"{path}: rule 'r': key 'within': is required (at near[0].within)",
        f"{path}: rule 'r': key 'distance': unknown key (allowed: terms, with, within) (at near[0].distance)",
    ]


def test_near_must_be_a_list_of_tables(write_rules: WriteRules) -> None:
    path = write_rules('[[rule]]\nid = "r"\nnear = ["ab"]\n')
    assert "rule 'r': key 'near': must be a table like { terms = [...], with = [...], within = 5 }" in only_problem(
        path
    )


def test_an_unknown_key_suggests_the_likely_one(write_rules: WriteRules) -> None:
    assert "did you mean 'exclude'?" in only_problem(write_rules('[[rule]]\nid = "r"\nany = ["ab"]\nexclud = ["cd"]\n'))


def test_invalid_toml_names_the_line(write_rules: WriteRules) -> None:
    path = write_rules('[[rule]]\nid = "r"\nany = ["a" "b"]\n')
    assert only_problem(path) == f"{path}: line 3, column 12: invalid TOML: Unclosed array"


def test_a_key_given_twice_is_invalid_toml(write_rules: WriteRules) -> None:
    path = write_rules('[[rule]]\nid = "r"\nid = "s"\nany = ["ab"]\n')
    problem = only_problem(path)
    assert problem.startswith(f"{path}: line 3, ") and "invalid TOML" in problem


def test_a_file_that_is_not_utf8_is_named(write_rules: WriteRules) -> None:
    path = write_rules("")
    path.write_bytes(b'[[rule]]\nid = "r"\nany = ["\xff"]\n')
    assert only_problem(path) == f"{path}: line 3: not UTF-8 text (byte 26)"


def test_duplicate_ids_across_files_name_both(write_rules: WriteRules) -> None:
    first = write_rules('[[rule]]\nid = "ohchr"\nany = ["ab"]\n', "a.toml")
    second = write_rules('[[rule]]\nid = "ohchr"\nany = ["cd"]\n', "b.toml")
    assert problems([first.parent]) == [
        f"{second}: rule 'ohchr': key 'id': duplicate rule id (first defined in {first})"
    ]


def test_duplicate_ids_in_one_file(write_rules: WriteRules) -> None:
    path = write_rules('[[rule]]\nid = "r"\nany = ["ab"]\n[[rule]]\nid = "r"\nany = ["cd"]\n')
    assert "rule 'r': key 'id': duplicate rule id" in only_problem(path)


def test_every_problem_of_every_file_is_reported_at_once(write_rules: WriteRules) -> None:
    a = write_rules('[[rule]]\nid = "a"\nany = [""]\ncolour = 1\n[[rule]]\nany = ["ok"]\n', "a.toml")
    b = write_rules("[[rule]\n", "b.toml")
    found = problems([a.parent])
    assert [p.split(": ")[0] for p in found] == [str(a)] * 3 + [str(b)]
    assert any("rule 'a': key 'any'" in p for p in found)
    assert any("rule 'a': key 'colour'" in p for p in found)
    assert any("rule #2 (no id): key 'id'" in p for p in found)


def test_missing_paths_and_empty_directories_are_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert problems([empty, tmp_path / "missing.toml"]) == [
        f"{empty}: no *.toml rule files in this directory",
        f"{tmp_path / 'missing.toml'}: no such file or directory",
    ]


def test_a_pack_without_any_rule_is_an_error(write_rules: WriteRules) -> None:
    path = write_rules("# every rule commented out\n")
    assert only_problem(path) == f"{path}: no rules found: a rule file holds one or more [[rule]] tables"


def test_a_ruleset_refuses_duplicate_ids_even_when_built_by_hand(write_rules: WriteRules) -> None:
    (rule,) = load_rules([write_rules('[[rule]]\nid = "r"\nany = ["ab"]\n')]).rules
    with pytest.raises(RuleError, match="rule 'r': key 'id': duplicate rule id"):
        RuleSet((rule, rule))
