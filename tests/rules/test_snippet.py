"""`snippet`: one line of context around a hit, for the CLI and alerts."""

from __future__ import annotations

import pytest

from monitor.rules import snippet

TEXT = (
    "The quick brown fox jumps over the lazy dog near the   river bank\n"
    "where the ILO\u00a0office stands tall among many other buildings of the city center today."
)
ILO = TEXT.index("ILO")


def test_context_is_cut_at_word_boundaries_with_ellipses() -> None:
    assert snippet(TEXT, ILO, ILO + 3, width=20) == "…bank where the ILO office stands tall…"


def test_default_width_is_about_sixty_characters_each_side() -> None:
    result = snippet(TEXT, ILO, ILO + 3)
    assert result == (
        "…fox jumps over the lazy dog near the river bank where the ILO office stands tall among many"
        " other buildings of the city…"
    )
    left, right = result.split("ILO")
    assert 50 <= len(left) <= 61 and 50 <= len(right) <= 61


def test_no_ellipsis_where_the_text_ends() -> None:
    assert snippet(TEXT, ILO, ILO + 3, width=1000) == " ".join(TEXT.split())
    assert snippet("ILO", 0, 3) == "ILO"
    assert snippet("the ILO", 4, 7, width=4) == "the ILO"


def test_whitespace_inside_the_match_is_collapsed_too() -> None:
    text = "Talks with the High\n  Commissioner\u00a0for Human Rights ended."
    start = text.index("High")
    end = text.index(" ended")
    assert snippet(text, start, end, width=10) == "…with the High Commissioner for Human Rights ended."


def test_a_word_longer_than_the_window_is_cut_rather_than_hidden() -> None:
    text = "x" * 100 + "ILO" + "y" * 100
    assert snippet(text, 100, 103, width=5) == "…xxxxxILOyyyyy…"


def test_partial_words_are_left_out() -> None:
    text = "x" * 100 + " ILO " + "y" * 100
    assert snippet(text, 101, 104, width=20) == "…ILO…"


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (5, 4), (0, 10_000)])
def test_a_span_outside_the_text_is_an_error(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        snippet(TEXT, start, end)
