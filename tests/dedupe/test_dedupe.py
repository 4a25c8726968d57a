"""What counts as the same item: canonical URLs and story fingerprints."""

from __future__ import annotations

import pytest

from monitor.dedupe import canonical_url, fingerprint, fingerprints, hamming
from monitor.items import Item
from tests.conftest import SEEDS

STORY = (
    "Belarusian Deputy Minister of Foreign Affairs Igor Sekreta met with UN High Commissioner "
    "for Human Rights Volker Türk in Geneva on the sidelines of the Fourth Universal Periodic "
    "Review. The parties exchanged views on global trends in creating conditions for the "
    "realization of human rights and discussed prospects for cooperation between Belarus and "
    "the OHCHR, the organization of work based on the recommendations adopted following the "
    "fourth cycle of the review, the press service said."
)


def item(text: str, title: str = "Sekreta meets Türk", source: str = "a") -> Item:
    return Item(source=source, guid="g", title=title, text=text)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://www.ohchr.org/en/news?utm_source=x&utm_medium=rss#top", "https://ohchr.org/en/news"),
        ("HTTP://Example.org:80/a/?b=2&a=1&fbclid=zz", "https://example.org/a?a=1&b=2"),
        ("https://example.org/story?id=7&ref=rss", "https://example.org/story?id=7"),
        ("https://example.org:8443/x", "https://example.org:8443/x"),
        ("mailto:press@example.org", None),
        ("", None),
        (None, None),
    ],
)
def test_canonical_url_drops_what_does_not_identify_the_document(url, canonical) -> None:
    assert canonical_url(url) == canonical


def test_identical_words_give_identical_fingerprints_whatever_the_typography() -> None:
    a = fingerprint(item(STORY))
    b = fingerprint(item(STORY.replace("Türk", "Turk").replace(" ", "  ").upper()))
    assert a.content_hash == b.content_hash
    assert a.simhash == b.simhash


def test_a_lightly_edited_copy_is_near_and_another_story_is_far() -> None:
    seed_004 = next(SEEDS.glob("004_*.txt")).read_text(encoding="utf-8")
    seed_000 = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8")
    release = seed_004[: len(seed_004) // 2]  # one copy of each paragraph, ~280 words
    original = fingerprint(item(release))
    edited = fingerprint(
        item(release.replace("the press service said", "BelTA reported").replace("Geneva", "Genf"))
    )
    other = fingerprint(item(seed_000))
    assert original.content_hash != edited.content_hash
    assert hamming(original.simhash, edited.simhash) <= 3
    assert hamming(original.simhash, other.simhash) > 10


def test_fingerprint_fits_a_signed_bigint_and_bands_cover_it() -> None:
    fp = fingerprint(item(STORY))
    assert -(2**63) <= fp.simhash < 2**63
    unsigned = fp.simhash & (2**64 - 1)
    assert fp.bands == tuple((unsigned >> s) & 0xFFFF for s in (0, 16, 32, 48))


BOILERPLATE = (
    "The Ministry of Foreign Affairs of the Republic informs that the press service "
    "publishes official statements on its website daily. For accreditation, journalists "
    "should contact the press office. Follow the ministry on social networks for updates. "
) * 3


def test_same_story_accepts_an_edited_copy_and_rejects_shared_boilerplate() -> None:
    from monitor.dedupe import same_story

    seed = next(SEEDS.glob("004_*.txt")).read_text(encoding="utf-8")
    release = seed[: len(seed) // 2]
    assert same_story(release, release.replace("the press service said", "BelTA reported"))
    assert same_story(release, release + " Leave a comment below.")
    first = "The minister met the ILO delegation on labour standards. " + BOILERPLATE
    second = "The minister received the OSCE envoy to discuss elections. " + BOILERPLATE
    assert not same_story(first + " " + release[:300], second + " " + next(SEEDS.glob("000_*.txt")).read_text()[:300])


def test_fingerprints_never_change_across_versions() -> None:
    """They are stored: a changed hash would make every stored story look new."""
    short = Item(source="s", guid="g", title="Minsk meets OHCHR",
                 text="The Office of the High Commissioner for Human Rights and Belarus held consultations.")
    assert fingerprint(short).simhash == 4169590021047237584
    assert fingerprint(short).content_hash == "38fe2d39a0fa0ded1512707a4c69cf16512e6a4564bb092760fbaec53065914b"
    long = " ".join(f"word{n % 97} item{n % 13}" for n in range(700))  # 1,399 word pairs
    assert fingerprint(Item(source="s", guid="g", title="Long", text=long)).simhash == -8531476647748500277


def test_a_batch_gets_the_fingerprints_its_items_get_one_by_one() -> None:
    seeds = [path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))]
    texts = [STORY, "", "one", "two words", "Türk, Türk!", STORY[:200], *seeds]
    batch = [item(text, title=title) for text in texts for title in ("", "Sekreta meets Türk")]
    assert fingerprints(batch) == [fingerprint(one) for one in batch]
    assert fingerprints([]) == []


def test_words_are_those_of_the_plain_definition_whatever_the_script() -> None:
    """fold_words takes shortcuts for ASCII and accented Latin text; the words must be
    exactly those of its definition: casefold, NFKD, drop accents, then \\w+."""
    import random
    import string
    import unicodedata

    from monitor.dedupe.fingerprints import _COMBINING, _WORD
    from monitor.dedupe.fingerprints import story_words as fold_words

    def definition(text: str) -> list[str]:
        return _WORD.findall(_COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold())))

    odd = ("’‘“”–—…\u00a0\u200b\u2009«»éÉßﬁ\u0301\u0308\u0327İıΣςЁё中・\ufeff\u00ad\u2028½²ℌǅ한"
           "\u0e38\u05b7\u0651㎭Å\u212b")
    alphabet = string.ascii_letters + string.digits + " .,;_-'\"\n\t" + odd
    rng = random.Random(5)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert fold_words(text) == definition(text), repr(text)
