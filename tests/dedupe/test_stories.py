"""The story policy decides alone: given candidates, which earlier item a new one repeats."""

from __future__ import annotations

import pytest

from monitor.dedupe import StoryIndex, canonical_url, fingerprint
from monitor.items import Item, Prepared
from tests.conftest import SEEDS

RELEASE = next(SEEDS.glob("004_*.txt")).read_text(encoding="utf-8")[:1800]
OTHER = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8")


def prepared(guid: str, text: str, url: str | None = None) -> Prepared:
    item = Item(source="https://a.example/feed", guid=guid, title="Sekreta meets Türk", text=text, url=url)
    return Prepared(item, [], fingerprint(item), canonical_url(url))


def test_a_second_copy_within_the_batch_repeats_the_first_and_its_root_is_the_first() -> None:
    first, copy = prepared("1", RELEASE), prepared("2", RELEASE.replace("press service said", "BelTA reported"))
    index = StoryIndex([first, copy])
    assert index.repeats(first) == (None, None)
    own = index.add(first, None)
    reason, story = index.repeats(copy)
    assert reason == "story" and story is own
    assert index.add(copy, story).root is own


def test_a_stored_item_is_found_by_url_before_its_words() -> None:
    entry = prepared("1", OTHER, url="https://www.a.example/n/1?utm_source=rss")
    index = StoryIndex([entry])
    stored = index.stored(41, None, entry.fingerprint.simhash)
    index.known_url("https://a.example/n/1", stored)
    reason, story = index.repeats(entry)
    assert (reason, story.root_id if story else None) == ("url", 41)


def test_a_near_candidate_with_other_words_is_a_new_story_and_one_without_text_is_the_same() -> None:
    entry = prepared("1", RELEASE)
    index = StoryIndex([entry])
    kept = index.stored(7, None, entry.fingerprint.simhash ^ 1)  # one bit away, in band 0
    index.near(kept, 1, entry.fingerprint.bands[1])  # storage found it through band 1
    index.known_text(kept, OTHER)  # SimHash says near, the words say otherwise
    assert index.repeats(entry) == (None, None)
    index.known_text(kept, None)  # text dropped by retention: SimHash decides
    assert index.repeats(entry)[0] == "story"


def test_remove_undoes_add() -> None:
    entry, later = prepared("1", RELEASE), prepared("2", RELEASE)
    index = StoryIndex([entry])
    own = index.add(entry, None)
    assert index.repeats(later)[1] is own
    index.remove(entry, own)
    assert index.repeats(later) == (None, None)


# A UN News item of three sentences, as a wire republishes it: on its own URL, under
# the same headline (or "UN: " before it), with the first two sentences only.
HEADLINE = "Türk urges restraint as violence escalates in eastern Sudan"
SENTENCES = [
    "UN High Commissioner for Human Rights Volker Türk on Tuesday urged all parties in Sudan to exercise "
    "maximum restraint, after reports that dozens of civilians were killed in attacks on villages near Kassala.",
    "His office, OHCHR, said it had documented at least 43 deaths since Friday, including women and children, "
    "and called for independent investigations into the killings.",
    "The High Commissioner also appealed to the international community to step up humanitarian support for "
    "the more than two million people displaced in the region since the conflict began.",
]
WHOLE = " ".join(SENTENCES)
TRIMMED = " ".join(SENTENCES[:2])
BRIEFING = "Daily press briefing by the Office of the Spokesperson for the Secretary-General"


def story(guid: str, text: str, title: str = HEADLINE, source: str = "https://news.un.org/feed") -> Prepared:
    item = Item(source=source, guid=guid, title=title, text=text, url=f"https://{guid}.example/story")
    return Prepared(item, [], fingerprint(item), canonical_url(item.url))


def judged(first: Prepared, later: Prepared) -> str | None:
    """Why `later` repeats `first` when `first` was stored earlier (None: a new story)."""
    index = StoryIndex([later])
    stored = index.stored(1, None, first.fingerprint.simhash)
    assert first.fingerprint.headline in index.headlines or first.fingerprint.headline != later.fingerprint.headline
    if first.fingerprint.headline in index.headlines:
        index.known_headline(first.fingerprint.headline, stored)
        index.known_text(stored, first.item.text)
    reason, found = index.repeats(later)
    assert found is None or found is stored
    return reason


