"""The story policy: which earlier item, if any, a new item repeats.

Pure: storage loads the candidates (`StoryIndex.stored`, `near`,
`known_headline`, `known_text`) and runs the inserts; this module only decides.
Four levels, cheapest first (the same feed + guid is storage's unique key,
checked before this): the same canonical URL, identical words, near-identical
words (SimHash within NEAR_DUPLICATE_BITS, confirmed by the words themselves),
and the same headline with one text inside the other (a republisher that keeps
the first two sentences of three: SimHash of short texts moves a dozen bits),
for items stored within HEADLINE_WINDOW of each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from monitor.dedupe.fingerprints import (
    MIN_WORDS_FOR_NEAR,
    NEAR_DUPLICATE_BITS,
    contained,
    hamming,
    same_story,
    shingles,
)
from monitor.items import Fingerprint, Prepared

STORY_WINDOW = timedelta(days=14)  # how far back "the same story" is looked for
# How far back the same headline with a text inside the other is looked for: a
# republisher follows within hours, while a "Daily press briefing" comes back daily.
HEADLINE_WINDOW = timedelta(days=3)
BANDS = 4

Repeat = Literal["url", "story"]


@dataclass(slots=True, eq=False)
class Story:
    """A stored item, or an item of the batch being committed, that a new one may repeat.

    Compared by identity: the index keeps one `Story` per stored item."""

    simhash: int
    id: int | None  # None until the item's INSERT gives it one
    root: int | Story | None  # the story's first item, which owns the alerts; None: this one
    text: str | None = None  # None for a stored item whose text retention dropped
    _shingles: frozenset[tuple[str, ...]] | None = None

    def shingles(self) -> frozenset[tuple[str, ...]]:
        """The text's shingles, computed once however many items are compared with it."""
        if self._shingles is None:
            self._shingles = shingles(self.text or "")
        return self._shingles

    @property
    def root_id(self) -> int | None:
        if self.root is None:
            return self.id
        return self.root if isinstance(self.root, int) else self.root.id


