"""The shipped pack on labelled press items in every language it claims
(tests/labelled): each item fires exactly the rules it is about, look-alikes
fire none, and every mention points at its exact characters."""

from __future__ import annotations

from collections import Counter

import pytest

from monitor.items import Item
from monitor.rules import Matcher, SetAside
from tests.labelled import UN_LANGUAGES, Labelled, items

ITEMS = items()


def labelled_item(case: Labelled, *, declared: bool = True) -> Item:
    return Item(source="test:", guid=case.id, title=case.title, text=case.text,
                language=case.language if declared else None)  # fmt: skip


@pytest.mark.parametrize("case", ITEMS, ids=[case.id for case in ITEMS])
def test_each_item_fires_the_rules_it_is_about(pack: Matcher, case: Labelled) -> None:
    hits = pack.scan(labelled_item(case))
    assert {hit.rule for hit in hits} == case.rules, case.note
    for hit in hits:
        field = case.title if hit.field == "title" else case.text
        assert field[hit.start : hit.end] == hit.matched
    if case.matched is not None:
        assert [hit.matched for hit in hits] == list(case.matched)


@pytest.mark.parametrize("case", ITEMS, ids=[case.id for case in ITEMS])
def test_the_same_without_a_language_given(pack: Matcher, case: Labelled) -> None:
    """An item without a language has it detected from its words when a rule needs it."""
    assert {hit.rule for hit in pack.scan(labelled_item(case, declared=False))} == case.rules


def test_every_un_language_has_positives_for_every_rule_and_look_alikes() -> None:
    positives = Counter((case.language, rule) for case in ITEMS for rule in case.rules)
    negatives = Counter(case.language for case in ITEMS if not case.rules)
    for language in ("ar", "zh"):
        for rule in ("ohchr", "upr", "ilo"):
            assert positives[(language, rule)] >= 7, (language, rule)
        assert negatives[language] >= 15, language
    for language in UN_LANGUAGES:
        assert negatives[language] >= 4, language
    assert sum(case.file == "mixed" for case in ITEMS) >= 3


def test_a_mention_that_does_not_count_says_why(pack: Matcher) -> None:
    set_aside: list[SetAside] = []
    text = "La Oficina de Información Turística (OIT) de Cusco abrió. La OIT atiende a turistas."
    assert pack.scan(Item(source="s", guid="g", title="", text=text, language="es"), set_aside) == []
    assert [(s.rule, s.matched, s.start, s.reason) for s in set_aside] == [
        ("ilo", "OIT", 37, "the item defines OIT as something else: 'Oficina de Información Turística (OIT)'"),
        ("ilo", "OIT", 61, "the item defines OIT as something else: 'Oficina de Información Turística (OIT)'"),
    ]
    set_aside.clear()
    text = "UPR (Union of Progressive Reformers) won three seats."
    assert pack.scan(Item(source="s", guid="g", title="", text=text, language="en"), set_aside) == []
    assert [(s.rule, s.reason) for s in set_aside] == [
        ("upr", "the item defines UPR as something else: 'UPR (Union of Progressive Reformers)'"),
    ]
    set_aside.clear()
    assert pack.scan(Item(source="s", guid="g", title="OIT wins the title", text="", language="en"), set_aside) == []
    assert [(s.rule, s.field, s.reason) for s in set_aside] == [
        ("ilo", "title", "counts only in es, fr, pt text; this item is en"),
    ]


def test_a_definition_is_given_as_the_reason_before_the_language(pack: Matcher) -> None:
    set_aside: list[SetAside] = []
    text = "The Oregon Institute of Technology (OIT) opened a new campus. OIT will admit 40 students."
    assert pack.scan(Item(source="s", guid="g", title="", text=text, language="en"), set_aside) == []
    assert [s.matched for s in set_aside] == ["OIT", "OIT"]
    assert set_aside[0].reason == (
        "the item defines OIT as something else: 'Oregon Institute of Technology (OIT)';"
        " counts only in es, fr, pt text; this item is en"
    )
