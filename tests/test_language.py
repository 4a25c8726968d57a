"""Detecting an item's language: accurate on press items and on short headlines
in the six UN languages, the feed's declared language a hint, never an order."""

from __future__ import annotations

import pytest

from monitor.language import HINT_THRESHOLD, detect_language, known_languages, primary, ranked_languages
from tests.labelled import UN_LANGUAGES, headlines, items

ITEMS = items()


def test_labelled_items_are_detected_in_their_language() -> None:
    """All but one in a hundred, one-sentence items included ("The Universal Postal Union
    (UPU) met in Bern." reads as Dutch)."""
    wrong = [(item.id, detect_language(item.title, item.text)) for item in ITEMS
             if detect_language(item.title, item.text) != item.language]  # fmt: skip
    assert len(ITEMS) >= 200
    assert len(wrong) <= len(ITEMS) // 100, wrong
    assert all(item.language == detect_language(item.title, item.text) for item in ITEMS if item.file != "en")


@pytest.mark.parametrize("language", UN_LANGUAGES)
def test_short_headlines_in_each_un_language_are_nearly_all_right(language: str) -> None:
    """Without a hint at least 18 of 20 (Spanish and Portuguese share most short words);
    with the feed's language as a hint, at least 19."""
    lines = headlines()[language]
    wrong = [(line, detect_language(line, "")) for line in lines if detect_language(line, "") != language]
    assert len(lines) >= 20
    assert len(wrong) <= 2, wrong
    assert len([line for line in lines if detect_language(line, "", language) != language]) <= 1


def test_headlines_in_other_languages_are_not_taken_for_a_un_language() -> None:
    others = {language: lines for language, lines in headlines().items() if language not in UN_LANGUAGES}
    assert set(others) >= {"de", "pt", "it", "uk", "fa", "tr"}
    detected = [(line, language, detect_language(line, "")) for language, lines in others.items() for line in lines]
    wrong = [case for case in detected if case[2] != case[1]]
    assert len(wrong) <= 2, wrong
    assert not [case for case in wrong if case[2] in UN_LANGUAGES and case[1] != "pt"], wrong


def test_the_declared_language_settles_a_close_call() -> None:
    headline = "Nicaragua expulsa a observadores"  # Spanish, and six words of good Portuguese too
    ranked = dict(ranked_languages(headline, ""))
    assert ranked["pt"] > ranked["es"] >= HINT_THRESHOLD
    assert detect_language(headline, "", "es-NI") == "es"
    assert detect_language(headline, "", None) == "pt"


@pytest.mark.parametrize(
    ("title", "text", "declared", "expected"),
    [
        ("منظمة العمل الدولية: البطالة تتراجع", "قالت المنظمة في تقرير جديد إن البطالة تراجعت.", "en-US", "ar"),
        ("国际劳工组织发布全球就业报告", "报告说，全球失业率下降。", "en", "zh"),
        ("ILO warns of rising youth unemployment", "The report was published in Geneva on Monday.", "fr", "en"),
        ("Le BIT alerte sur le chômage des jeunes", "Le rapport a été publié lundi à Genève.", "ru", "fr"),
    ],
)
def test_a_declared_language_the_words_contradict_is_ignored(
    title: str, text: str, declared: str, expected: str
) -> None:
    assert detect_language(title, text, declared) == expected


def test_an_item_without_words_keeps_its_declared_language() -> None:
    assert detect_language("", "", "fr-CA") == "fr"
    assert detect_language("2024", "— 12 / 14 —", "es") == "es"
    assert detect_language("", "", None) is None


def test_scripts_without_a_model_question() -> None:
    assert detect_language("聯合國人權高專辦發表報告", "") == "zh"  # Traditional
    assert detect_language("国際労働機関は報告書を発表した", "") == "ja"  # kana: Japanese
    assert detect_language("Минск", "Итоги Универсального периодического обзора обсудили в Минске.") == "ru"


def test_names_in_another_script_do_not_change_the_language() -> None:
    text = "The Office of the High Commissioner for Human Rights (联合国人权事务高级专员办事处) opened an office."
    assert detect_language("", text) == "en"
    text = "国际劳工组织（International Labour Organization，ILO）代表在Universal Periodic Review会议上发言。"
    assert detect_language("", text) == "zh"


def test_headlines_in_capitals_are_read_as_words() -> None:
    assert detect_language("LE GOUVERNEMENT DÉMENT LES ACCUSATIONS DE TORTURE", "") == "fr"
    assert detect_language("ILO WARNS OF RISING YOUTH UNEMPLOYMENT IN THE REGION", "") == "en"


def test_tags_are_reduced_to_their_language() -> None:
    assert [primary(tag) for tag in ("fr-FR", "zh_Hant", "EN", " es-419 ", "", None, "x-klingon", "<b>")] == [
        "fr", "zh", "en", "es", None, None, None, None,
    ]  # fmt: skip


def test_the_detector_knows_the_six_un_languages_and_many_more() -> None:
    assert set(UN_LANGUAGES) <= known_languages()
    assert len(known_languages()) > 150
    assert "wuu" not in known_languages()  # Wu Chinese is reported as zh