class StoryIndex:
    """What the new items of one batch may repeat: candidates from the database,
    then each item of the batch as it is judged, so the second copy of a story
    within the batch is recognised too."""

    def __init__(self, batch: Sequence[Prepared]) -> None:
        self._by_url: dict[str, Story] = {}
        self._by_hash: dict[str, Story] = {}
        self._by_band: dict[tuple[int, int], list[Story]] = {}
        self._by_headline: dict[int, list[Story]] = {}
        self._stored: dict[int, Story] = {}
        self._headlines = {entry.fingerprint.headline for entry in batch if entry.fingerprint.headline is not None}
        # band value -> simhashes of the batch with it, for the items long enough to compare
        self._wanted: list[dict[int, list[int]]] = [{} for _ in range(BANDS)]
        for entry in batch:
            fp = entry.fingerprint
            if fp.words >= MIN_WORDS_FOR_NEAR:
                for n, band in enumerate(fp.bands):
                    self._wanted[n].setdefault(band, []).append(fp.simhash)

    # what storage looks up -------------------------------------------------

    @property
    def band_pairs(self) -> list[list[tuple[int, int]]]:
        """Per band number, the (band value, simhash) of each item of the batch long
        enough to compare: a stored item is a candidate when it has that band value
        and lies within NEAR_DUPLICATE_BITS of that simhash ([] each: none wanted)."""
        return [[(band, simhash) for band, simhashes in wanted.items() for simhash in simhashes]
                for wanted in self._wanted]

    @property
    def headlines(self) -> list[int]:
        """The headline keys whose items stored within HEADLINE_WINDOW are candidates."""
        return sorted(self._headlines)

    def stored(self, item_id: int, duplicate_of: int | None, simhash: int) -> Story:
        """The one `Story` of a stored item."""
        story = self._stored.get(item_id)
        if story is None:
            story = self._stored[item_id] = Story(simhash, item_id, duplicate_of or item_id)
        return story

    def known_url(self, url: str, story: Story) -> None:
        self._by_url.setdefault(url, story)

    def known_hash(self, content_hash: str, story: Story) -> None:
        self._by_hash.setdefault(content_hash, story)

    def near(self, story: Story, band_no: int, band: int) -> None:
        """A stored item within NEAR_DUPLICATE_BITS of an item of the batch, sharing
        band `band_no` with it (see `band_pairs`): the batch's items with that band
        value compare it word by word, so storage must give its text (`known_text`)."""
        stories = self._by_band.setdefault((band_no, band), [])
        if story not in stories:
            stories.append(story)

    def known_headline(self, headline: int, story: Story) -> None:
        """A stored item with one of `headlines`: storage must then give its text (`known_text`)."""
        stories = self._by_headline.setdefault(headline, [])
        if story not in stories:
            stories.append(story)

    @staticmethod
    def known_text(story: Story, text: str | None) -> None:
        story.text = text
        story._shingles = None

    # deciding --------------------------------------------------------------

    def repeats(self, entry: Prepared) -> tuple[Repeat | None, Story | None]:
        """Which earlier story `entry` repeats, and why; (None, None) for a new story."""
        if entry.canonical_url and (story := self._by_url.get(entry.canonical_url)):
            return "url", story
        fp = entry.fingerprint
        if story := self._by_hash.get(fp.content_hash):
            return "story", story
        if fp.words >= MIN_WORDS_FOR_NEAR and (story := self._near(entry)):
            return "story", story
        if fp.headline is not None and (story := self._same_headline(entry, fp.headline)):
            return "story", story
        return None, None

    def _near(self, entry: Prepared) -> Story | None:
        fp = entry.fingerprint
        tried: set[int] = set()
        for n in range(BANDS):
            for story in self._by_band.get((n, fp.bands[n]), ()):
                if id(story) in tried:
                    continue
                tried.add(id(story))
                if hamming(story.simhash, fp.simhash) <= NEAR_DUPLICATE_BITS and _same_words(story, entry):
                    return story
        return None

    def _same_headline(self, entry: Prepared, headline: int) -> Story | None:
        """An earlier item under the same headline whose text holds this one's, or
        lies inside it. Without its text (retention dropped it) nothing can be said:
        "Press briefing" heads a different story every day."""
        stories = self._by_headline.get(headline)
        if not stories:
            return None
        own = shingles(entry.item.text)
        return next((s for s in stories if s.text is not None and contained(s.shingles(), own)), None)

    def add(self, entry: Prepared, repeated: Story | None) -> Story:
        """`entry` as later items see it: a story of its own, rooted where `repeated` is."""
        root = None if repeated is None else repeated if repeated.root is None else repeated.root
        story = Story(entry.fingerprint.simhash, None, root, entry.item.text)
        if entry.canonical_url:
            self._by_url.setdefault(entry.canonical_url, story)
        self._by_hash.setdefault(entry.fingerprint.content_hash, story)
        for key in _bands(entry.fingerprint):
            self._by_band.setdefault(key, []).append(story)
        if entry.fingerprint.headline is not None:
            self._by_headline.setdefault(entry.fingerprint.headline, []).append(story)
        return story

    def remove(self, entry: Prepared, story: Story) -> None:
        """Undo `add` for an item that was not stored after all."""
        fp = entry.fingerprint
        if entry.canonical_url and self._by_url.get(entry.canonical_url) is story:
            del self._by_url[entry.canonical_url]
        if self._by_hash.get(fp.content_hash) is story:
            del self._by_hash[fp.content_hash]
        for key in _bands(fp):
            self._by_band[key].remove(story)
        if fp.headline is not None:
            self._by_headline[fp.headline].remove(story)


def _bands(fp: Fingerprint) -> list[tuple[int, int]]:
    return list(enumerate(fp.bands))


def _same_words(story: Story, entry: Prepared) -> bool:
    """SimHash finds candidates; the words decide. Two releases sharing most of
    their boilerplate can land a few bits apart and must not merge (a merged
    story alerts once, so the second one would go unheard). A stored item whose
    text is gone can only be judged by its SimHash."""
    return story.text is None or same_story(story.text, entry.item.text)
