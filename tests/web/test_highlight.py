"""Hits become <mark>s from their stored offsets, and feed text stays text."""

from __future__ import annotations

from markupsafe import Markup

from monitor.items import Hit
from monitor.web.highlight import highlight, merge, snippet, window


def hit(start: int, end: int, rule: str = "ohchr", term: str = "t") -> Hit:
    return Hit(rule, term, "text", start, end, "")


def test_every_piece_of_feed_text_is_escaped_and_only_marks_are_markup() -> None:
    text = '<script>alert("x")</script> OHCHR & <b>co</b>'
    start = text.index("OHCHR")
    out = highlight(text, [hit(start, start + 5)])
    assert isinstance(out, Markup)
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in out
    assert '<mark class="hit" data-rules="ohchr" title="ohchr: t">OHCHR</mark>' in out
    assert out.endswith("&amp; &lt;b&gt;co&lt;/b&gt;")


def test_the_marked_words_are_exactly_the_offsets() -> None:
    text = "The Office of the UN High Commissioner for Human Rights (OHCHR) said"
    a, b = text.index("High"), text.index(" (")
    out = highlight(text, [hit(a, b), hit(text.index("OHCHR"), text.index("OHCHR") + 5)])
    assert f"<mark class=\"hit\" data-rules=\"ohchr\" title=\"ohchr: t\">{text[a:b]}</mark>" in out
    assert Markup(out).striptags() == text


def test_overlapping_and_nested_hits_merge_into_one_mark_naming_every_rule() -> None:
    text = "Office of the High Commissioner for Human Rights today"
    long_hit = hit(0, 48, "ohchr", "Office of the High Commissioner for Human Rights")
    inner = hit(14, 48, "hc", "High Commissioner for Human Rights")
    crossing = hit(40, 54, "rights", "Rights today")
    out = highlight(text, [inner, crossing, long_hit])
    assert out.count("<mark") == 1 and out.count("</mark>") == 1
    assert 'class="hit multi" data-rules="hc ohchr rights"' in out
    assert "ohchr: Office of the High Commissioner for Human Rights" in out
    assert Markup(out).striptags() == text
    assert merge([inner, crossing, long_hit], len(text))[0].end == 54


def test_touching_hits_stay_two_marks() -> None:
    out = highlight("ILOOHCHR", [hit(0, 3, "ilo"), hit(3, 8)])
    assert out.count("<mark") == 2


def test_offsets_outside_the_text_are_clipped_or_dropped() -> None:
    text = "short OHCHR"
    out = highlight(text, [hit(6, 50), hit(100, 120), hit(-5, 2), hit(4, 4)])
    assert Markup(out).striptags() == text
    assert out.count("<mark") == 2
    assert merge([hit(6, 50)], len(text))[0].end == len(text)


def test_snippet_is_one_line_around_the_first_hit_with_every_hit_inside_marked() -> None:
    words = " ".join(f"w{i}" for i in range(200))
    text = words + " the OHCHR\nand   the UPR " + words
    o, u = text.index("OHCHR"), text.index("UPR")
    out = snippet(text, [hit(o, o + 5), hit(u, u + 3, "upr")], width=40)
    assert out.startswith("…") and out.endswith("…")
    assert "\n" not in out and "   " not in out
    assert ">OHCHR</mark> and the <mark" in out and ">UPR</mark>" in out
    body = Markup(out).striptags().strip("…")
    assert all(part.startswith("w") or part in ("the", "OHCHR", "and", "UPR") for part in body.split())


def test_snippet_marks_a_hit_cut_by_the_window_as_far_as_it_shows() -> None:
    text = "OHCHR " + "x " * 100 + "a very long matched phrase at the end"
    start = text.index("a very")
    out = snippet(text, [hit(0, 5), hit(start, len(text))], width=10)
    assert out.count("<mark") == 1


def test_snippet_without_hits_is_the_opening() -> None:
    out = snippet("One two three. " * 50, [], width=20)
    assert out.startswith("One two") and out.endswith("…") and "<mark" not in out


def test_window_never_cuts_a_word() -> None:
    text = "alpha beta gamma OHCHR delta epsilon zeta"
    start = text.index("OHCHR")
    left, right = window(text, start, start + 5, 8)
    assert text[left:right] == "gamma OHCHR delta"
