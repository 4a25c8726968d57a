"""normalize(): the text that is stored and that hit offsets point into."""

from __future__ import annotations

import pytest

from monitor.items import Item
from monitor.normalize import normalize, normalize_text, normalize_title


def item(text: str, title: str = "Title") -> Item:
    return Item(source="s", guid="g", title=title, text=text, url="https://x.example/1", language="en")


# --- HTML -------------------------------------------------------------------


def test_block_elements_become_paragraphs() -> None:
    html = "<div><p>One</p><p>Two<br>Three</p><ul><li>A</li><li>B</li></ul><h2>Four</h2></div>"
    assert normalize_text(html) == "One\n\nTwo\n\nThree\n\nA\n\nB\n\nFour"


def test_inline_elements_and_source_newlines_do_not_break_paragraphs() -> None:
    html = '<p>The <b>High\nCommissioner</b> met <a href="/x" title="a > b">the ILO</a>.</p>'
    assert normalize_text(html) == "The High Commissioner met the ILO."


def test_scripts_styles_and_comments_are_dropped() -> None:
    html = (
        "<p>Kept.</p><script type='text/javascript'>var x = '<p>no</p>';</script>"
        "<style>p { color: red }</style><!-- hidden --><p>Also kept.</p><script>unclosed"
    )
    assert normalize_text(html) == "Kept.\n\nAlso kept."


def test_entities_are_decoded() -> None:
    assert normalize_text("<p>OHCHR &amp; ILO &lt;UPR&gt; &#8220;quote&#8221; caf&eacute;</p>") == (
        "OHCHR & ILO <UPR> “quote” café"
    )


def test_entities_in_plain_text_only_when_unambiguous() -> None:
    assert normalize_text("AT&T and R&D &amp; the EU&rsquo;s") == "AT&T and R&D & the EU’s"


def test_table_cells_are_separated() -> None:
    assert normalize_text("<table><tr><td>Geneva</td><td>12 March</td></tr></table>") == "Geneva 12 March"


# --- characters -------------------------------------------------------------


def test_nfkc_and_nbsp() -> None:
    assert normalize_text("Human\u00a0Rights\u202fCouncil ﬁnal ＯＨＣＨＲ") == "Human Rights Council final OHCHR"


def test_control_and_invisible_characters_are_removed() -> None:
    text = "Uni\u00adversal\u200b Peri\x00odic\x07 Review\tof\x1fBelarus"
    assert normalize_text(text) == "Universal Periodic Review ofBelarus"


def test_line_separators_all_break_paragraphs() -> None:
    assert normalize_text("One\r\nTwo\rThree\u2028Four\x0cFive") == "One\n\nTwo\n\nThree\n\nFour\n\nFive"


def test_whitespace_collapsed_inside_paragraphs() -> None:
    assert normalize_text("  The   UN \t said  \n\n\n   Next\u3000line ") == "The UN said\n\nNext line"


def test_typographic_quotes_and_diacritics_are_kept() -> None:
    text = "“Türk’s visit”, said the Ministère — «d’accord»."
    assert normalize_text(text) == text


# --- repeated paragraphs ----------------------------------------------------


def test_repeated_paragraphs_keep_the_first() -> None:
    text = "“Hello” world.\nSecond.\n\"hello\"   World.\nSECOND.\nThird."
    assert normalize_text(text) == "“Hello” world.\n\nSecond.\n\nThird."


def test_similar_but_different_paragraphs_are_kept() -> None:
    assert normalize_text("The ILO met.\nThe ILO met again.") == "The ILO met.\n\nThe ILO met again."


# --- boilerplate ------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Leave a Reply",
        "Leave a Reply Cancel reply",
        "Share this:",
        "Share this:TwitterFacebookLike this:Like Loading...",
        "Click to share on Twitter (Opens in new window)",
        "Related posts",
        "Related",
        "Read more",
        "Read more »",
        "Skip to content",
        "We use cookies to improve your experience on our website. By browsing, you agree.",
        "This website uses cookies.",
        "Accept all cookies",
        "© 2024 Ministry of Foreign Affairs. All rights reserved.",
        "Photo courtesy of the MFA",
        "Photo: UN Photo/Jean-Marc Ferré",
        "(Photo by Jane Doe)",
        "Commission decides to register ‘Good Clothes, Fair Pay’ initiative |",
        "|",
        "• • •",
    ],
)
def test_boilerplate_lines_are_dropped(line: str) -> None:
    assert normalize_text(f"Before.\n{line}\nAfter.") == "Before.\n\nAfter."


def test_link_line_before_a_lone_pipe_is_dropped() -> None:
    text = "Real paragraph.\nCommission (Eurostat) publishes 2022 report on SDGs\n|\nNext paragraph."
    assert normalize_text(text) == "Real paragraph.\n\nNext paragraph."


def test_sentence_before_a_lone_pipe_is_kept() -> None:
    assert normalize_text("A full sentence.\n|\nNext.") == "A full sentence.\n\nNext."


def test_reply_prompt_glued_to_neighbours() -> None:
    assert normalize_text("Leave a ReplyPhoto courtesy of the MFA\nReal text.") == "Real text."
    assert normalize_text("Real text, the ministry said.Leave a Reply") == "Real text, the ministry said."
    assert normalize_text("Last line\nLeave a Reply") == "Last line"  # at the end, without a newline


def test_real_paragraphs_that_look_like_boilerplate_at_first_are_kept() -> None:
    long = "Read more about the Universal Periodic Review in the report " + "of the Working Group " * 10 + "."
    mentions = "The delegation said photos from the session show the ILO director speaking to delegates."
    assert normalize_text(f"{long}\n{mentions}") == f"{' '.join(long.split())}\n\n{mentions}"


# --- the item ---------------------------------------------------------------


def test_title_gets_the_same_cleaning_on_one_line() -> None:
    assert normalize_title("  <b>OHCHR</b> &amp; the\u00a0EU:\nStrategic\u200b Dialogue ") == "OHCHR & the EU: Strategic Dialogue"


def test_normalize_changes_only_title_and_text() -> None:
    before = item("<p>Body &amp; more</p>", title="A\u00a0title")
    after = normalize(before)
    assert (after.title, after.text) == ("A title", "Body & more")
    assert after.replace(title=before.title, text=before.text) == before


def test_normalize_is_idempotent() -> None:
    once = normalize(item("<p>One</p><p>One</p>\nShare this:\n<p>Two &amp; three</p>"))
    assert normalize(once) == once


def test_text_with_only_inline_tags_keeps_its_lines() -> None:
    assert normalize_text("First <strong>paragraph</strong>.\nSecond one.") == "First paragraph.\n\nSecond one."
