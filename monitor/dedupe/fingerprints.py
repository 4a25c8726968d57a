"""Content fingerprints: identical words (a hash), near-identical words (a
64-bit SimHash whose four 16-bit bands are indexed: two texts within Hamming
distance 3 share at least one band, so one indexed lookup finds every candidate),
and the headline's key, which finds the copies a republisher trimmed (SimHash of
a short text moves a dozen bits when a sentence goes; the headline stays).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain

import numpy as np

from monitor.items import Fingerprint, Item

NEAR_DUPLICATE_BITS = 3  # Hamming distance at or below which two texts may be one story
SAME_STORY_CONTAINMENT = 0.75  # share of the shorter text's word pairs found in the other
MIN_WORDS_FOR_NEAR = 40  # below this, only identical text counts as the same story
SHINGLE = 3  # words per shingle when a text must lie inside another (`contained`)
CONTAINED = 0.8  # share of the shorter text's shingles the longer one must hold
MIN_SHINGLES = 12  # a shorter text with fewer (about 14 words) proves nothing by being contained

# What a republisher puts before a headline or after it: "UN: ", "UPDATE 2: ", "[BREAKING] ",
# " - UN News", " | Reuters" (a dash names the source after the headline, never before:
# "A - B" cannot tell which is which). At most four words each.
_LABEL = r"[^\W_][\w.'&’]*(?:[ \t][\w.'&’]+){0,3}"
_LEADING_LABEL = re.compile(rf"\A\s*(?:\[{_LABEL}\]\s*|\({_LABEL}\)\s*|{_LABEL}\s*:\s+)")
_TRAILING_LABEL = re.compile(rf"\s+[|–—-]\s+{_LABEL}\s*\Z")
_SEPARATED = re.compile(r"\s[|–—-]\s")  # cheap test before _TRAILING_LABEL

_WORD = re.compile(r"\w+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII_NON_WORD = bytes(c if re.fullmatch(r"\w", chr(c)) else 0x20 for c in range(256))  # \w of ASCII kept
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_MASK64 = (1 << 64) - 1


def story_words(text: str) -> list[str]:
    """Lower-cased words with diacritics removed: what "the same text" compares."""
    folded = text.casefold()
    if not folded.isascii():
        spelled = {char: _ascii_form(char) for char in set(_NON_ASCII.findall(folded))}
        if None in spelled.values():  # Cyrillic, Greek, CJK...: the general way
            return _WORD.findall(_COMBINING.sub("", unicodedata.normalize("NFKD", folded)))
        folded = _NON_ASCII.sub(lambda m: spelled[m.group()], folded)  # type: ignore[arg-type,return-value]
    # The same words as `_WORD.findall`, five times faster.
    return folded.encode("ascii").translate(_ASCII_NON_WORD).decode("ascii").split()


@lru_cache(maxsize=4096)
def _ascii_form(char: str) -> str | None:
    """What one character contributes to the words, in ASCII: its letters without
    accents (`é` -> `e`), a space if it only separates words (a curly quote, a
    dash), nothing if it is a lone accent; None if that cannot be said in ASCII.
    Decomposing character by character is what NFKD does to the whole text."""
    stripped = _COMBINING.sub("", unicodedata.normalize("NFKD", char))
    if stripped.isascii():
        return stripped
    return " " if _WORD.search(stripped) is None else None


def fingerprint(item: Item) -> Fingerprint:
    return fingerprints([item])[0]


def fingerprints(items: Sequence[Item]) -> list[Fingerprint]:
    """The fingerprints of a batch: one pass of numpy for all of it, which costs
    a fifth of doing it item by item (numpy's cost is per call, not per word)."""
    word_lists = [story_words(f"{item.title}\n{item.text}") for item in items]
    result = []
    for item, words, simhash in zip(items, word_lists, _simhashes(word_lists), strict=True):
        content_hash = hashlib.sha256(" ".join(words).encode()).hexdigest()
        bands = tuple((simhash >> shift) & 0xFFFF for shift in (0, 16, 32, 48))
        signed = simhash - (1 << 64) if simhash >= 1 << 63 else simhash
        headline = headline_key(item.title)
        result.append(Fingerprint(content_hash, signed, bands, len(words), headline))  # type: ignore[arg-type]
    return result


def headline_key(title: str) -> int | None:
    """What two copies of a story share in their headlines: the folded words, without
    the labels a republisher adds ("UN: ", "UPDATE:", " - UN News"), hashed to a
    signed 64-bit integer (a small index). A key only finds candidates; `contained`
    decides (many different stories are called "Press briefing"). None for a
    headline without words."""
    for _ in range(3):  # "UPDATE 2: UN: ..."
        if ":" not in title[:80] and title.lstrip()[:1] not in ("[", "("):
            break  # most headlines: no regex
        stripped = _LEADING_LABEL.sub("", title, count=1)
        if stripped == title or not story_words(stripped):
            break
        title = stripped
    words = story_words(title)
    if _SEPARATED.search(title) and (cut := story_words(_TRAILING_LABEL.sub("", title, count=1))):
        words = cut
    if not words:
        return None
    key = int.from_bytes(hashlib.blake2b(" ".join(words).encode(), digest_size=8).digest(), "big")
    return key - (1 << 64) if key >= 1 << 63 else key


def shingles(text: str) -> frozenset[tuple[str, ...]]:
    """The text's runs of SHINGLE words: the same set however it is paragraphed."""
    words = story_words(text)
    return frozenset(zip(*(words[n:] for n in range(SHINGLE))))


def contained(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> bool:
    """One text essentially inside the other (shingles from `shingles`): a copy cut
    after two sentences, or carrying a trailer, lies inside the whole story. The
    shorter must be long enough for that to mean something."""
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    if len(shorter) < MIN_SHINGLES:
        return False
    return len(shorter & longer) >= CONTAINED * len(shorter)


def same_story(a: str, b: str) -> bool:
    """The check behind a SimHash candidate: most word pairs of the shorter text
    occur in the other. An edited copy or one with a trailer passes; two releases
    that merely share a ministry's boilerplate do not."""
    pairs_a, pairs_b = _pairs(story_words(a)), _pairs(story_words(b))
    if not pairs_a or not pairs_b:
        return pairs_a == pairs_b
    return len(pairs_a & pairs_b) / min(len(pairs_a), len(pairs_b)) >= SAME_STORY_CONTAINMENT


def _pairs(words: list[str]) -> set[tuple[str, str]]:
    return set(zip(words, words[1:]))


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & _MASK64).bit_count()


def _simhashes(word_lists: Sequence[list[str]]) -> list[int]:
    # Word bigrams: a light edit of a 300-word release moves 2-3 bits, while a
    # different story on the same subject lands 25+ bits away (see tests).
    # Each distinct word is hashed once (blake2b: stable across processes, unlike
    # hash()); a pair's hash mixes its two word hashes in numpy. A text of one
    # word pairs it with itself, and no words at all counts as the word "".
    if not word_lists:
        return []
    lists = [words or [""] for words in word_lists]
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    hashes = np.fromiter(map(_word_hash, chain.from_iterable(lists)), dtype=np.uint64, count=int(lengths.sum()))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    # Each text's pairs: (word i, word i + 1); for a one-word text, (word 0, word 0).
    counts = np.maximum(lengths - 1, 1)
    first_pair = np.concatenate(([0], np.cumsum(counts)[:-1]))
    left = np.arange(int(counts.sum())) - np.repeat(first_pair - starts, counts)
    right = left + np.repeat(lengths > 1, counts)
    with np.errstate(over="ignore"):
        lo, hi = hashes[left], hashes[right]
        pairs = _mix(lo * np.uint64(0x9E3779B97F4A7C15) ^ ((hi << np.uint64(29)) | (hi >> np.uint64(35))))
    bits = np.unpackbits(pairs.astype(">u8").view(np.uint8).reshape(len(pairs), 8), axis=1)
    votes = np.packbits(_column_sums(bits, first_pair, counts) * 2 > counts[:, None], axis=1)
    return [int.from_bytes(row.tobytes(), "big") for row in votes]


def _column_sums(bits: np.ndarray, first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per text, how many of its pair hashes have each of the 64 bits set.

    `bits` holds one 0/1 byte per bit; summing them as 64-bit words adds eight
    columns at once, which is ten times faster than summing bytes into wider
    integers. A byte overflows past 255, so each text's rows are summed in runs of
    at most 255 and the runs' byte sums added up after.
    """
    runs = (counts + 254) // 255
    run_starts = np.cumsum(runs) - runs
    run_first = np.repeat(first, runs) + 255 * (np.arange(int(runs.sum())) - np.repeat(run_starts, runs))
    partial = np.add.reduceat(bits.view(np.uint64), run_first, axis=0).view(np.uint8)
    return np.add.reduceat(partial, run_starts, axis=0, dtype=np.int64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: every input bit moves about half the output bits."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


@lru_cache(maxsize=200_000)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
