"""Snippets and highlighting for every output: context cut at words, hits
marked from their offsets, overlaps merged one way, feed text kept text."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from monitor.items import Hit
from monitor.present.snippets import (
    as_html,
    as_text,
    dashboard_mark,
    email_mark,
    feed_mark,
    merge,
    plain_snippet,
    snippet,
    whole,
    window,
)


def hit(start: int, end: int, rule: str = "ohchr", term: str = "t", matched: str = "") -> Hit:
    return Hit(rule, term, "text", start, end, matched)


def highlight(text: str, hits: list[Hit]) -> Markup:
    return as_html(whole(text, hits), dashboard_mark)


# -- plain text (the CLI, JSON) -----------------------------------------------------

TEXT = (
    "The quick brown fox jumps over the lazy dog near the   river bank\n"
    "where the ILO\u00a0office stands tall among many other buildings of the city center today."
)
ILO = TEXT.index("ILO")


def test_context_is_cut_at_word_boundaries_with_ellipses() -> None:
    assert plain_snippet(TEXT, ILO, ILO + 3, width=20) == "…bank where the ILO office stands tall…"


def test_default_width_is_about_sixty_characters_each_side() -> None:
    result = plain_snippet(TEXT, ILO, ILO + 3)
    assert result == (
        "…fox jumps over the lazy dog near the river bank where the ILO office stands tall among many"
        " other buildings of the city…"
    )
    left, right = result.split("ILO")
    assert 50 <= len(left) <= 61 and 50 <= len(right) <= 61


def test_no_ellipsis_where_the_text_ends() -> None:
    assert plain_snippet(TEXT, ILO, ILO + 3, width=1000) == " ".join(TEXT.split())
    assert plain_snippet("ILO", 0, 3) == "ILO"
    assert plain_snippet("the ILO", 4, 7, width=4) == "the ILO"


def test_whitespace_inside_the_match_is_collapsed_too() -> None:
    text = "Talks with the High\n  Commissioner\u00a0for Human Rights ended."
    start = text.index("High")
    end = text.index(" ended")
    assert plain_snippet(text, start, end, width=10) == "…with the High Commissioner for Human Rights ended."


def test_a_word_longer_than_the_window_is_cut_rather_than_hidden() -> None:
    text = "x" * 100 + "ILO" + "y" * 100
    assert plain_snippet(text, 100, 103, width=5) == "…xxxxxILOyyyyy…"


def test_partial_words_are_left_out() -> None:
    text = "x" * 100 + " ILO " + "y" * 100
    assert plain_snippet(text, 101, 104, width=20) == "…ILO…"


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (5, 4), (0, 10_000)])
def test_a_span_outside_the_text_is_an_error(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        plain_snippet(TEXT, start, end)


def test_plain_text_of_a_marked_snippet_is_the_plain_snippet() -> None:
    hits = [hit(ILO, ILO + 3, "ilo"), hit(TEXT.index("office"), TEXT.index("office") + 6)]
    assert as_text(snippet(TEXT, hits, width=20)) == plain_snippet(TEXT, ILO, ILO + 3, width=20)


# -- HTML (the dashboard, the email, the Atom feed) ------------------------------------


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


def test_overlaps_merge_the_same_way_in_every_output() -> None:
    text = "Office of the High Commissioner for Human Rights today"
    hits = [hit(14, 48, "hc"), hit(0, 48, "ohchr")]
    email = as_html(snippet(text, hits, anchor=hits[0]), email_mark)
    assert email == "<mark>Office of the High Commissioner for Human Rights</mark> today"
    assert as_html(snippet(text, hits), feed_mark).count("<strong>") == 1


def test_touching_hits_stay_two_marks() -> None:
    out = highlight("ILOOHCHR", [hit(0, 3, "ilo"), hit(3, 8)])
    assert out.count("<mark") == 2


def test_offsets_outside_the_text_are_clipped_or_dropped() -> None:
    text = "short OHCHR"
    out = highlight(text, [hit(6, 50), hit(100, 120), hit(-5, 2), hit(4, 4)])
    assert Markup(out).striptags() == text
    assert out.count("<mark") == 2
    assert merge([hit(6, 50)], len(text))[0].end == len(text)


def test_an_anchor_whose_text_is_gone_shows_the_words_it_matched() -> None:
    gone = hit(400, 405, matched="OHCHR")
    assert as_html(snippet("", [gone], anchor=gone), email_mark) == "<mark>OHCHR</mark>"
    assert as_text(snippet("short", [gone], anchor=gone)) == "OHCHR"


def test_private_use_characters_in_feed_text_are_only_text() -> None:
    text = "a \ue000b\ue001 the OHCHR \ue001 said"
    start = text.index("OHCHR")
    out = as_html(snippet(text, [hit(start, start + 5)]), email_mark)
    assert out == "a \ue000b\ue001 the <mark>OHCHR</mark> \ue001 said"


def test_snippet_is_one_line_around_the_first_hit_with_every_hit_inside_marked() -> None:
    words = " ".join(f"w{i}" for i in range(200))
    text = words + " the OHCHR\nand   the UPR " + words
    o, u = text.index("OHCHR"), text.index("UPR")
    out = as_html(snippet(text, [hit(o, o + 5), hit(u, u + 3, "upr")], width=40), dashboard_mark)
    assert out.startswith("…") and out.endswith("…")
    assert "\n" not in out and "   " not in out
    assert ">OHCHR</mark> and the <mark" in out and ">UPR</mark>" in out
    body = Markup(out).striptags().strip("…")
    assert all(part.startswith("w") or part in ("the", "OHCHR", "and", "UPR") for part in body.split())


def test_snippet_marks_a_hit_cut_by_the_window_as_far_as_it_shows() -> None:
    text = "OHCHR " + "x " * 100 + "a very long matched phrase at the end"
    start = text.index("a very")
    out = as_html(snippet(text, [hit(0, 5), hit(start, len(text))], width=10), dashboard_mark)
    assert out.count("<mark") == 1
    cut = as_html(snippet(text, [hit(0, 5), hit(start, len(text))], anchor=hit(len(text) - 3, len(text)),
                          width=10), email_mark)
    assert cut == "…<mark>at the end</mark>" and cut.count("<mark>") == cut.count("</mark>") == 1


def test_snippet_without_hits_is_the_opening() -> None:
    out = as_html(snippet("One two three. " * 50, [], width=20), dashboard_mark)
    assert out.startswith("One two") and out.endswith("…") and "<mark" not in out


def test_window_never_cuts_a_word() -> None:
    text = "alpha beta gamma OHCHR delta epsilon zeta"
    start = text.index("OHCHR")
    left, right = window(text, start, start + 5, 8)
    assert text[left:right] == "gamma OHCHR delta"
