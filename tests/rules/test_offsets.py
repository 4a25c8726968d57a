"""Hits point at the original characters, whatever typography the text carries.

Matching runs on a folded view (no case, no accents, one kind of quote, one
space between words); these tests pin down that `text[start:end] == matched`
and that the span is exactly the mention, for every kind of noise found in
scraped press text.
"""

from __future__ import annotations

import random

import pytest

from monitor.rules import Matcher
from tests.rules.conftest import Scan

RULE = """
[[rule]]
id = "t"
any = [
  "Volker Türk",
  "High Commissioner for Human Rights",
  "Universal Periodic Review",
  "droits de l'homme",
  "co-operation",
  "ILO",
  "Верховн* комиссар*",
]
"""

# Texts that fold to ASCII (with a few accents and quotes at most) take the ASCII
# folding path, short or long; other short texts take the short-text path, and
# other long ones the vectorized path, which the Cyrillic preamble forces. All
# must give the same spans.
LONG_PREFIX = "Preamble, nothing to see here. " * 12 + "Préambule « sans objet »\n\n"
VECTOR_PREFIX = "Préambule « sans objet », преамбула — " * 12 + "\n\n"
PREFIXES = pytest.mark.parametrize("prefix", ["", LONG_PREFIX, VECTOR_PREFIX], ids=["short", "long", "vectorized"])


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    from monitor.rules import compile_rules, load_rules

    path = tmp_path_factory.mktemp("rules") / "t.toml"
    path.write_text(RULE, encoding="utf-8")
    return compile_rules(load_rules([path]))


CASES = [
    # (text, the exact mention expected, the term that finds it)
    ("Talks with Volker Türk ended.", "Volker Türk", "Volker Türk"),
    ("Talks with Volker Turk ended.", "Volker Turk", "Volker Türk"),
    ("TALKS WITH VOLKER TÜRK ENDED", "VOLKER TÜRK", "Volker Türk"),
    ("Talks with Volker Tu\u0308rk ended.", "Volker Tu\u0308rk", "Volker Türk"),  # decomposed ü
    ("Le respect des droits de l’homme.", "droits de l’homme", "droits de l'homme"),
    ("Le respect des droits de l‘homme.", "droits de l‘homme", "droits de l'homme"),
    ("Le respect des droits de l&#8217;homme.", "droits de l&#8217;homme", "droits de l'homme"),
    ("Le respect des droits de l&rsquo;homme.", "droits de l&rsquo;homme", "droits de l'homme"),
    ("Le respect des droits de l&amp;#8217;homme.", "droits de l&amp;#8217;homme", "droits de l'homme"),
    ("The High\u00a0Commissioner for Human Rights said.", "High\u00a0Commissioner for Human Rights", None),
    ("The High Commissioner for\nHuman Rights said.", "High Commissioner for\nHuman Rights", None),
    ("The High Commissioner for\r\nHuman Rights said.", "High Commissioner for\r\nHuman Rights", None),
    ("The High  Commissioner\tfor  Human   Rights said.", "High  Commissioner\tfor  Human   Rights", None),
    ("The High Commissioner for Human&nbsp;Rights said.", "High Commissioner for Human&nbsp;Rights", None),
    ("The High\u2003Commissioner for Human\u2028Rights said.", "High\u2003Commissioner for Human\u2028Rights", None),
    ("the Universal Periodic Re-\nview of Belarus", "Universal Periodic Re-\nview", None),
    ("the Universal Peri-\r\n   odic Review of Belarus", "Universal Peri-\r\n   odic Review", None),
    ("the Universal Periodic Re\u00ad\nview of Belarus", "Universal Periodic Re\u00ad\nview", None),
    ("the Uni\u00adver\u00adsal Periodic Review of Belarus", "Uni\u00adver\u00adsal Periodic Review", None),
    ("the Univer\u200bsal Periodic Review", "Univer\u200bsal Periodic Review", None),
    ("closer co-operation with", "co-operation", None),
    ("closer co operation with", "co operation", None),
    ("closer co\u2011operation with", "co\u2011operation", None),
    ("closer co–operation with", "co–operation", None),
    ("closer co-\noperation with", "co-\noperation", None),
    ("AT&amp;T &amp; the ILO&#8217;s office", "ILO", None),
    ("\U0001f1e7\U0001f1fe ILO \U0001f600 meeting", "ILO", None),
    ("Встреча с Верховным комиссаром.", "Верховным комиссаром", None),
    ("ВСТРЕЧА С ВЕРХОВНЫМ\nКОМИССАРОМ", "ВЕРХОВНЫМ\nКОМИССАРОМ", None),
    ("Встреча с Верхо\u00adвным комиссаром.", "Верхо\u00adвным комиссаром", None),
]