def test_a_trimmed_copy_is_far_in_simhash_and_still_the_same_story() -> None:
    from monitor.dedupe import hamming
    from monitor.dedupe.fingerprints import NEAR_DUPLICATE_BITS

    whole, trimmed = story("un", WHOLE), story("wire", TRIMMED, source="https://wire.example/rss")
    assert hamming(whole.fingerprint.simhash, trimmed.fingerprint.simhash) > NEAR_DUPLICATE_BITS
    assert judged(whole, trimmed) == "story"
    assert judged(trimmed, whole) == "story"  # the trimmed copy came first


@pytest.mark.parametrize("copy", [
    pytest.param(story("wire", TRIMMED, title=f"UN: {HEADLINE}"), id="prefixed"),
    pytest.param(story("wire", TRIMMED, title=f"UPDATE: {HEADLINE.upper()}"), id="update-upper-case"),
    pytest.param(story("wire", TRIMMED, title=f"{HEADLINE} - UN News"), id="source-after"),
    pytest.param(story("wire", "\n\n".join(SENTENCES).replace(", ", ",\n")), id="re-paragraphed"),
    pytest.param(story("wire", WHOLE + " Copyright 2026 Wire Service. All rights reserved. Not for "
                       "redistribution. Follow us on social media for more news from the region."),
                 id="trailing-boilerplate"),
    pytest.param(story("wire", TRIMMED + " Copyright 2026 Wire Service. All rights reserved."),
                 id="trimmed-with-trailer"),
])
def test_copies_of_a_story_under_its_headline_are_the_same_story(copy: Prepared) -> None:
    assert judged(story("un", WHOLE), copy) == "story"


@pytest.mark.parametrize("headline", ["Press briefing", BRIEFING, "Statement"])
def test_different_stories_under_a_boilerplate_headline_stay_apart(headline: str) -> None:
    opening = ("Good afternoon. Here is the noon briefing by Stéphane Dujarric, Spokesman for the "
               "Secretary-General, with the highlights of the day. ")
    monday = story("mon", opening + "The Secretary-General will travel to Addis Ababa on Thursday to attend the "
                   "African Union summit, where he will address the Assembly on peace and security.", headline)
    tuesday = story("tue", opening + "On Haiti, the humanitarian coordinator said food insecurity now affects "
                    "half of the population, and the flash appeal is only 12 per cent funded.", headline)
    assert monday.fingerprint.headline == tuesday.fingerprint.headline
    assert judged(monday, tuesday) is None


def test_a_short_text_under_the_same_headline_proves_nothing() -> None:
    """Title-only or one-line entries ("Statement", "See the full text on our site")
    would be contained in anything: they never join a story by their headline."""
    assert judged(story("a", WHOLE, "Statement"), story("b", "Statement by the Secretary-General.", "Statement")) is None


def test_the_same_text_under_another_headline_is_left_to_the_other_levels() -> None:
    assert judged(story("un", WHOLE), story("wire", TRIMMED, title="Sudan: dozens killed near Kassala")) is None


def test_a_candidate_whose_text_is_gone_is_not_judged_by_its_headline() -> None:
    whole, trimmed = story("un", WHOLE), story("wire", TRIMMED)
    index = StoryIndex([trimmed])
    stored = index.stored(1, None, whole.fingerprint.simhash)
    index.known_headline(whole.fingerprint.headline, stored)
    index.known_text(stored, None)
    assert index.repeats(trimmed) == (None, None)


def test_within_a_batch_a_trimmed_copy_repeats_the_whole_and_remove_undoes_it() -> None:
    whole, trimmed = story("un", WHOLE), story("wire", TRIMMED, title=f"UN: {HEADLINE}")
    index = StoryIndex([whole, trimmed])
    own = index.add(whole, None)
    assert index.repeats(trimmed) == ("story", own)
    index.remove(whole, own)
    assert index.repeats(trimmed) == (None, None)
