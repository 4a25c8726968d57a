"""The shortcuts the matcher takes must give exactly what the general paths give.

* Folding: text that folds to ASCII with nothing deleted (English press text
  with a few accents and curly quotes) skips the per-character and numpy paths;
  so does Latin, Cyrillic and Arabic text that folds within a single-byte
  codec; Han text is folded with str methods when short, numpy when long.
* Matching: rules with only `any` terms over every field skip `evaluate`.
"""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable

import pytest

from monitor.items import Hit, Item
from monitor.rules import Matcher
from monitor.rules.folding import (
    DELETED,
    FoldedText,
    _collapse,
    _fold_in_codec,
    _fold_to_ascii,
    _fold_unspaced,
    _fold_unspaced_short,
    fold_chars,
    fold_text,
)
from tests.rules.conftest import Scan

MatcherFor = Callable[[str], Matcher]


def declined_by(fold: Callable[[str], str | None], around: str, codepoints: list[int], tail: str = "") -> int:
    """How many characters `fold` declines in a text around them; the others it folds right."""
    declined = 0
    for cp in codepoints:
        text = f"{around}{chr(cp)}  c,\n{chr(cp)}{tail}"
        folded = fold(text)
        if folded is None:
            declined += 1
        else:
            assert folded == fold_chars(text), hex(cp)
    return declined


def test_ascii_folding_agrees_with_the_general_folding_for_every_character() -> None:
    codepoints = [*range(0x10000), 0x1F600, 0x1D400, 0xE0041]  # the BMP, and a few astral characters
    assert 0 < declined_by(_fold_to_ascii, "Ab", codepoints) < 0x10000  # it declines some (Cyrillic, marks), not all


@pytest.mark.parametrize("text", ["Türk’s “talks”", "naïve café — résumé", "plain ASCII, no more"])
def test_ascii_folding_takes_latin_text_with_accents_and_quotes(text: str) -> None:
    assert _fold_to_ascii(text) == fold_chars(text)


@pytest.mark.parametrize("text", ["Верховный", "e\u0301te\u0301", "Uni\u00adversal", "Zero\u200bwidth"])
def test_ascii_folding_declines_text_that_folds_beyond_ascii_or_drops_characters(text: str) -> None:
    assert _fold_to_ascii(text) is None


def _general_view(text: str) -> FoldedText:
    """What the short-text path of `fold_text` builds (no edits in these texts)."""
    chars = fold_chars(text)
    return FoldedText(
        text, f" {_collapse(chars)} ", has_hyphen_breaks=False, has_deleted=False, entity_ends={}, chars=chars
    )


def _tricky_texts(count: int) -> list[str]:
    rng = random.Random(11)
    pieces = ["ILO", "talks", "é", "’", "“x”", ",", ".", "-", " ", "  ", "   ", "\n\n", "\t", "(", ")", "a", "19"]
    texts = [" ", "  ", "x", " x ", "  x  y  ", ".,;", "a , b", "a ,  b", "   lead", "trail   "]
    texts += ["la réunion à Genève, où les États membres ont présenté " * 3]  # too many accents for the ASCII path
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 60))) for _ in range(count)]
    return texts


def assert_same_mapping(fast: FoldedText, general: FoldedText) -> None:
    """The same view, and every word of it maps to the same original characters."""
    assert fast.text == general.text
    words = [i for i in range(1, len(fast.text)) if fast.text[i] != " " and fast.text[i - 1] == " "]
    for start in words:
        end = fast.text.index(" ", start)
        assert fast.original_span(start, end) == general.original_span(start, end)
        assert fast.count_words(0, fast.original_span(start, end)[1]) == general.count_words(
            0, general.original_span(start, end)[1]
        )


@pytest.mark.parametrize("text", _tricky_texts(300))
def test_fast_folding_maps_back_like_the_general_folding(text: str) -> None:
    fast, general = fold_text(text), _general_view(text)
    assert fast.shift() == general.shift()
    assert_same_mapping(fast, general)


@pytest.mark.parametrize("context", ["Ab", "Жб", "عب"], ids=["latin-1", "cp1251", "cp1256"])
def test_codec_folding_agrees_with_the_general_folding_for_every_character(context: str) -> None:
    assert 0 < declined_by(_fold_in_codec, context, list(range(0x10000)), tail="’") < 0xF000


def _reference_view(text: str) -> FoldedText:
    """The short-text path of `fold_text`, for texts without edits."""
    chars = fold_chars(text)
    has_deleted = DELETED in chars
    return FoldedText(
        text, f" {_collapse(chars)} ", has_hyphen_breaks=False, has_deleted=has_deleted, entity_ends={}, chars=chars
    )