@PREFIXES
@pytest.mark.parametrize(("text", "mention", "term"), CASES)
def test_hit_spans_the_mention_exactly(
    matcher: Matcher, scan: Scan, prefix: str, text: str, mention: str, term: str | None
) -> None:
    full = prefix + text
    (hit,) = scan(matcher, full)
    assert full.index(mention) == hit.start
    assert hit.matched == mention
    if term is not None:
        assert hit.term == term


@PREFIXES
def test_title_spans_are_title_offsets(matcher: Matcher, scan: Scan, prefix: str) -> None:
    title = prefix + "“ILO” &amp; Volker Türk"
    hits = scan(matcher, "nothing here", title)
    assert [(h.field, h.matched) for h in hits] == [("title", "ILO"), ("title", "Volker Türk")]


def test_a_break_inside_a_hyphenated_compound_still_reads_as_two_words(matcher: Matcher, scan: Scan) -> None:
    """`Re-\\nview` must be `Review`, but `ILO-\\nbacked` must still contain ILO."""
    text = "An ILO-\nbacked plan and the Universal Periodic Re-\nview."
    assert [h.matched for h in scan(matcher, text)] == ["ILO", "Universal Periodic Re-\nview"]


def test_every_occurrence_is_reported_once(matcher: Matcher, scan: Scan) -> None:
    text = "ILO, ILO; (ILO) ILO\u2019s ILO-ILO “ILO”"
    hits = scan(matcher, text)
    assert len(hits) == 7
    assert [h.start for h in hits] == sorted({h.start for h in hits})


NOISE_SEPARATORS = [" ", "  ", "\n", "\r\n", "\u00a0", "\t", " \n ", "&nbsp;", "\u2009", " -\n"]
FILLER = [
    "rapport",
    "Überblick",
    "«citation»",
    "l’avis",
    "naïve",
    "—",
    "&amp;",
    "x-ray",
    "\u00ad",
    "🙂",
    "e\u0301t\u00e9",
]


def _noisy(phrase: str, rng: random.Random) -> str:
    words = phrase.split(" ")
    out = words[0]
    for word in words[1:]:
        out += rng.choice(NOISE_SEPARATORS[:-1]) + word
    return out


@pytest.mark.parametrize("seed", range(40))
def test_random_noise_never_shifts_a_span(matcher: Matcher, scan: Scan, seed: int) -> None:
    """Many mentions in one text, each surrounded by typographic noise: every one
    is found, at exactly the position where it was put."""
    rng = random.Random(seed)
    phrases = ["High Commissioner for Human Rights", "Universal Periodic Review", "Volker Türk", "ILO"]
    text = ""
    expected = []
    for _ in range(rng.randint(1, 12)):
        text += " ".join(rng.choice(FILLER) for _ in range(rng.randint(0, 30)))
        text += rng.choice(NOISE_SEPARATORS)
        mention = _noisy(rng.choice(phrases), rng)
        expected.append((len(text), mention))
        text += mention
        text += rng.choice(NOISE_SEPARATORS[:-1]) if rng.random() < 0.8 else "."
    hits = scan(matcher, text)
    assert [(h.start, h.matched) for h in hits] == expected
