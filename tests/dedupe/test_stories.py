"""The story policy decides alone: given candidates, which earlier item a new one repeats."""

from __future__ import annotations

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
    kept = index.stored(7, None, entry.fingerprint.simhash ^ 1)  # one bit away
    assert index.near(kept, entry.fingerprint.bands)
    index.known_text(kept, OTHER)  # SimHash says near, the words say otherwise
    assert index.repeats(entry) == (None, None)
    index.known_text(kept, None)  # text dropped by retention: SimHash decides
    assert index.repeats(entry)[0] == "story"


def test_a_candidate_far_in_bits_is_not_kept_and_remove_undoes_add() -> None:
    entry, later = prepared("1", RELEASE), prepared("2", RELEASE)
    index = StoryIndex([entry])
    far = index.stored(8, None, ~entry.fingerprint.simhash)
    assert not index.near(far, entry.fingerprint.bands)
    own = index.add(entry, None)
    assert index.repeats(later)[1] is own
    index.remove(entry, own)
    assert index.repeats(later) == (None, None)
