"""parse_text: reading a scraped plain-text press item the way a person would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.ingest import parse_text
from monitor.ingest.textfile import find_dateline, first_sentence, shorten_title
from monitor.items import Item

BODY = "The High Commissioner said the review would continue next year, according to the statement."


def parse(text: str) -> Item:
    return parse_text(text, source="replay:files", guid="g", path="x.txt")


def test_short_headline_becomes_title_and_leaves_the_body() -> None:
    item = parse("UN rights chief visits Minsk\n\nGENEVA (Reuters) - " + BODY + "\nSecond paragraph.")
    assert item.title == "UN rights chief visits Minsk"
    assert item.text == "GENEVA (Reuters) - " + BODY + "\n\nSecond paragraph."
    assert (item.source, item.guid, item.path, item.url) == ("replay:files", "g", "x.txt", None)


def test_sentence_like_first_line_stays_in_the_body() -> None:
    item = parse(BODY + "\nSecond paragraph.")
    assert item.title == BODY
    assert item.text.startswith(BODY)


def test_paragraph_first_line_gives_shortened_first_sentence() -> None:
    paragraph = (
        "The Special Rapporteur on the situation of human rights defenders, who visited the country "
        "from 1 to 12 March at the invitation of the Government, said in a statement issued at the end "
        "of the visit that the situation remained precarious. She will report to the Council."
    )
    item = parse(paragraph + "\nMore text.")
    assert item.title.endswith("…") and len(item.title) <= 150
    assert paragraph.startswith(item.title[:-1])
    assert paragraph[len(item.title) - 1] in " ,"  # cut at a boundary, not inside a word
    assert item.text.split("\n\n")[0] == paragraph


@pytest.mark.parametrize(
    "caption",
    ["Photo courtesy of the MFA", "Photo: Reuters/John Doe", "(Photo by Jane Doe)", "PHOTO: UN Photo/Jean-Marc Ferré"],
)
def test_captions_above_the_headline_are_skipped(caption: str) -> None:
    item = parse(f"{caption}\nMinister meets High Commissioner\n{BODY}")
    assert item.title == "Minister meets High Commissioner"
    assert caption not in item.text


def test_reply_prompt_glued_to_a_caption_is_skipped() -> None:
    item = parse("Leave a ReplyPhoto courtesy of the MFA\nMinister meets High Commissioner\n" + BODY)
    assert item.title == "Minister meets High Commissioner"
    assert item.text == BODY


def test_dateline_with_year_gives_published_place_and_origin() -> None:
    item = parse("Türk opens session\nGeneva, 12 March 2024 (OHCHR) — " + BODY)
    assert item.place == "Geneva"
    assert item.origin == "OHCHR"
    assert item.published == datetime(2024, 3, 12, tzinfo=UTC)
    assert item.text.startswith("Geneva, 12 March 2024 (OHCHR) — ")  # dateline kept in the body


def test_dateline_without_year_leaves_published_empty() -> None:
    item = parse("MINSK, 4 November (BelTA) - " + BODY * 2)
    assert (item.place, item.origin, item.published) == ("Minsk", "BelTA", None)
    assert item.title.startswith("The High Commissioner said")  # dateline not in the title


def test_trailer_gives_origin_when_there_is_no_dateline() -> None:
    item = parse(f"Headline\n{BODY}\nSource: Ministry of Foreign Affairs of Belarus\nLeave a Reply")
    assert item.origin == "Ministry of Foreign Affairs of Belarus"
    item = parse(f"Headline\n{BODY}\nMore information: European Union External Action")
    assert item.origin == "European Union External Action"


def test_dateline_origin_wins_over_trailer() -> None:
    item = parse(f"Headline\nGENEVA (Reuters) - {BODY}\nSource: Someone Else")
    assert item.origin == "Reuters"


def test_single_headline_line_is_kept_as_text() -> None:
    item = parse("OHCHR welcomes the review\n")
    assert item.title == "OHCHR welcomes the review"
    assert item.text == "OHCHR welcomes the review"


def test_empty_text() -> None:
    item = parse(" \n\n")
    assert (item.title, item.text) == ("", "")


@pytest.mark.parametrize(
    ("text", "place", "origin", "published"),
    [
        ("GENEVA (Reuters) - The", "Geneva", "Reuters", None),
        ("NEW YORK, March 12, 2024 (AP) - The", "New York", "AP", datetime(2024, 3, 12, tzinfo=UTC)),
        ("MOSCOW, November 4. /TASS/. Russian", "Moscow", "TASS", None),
        ("GENEVA (12 March 2024) – The", "Geneva", None, datetime(2024, 3, 12, tzinfo=UTC)),
        ("BRUSSELS - The EU", "Brussels", None, None),
        ("ST. PETERSBURG, Nov. 4 (TASS) — “We", "St. Petersburg", "TASS", None),
    ],
)
def test_dateline_forms(text: str, place: str, origin: str | None, published: datetime | None) -> None:
    dateline = find_dateline(text)
    assert dateline is not None
    assert (dateline.place, dateline.origin, dateline.published) == (place, origin, published)


@pytest.mark.parametrize(
    "text",
    ["Igor Sekreta - The minister", "UPR – a review of", "Monday, 4 November 2024 - The", "The review began."],
)
def test_not_a_dateline(text: str) -> None:
    assert find_dateline(text) is None


def test_first_sentence_skips_abbreviations() -> None:
    text = "Mr. Türk met the U.N. envoy Dr. Smith on Monday. The talks continued."
    assert first_sentence(text) == "Mr. Türk met the U.N. envoy Dr. Smith on Monday."


def test_shorten_title_never_ends_on_a_function_word() -> None:
    title = shorten_title(
        "Belarusian Deputy Minister of Foreign Affairs Igor Sekreta met with UN High Commissioner for "
        "Human Rights Volker Türk in Geneva on the sidelines of the Fourth Universal Periodic Review"
    )
    assert len(title) <= 150 and title.endswith("…")
    assert title.rsplit(" ", 1)[-1].rstrip("…").lower() not in {"of", "the", "on", "in", "for", "with"}
