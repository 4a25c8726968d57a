"""Terms in Chinese and Arabic: what a term in each script finds, and that every
hit points at the exact characters of the original, whichever folding path the
text takes (short, long, with entities, decomposed marks, hyphen breaks)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from monitor.rules import Matcher, RuleError
from monitor.rules.folding import fold_text, fold_words
from monitor.rules.terms import arabic_prefixed
from tests.rules.conftest import Scan

MatcherFor = Callable[[str], Matcher]

RULE = """
[[rule]]
id = "t"
any = [
  "国际劳工组织",
  "人权高专办",
  "普遍定期審議",
  "ILO",
  "منظمة العمل الدولية",
  "المفوض* السامي* لحقوق الإنسان",
  "مؤتمر العمل الدولي",
]
"""

# A long preamble sends a text down the vectorized path; a short one is folded with str methods.
LONG = "新闻稿。" * 60 + "\n"
PREFIXES = pytest.mark.parametrize("prefix", ["", LONG, "x&amp;y "], ids=["short", "long", "entity"])


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    from monitor.rules import compile_rules, load_rules

    path = tmp_path_factory.mktemp("rules") / "t.toml"
    path.write_text(RULE, encoding="utf-8")
    return compile_rules(load_rules([path]))


def mentions(matcher: Matcher, scan: Scan, text: str) -> list[str]:
    return [hit.matched for hit in scan(matcher, text)]


# --- Han ---------------------------------------------------------------------------

HAN = [
    # (text, the mentions expected, in order)
    ("国际劳工组织总干事昨天在日内瓦发表讲话。", ["国际劳工组织"]),
    ("据国际劳工组织（ILO）估计，全球仍有1.6亿名童工。", ["国际劳工组织", "ILO"]),
    ("國際勞工組織發表報告", ["國際勞工組織"]),  # Traditional text, Simplified term
    ("国際劳工組织", ["国際劳工組织"]),  # characters of both, as in careless copy
    ("越南在普遍定期审议中接受了建议。", ["普遍定期审议"]),  # Simplified text, Traditional term
    ("组织ILO总干事", ["ILO"]),  # an acronym inside Han text is a word
    ("ＩＬＯ发布报告", ["ＩＬＯ"]),  # full-width letters
    ("国际劳工组织ＩＬＯ，人权高专办。", ["国际劳工组织", "ＩＬＯ", "人权高专办"]),
    ("国际\n劳工组织", ["国际\n劳工组织"]),  # a line break inside a Han term
    ("国际劳&#24037;组织", ["国际劳&#24037;组织"]),  # an entity inside it
]


HAN_LOOK_ALIKES = [
    "国际劳工权益组织发表声明。",  # a character between: not the term
    "国际劳动组织",
    "iloilo 国际",
    "Ilo 发布报告",  # an acronym still needs capitals
    "人权高专",  # a part of a term is not the term
]


def test_hits_in_han_text_point_at_the_original_characters(matcher: Matcher, scan: Scan) -> None:
    text = "２０２４年，國際勞工組織（ＩＬＯ）與人權高專辦發表聯合聲明。"
    hits = scan(matcher, text)
    assert [(h.start, h.end, h.matched) for h in hits] == [
        (6, 12, "國際勞工組織"),
        (13, 16, "ＩＬＯ"),
        (18, 23, "人權高專辦"),
    ]


def test_each_han_character_is_a_word_in_the_folded_view() -> None:
    assert fold_text("國際勞工組織（ILO）總幹事").text.split() == [*"国际劳工组织", "ilo", *"总干事"]
    assert fold_words("人權高專辦") == list("人权高专办")


def test_near_counts_each_han_character_as_a_word(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nnear = [{ terms = ["理事会"], with = ["劳工组织"], within = 3 }]\n')
    assert [h.matched for h in scan(m, "劳工组织第350届理事会会议")] == ["劳工组织", "理事会"]  # 第 350 届
    assert scan(m, "劳工组织今年第350届理事会会议") == []  # five words apart


def test_a_wildcard_after_a_han_character_is_an_error(write_rules: Callable[..., object]) -> None:
    from monitor.rules import load_rules

    path = write_rules('[[rule]]\nid = "r"\nany = ["国际劳工*"]\n')
    with pytest.raises(RuleError) as error:
        load_rules([path])
    assert "'*' cannot follow a Han or kana character" in str(error.value)
    assert "rule 'r': key 'any'" in str(error.value)


def test_a_single_han_character_is_too_short_a_term(write_rules: Callable[..., object]) -> None:
    from monitor.rules import load_rules

    with pytest.raises(RuleError, match="needs at least 2 letters or digits"):
        load_rules([write_rules('[[rule]]\nid = "r"\nany = ["会"]\n')])


# --- Arabic ------------------------------------------------------------------------

ARABIC = [
    ("إن منظمة العمل الدولية أصدرت تقريرا", ["منظمة العمل الدولية"]),
    ("استشهد بتقرير لمنظمة العمل الدولية عن عمالة الأطفال", ["لمنظمة العمل الدولية"]),
    ("تعمل وكالات كمنظمة العمل الدولية", ["كمنظمة العمل الدولية"]),
    ("وبمنظمة العمل الدولية", ["وبمنظمة العمل الدولية"]),
    ("فمنظمة العمل الدولية تقدر", ["فمنظمة العمل الدولية"]),
    ("والمنظمة العمل الدولية", ["والمنظمة العمل الدولية"]),  # the article, even where grammar frowns
    ("مُنَظَّمَةُ العَمَلِ الدَّوْلِيَّةِ", ["مُنَظَّمَةُ العَمَلِ الدَّوْلِيَّةِ"]),  # tashkeel
    ("منظمه العمل الدوليه", ["منظمه العمل الدوليه"]),  # ه for ة
    ("منظمـــة العمـل الدولية", ["منظمـــة العمـل الدولية"]),  # tatweel
    ("دعوة للمفوض السامي لحقوق الإنسان", ["للمفوض السامي لحقوق الإنسان"]),  # ل + ال = لل
    ("وللمفوضية السامية لحقوق الإنسان مكتب", ["وللمفوضية السامية لحقوق الإنسان"]),  # و + ل + ال
    ("التقى بالمفوضة السامية لحقوق الانسان", ["بالمفوضة السامية لحقوق الانسان"]),  # no hamza on alef
    ("افتتح مؤتمر العمل الدولي وبمؤتمر العمل الدولي", ["مؤتمر العمل الدولي", "وبمؤتمر العمل الدولي"]),
    ("قالت منظمة العمل الدولية (ILO)", ["منظمة العمل الدولية", "ILO"]),
]


ARABIC_LOOK_ALIKES = [
    "منظمة العفو الدولية",  # Amnesty International
    "منظمة العمل العربية",  # the Arab Labour Organization
    "سوق العمل الدولية",  # a part of the term is not the term
    "ومنظمات العمل الدولية",  # another word that starts the same way
    "المفوضية السامية لشؤون اللاجئين",
    "بلمنظمة العمل الدولية",  # not a combination Arabic writes
]


@PREFIXES
@pytest.mark.parametrize(("text", "expected"), HAN + ARABIC)
def test_han_terms_match_inside_running_text_and_arabic_ones_take_clitics_and_marks(
    matcher: Matcher, scan: Scan, prefix: str, text: str, expected: list[str]
) -> None:
    assert mentions(matcher, scan, prefix + text) == expected


@pytest.mark.parametrize("text", HAN_LOOK_ALIKES + ARABIC_LOOK_ALIKES)
def test_look_alikes_in_han_and_arabic_script_do_not_match(matcher: Matcher, scan: Scan, text: str) -> None:
    assert mentions(matcher, scan, text) == []


def test_arabic_hits_cover_the_word_with_its_prefix(matcher: Matcher, scan: Scan) -> None:
    text = "ووفقا لتقديرات لمنظمة العمل الدولية، يعمل 160 مليون طفل."
    (hit,) = scan(matcher, text)
    assert (hit.start, hit.end) == (text.index("لمنظمة"), text.index("،"))
    assert hit.term == "منظمة العمل الدولية"


def test_the_proclitic_combinations_arabic_writes() -> None:
    forms = set(arabic_prefixed("منظمه"))
    assert {"ومنظمه", "فمنظمه", "بمنظمه", "كمنظمه", "لمنظمه", "وبمنظمه", "فلمنظمه"} <= forms
    assert {"المنظمه", "والمنظمه", "بالمنظمه", "للمنظمه", "وللمنظمه", "فبالمنظمه"} <= forms
    assert "منظمه" not in forms and "لالمنظمه" not in forms
    # ل before the article drops its alef, and a third lam in a row is not written
    assert {"للجنه", "وللجنه", "باللجنه"} <= set(arabic_prefixed("اللجنه"))
    assert "لاللجنه" not in set(arabic_prefixed("اللجنه")) and "لللجنه" not in set(arabic_prefixed("اللجنه"))


def test_arabic_letters_spelled_either_way_fold_alike() -> None:
    assert fold_words("أإآٱا") == fold_words("ااااا")
    assert fold_words("مدرسة مستشفى") == fold_words("مدرسه مستشفي")
    assert fold_words("الإنسان") == fold_words("الانسان")
    assert fold_words("اتفاقية رقم ١٩٠") == fold_words("اتفاقيه رقم 190")
    assert fold_words("لحقـــوق") == ["لحقوق"]
