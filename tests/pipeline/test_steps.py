"""`Pipeline.prepare`: the language step between normalize and classify."""

from __future__ import annotations

import pytest

from monitor.items import Item
from monitor.pipeline import Pipeline
from monitor.rules import compile_rules, load_rules
from tests.conftest import RULES


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(compile_rules(load_rules([RULES])), store=None)


def feed_item(title: str, text: str, declared: str | None) -> Item:
    return Item(source="https://press.example/feed", guid=title, title=title, text=text, language=declared)


@pytest.mark.parametrize(
    ("title", "text", "declared", "expected"),
    [
        ("Nicaragua expulsa a observadores", "", "es-NI", "es"),  # a close call: the feed's word settles it
        ("Nicaragua expulsa a observadores", "", None, "pt"),  # without it, six words read as Portuguese
        ("منظمة العمل الدولية: البطالة تتراجع", "قالت المنظمة إن البطالة تراجعت.", "en-US", "ar"),  # a CMS default
        ("聯合國人權高專辦發表報告", "報告指出當地人權狀況持續惡化。", "zh-TW", "zh"),
        ("", "", "fr-CA", "fr"),  # nothing to read: the declared language, reduced to its code
    ],
)
def test_prepare_stores_the_language_the_words_are_in(
    pipeline: Pipeline, title: str, text: str, declared: str | None, expected: str
) -> None:
    (prepared,) = pipeline.prepare([feed_item(title, text, declared)])
    assert prepared.item.language == expected


def test_the_detected_language_decides_language_bound_terms(pipeline: Pipeline) -> None:
    """OIT is the ILO in French copy, even in a feed that says every item is English."""
    french = feed_item("Selon l'OIT, le chômage des jeunes recule", "Le rapport a été publié lundi à Genève.", "en")
    english = feed_item("OIT wins regional title", "The Owls beat Southern Oregon 3-1 on Saturday.", "fr")
    first, second = pipeline.prepare([french, english])
    assert (first.item.language, [h.rule for h in first.hits]) == ("fr", ["ilo"])
    assert (second.item.language, second.hits) == ("en", [])