def _scripts_texts(count: int) -> list[str]:
    rng = random.Random(12)
    pieces = ["Верховный", "комиссар", "ё", "«", "»", "—", "’", " ", "  ", ",", "\n\n", "é", "la", "Genève", "19",
              "المفوضية", "لِحُقُوقِ", "الإِنْسَانِ", "ـ", "،", "١٩٠", "ة", "\u200b", "Uni\u00adversal", "e\u0301"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 80))) for _ in range(count)]


@pytest.mark.parametrize("text", _scripts_texts(300))
def test_codec_folding_maps_back_like_the_general_folding(text: str) -> None:
    fast, general = fold_text(text), _reference_view(text)
    assert fast.shift() == general.shift()
    assert_same_mapping(fast, general)


def _han_texts(count: int) -> list[str]:
    rng = random.Random(13)
    pieces = ["国际", "劳工组织", "國際勞工組織", "ILO", "ＩＬＯ", "（", "）", "，", "。", " ", "2024", "年", "\u200b",
              "e\u0301", "&amp;", "人权", "ー", "カタカナ", "\U00020000", "Genève", "-\n"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 60))) for _ in range(count)]


@pytest.mark.parametrize("text", _han_texts(300))
def test_short_and_long_han_folding_agree(text: str) -> None:
    short = _fold_unspaced_short(text, [], False, {})
    long = _fold_unspaced(text, [], False, {})  # the numpy path whatever the length
    assert_same_mapping(short, long)


TERMS = [
    "High Commissioner for Human Rights",
    "Office of the UN High Commissioner for Human Rights",
    "UN High Commissioner",
    "Human Rights",
    "Rights",
    "ILO",
    "U.N.",
    "Universal Periodic Review",
    "Верховн* комиссар*",
    "Haut* Commissa*",
    "co-operation",
]
WORDS = ["the", "and", "ilo", "UN", "Review", "Haut-Commissariat", "Верховного комиссара", "Re-\nview", "&amp;"]
SEPARATORS = [" ", " ", ", ", ".\n\n", "  ", "-", "\u00a0", "’s "]


def _rules(exclude: bool) -> str:
    """Two rules over the same terms; `exclude` adds an exclusion that never
    matches, which sends the rules through `evaluate` instead of the fast path."""
    listed = ", ".join(f'"{t}"' for t in TERMS)
    never = 'exclude = ["qqq never zzz"]\n' if exclude else ""
    return "".join(
        f'[[rule]]\nid = "{rule_id}"\nany = [{listed}]\n{never}' for rule_id in ("watch-b", "watch-a")
    )


def _press(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 25)):
        parts.append(rng.choice(TERMS + WORDS).replace("*", rng.choice(["", "ого", "ариат"])))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


@pytest.mark.parametrize("seed", range(60))
def test_fast_rules_give_the_hits_that_evaluate_gives(matcher_for: MatcherFor, scan: Scan, seed: int) -> None:
    fast, evaluated = matcher_for(_rules(exclude=False)), matcher_for(_rules(exclude=True))
    rng = random.Random(seed)
    for _ in range(20):
        text, title = _press(rng), _press(rng) if rng.random() < 0.5 else ""
        assert scan(fast, text, title) == scan(evaluated, text, title)


def test_hits_are_listed_title_first_however_many_rules_are_candidates(matcher_for: MatcherFor, scan: Scan) -> None:
    """One order everywhere: title, then text, then by position (a lone candidate rule
    used to list text first)."""
    one = matcher_for('[[rule]]\nid = "r"\nany = ["ILO"]\n')
    two = matcher_for('[[rule]]\nid = "r"\nany = ["ILO"]\n[[rule]]\nid = "s"\nany = ["OHCHR"]\n')
    item = ("The ILO met.", "ILO news")
    assert [h.field for h in scan(one, *item)] == ["title", "text"]
    assert [h.field for h in scan(two, *item)] == ["title", "text"]  # `s` never was a candidate
    assert [h.field for h in scan(two, "The ILO met OHCHR.", "ILO news")] == ["title", "text", "text"]


def test_hits_are_immutable_values(pack: Matcher) -> None:
    (hit,) = pack.scan(Item(source="test:", guid="g", title="", text="The ILO met."))
    assert type(hit) is Hit
    assert hit == Hit("ilo", "ILO", "text", 4, 7, "ILO")
    assert hit == Hit(rule="ilo", term="ILO", field="text", start=4, end=7, matched="ILO")
    assert pickle.loads(pickle.dumps(hit)) == hit
    assert {hit: 1}[Hit("ilo", "ILO", "text", 4, 7, "ILO")] == 1
    with pytest.raises(AttributeError):
        hit.start = 0  # type: ignore[misc]
