"""Folding: make spelling variants of the same words compare equal without ever
changing the text that is stored or displayed.

Press text arrives with every typographic accident there is: accents dropped or
kept (Türk / Turk), curly or straight quotes, non-breaking spaces, Windows line
breaks, soft hyphens, words hyphenated across a line break, HTML entities that
survived scraping. Rules should not have to spell all of that out, so matching
runs on a *folded view* of the text, and every match is mapped back to the
characters of the original.

The folded view is a sequence of words separated by single spaces, with a space
at each end:

* letters and digits are case-folded and stripped of diacritics (NFKD without
  combining marks), one character for one character: `Türk` -> `turk`;
* every other visible character (punctuation, quotes, dashes, symbols,
  whitespace of any kind) separates words, and a run of separators is one
  space, so `co-operation` == `co operation` and `High\\u00a0\\r\\n Commissioner`
  == `High Commissioner`;
* invisible characters (soft hyphen, zero-width space and joiners, bidi marks,
  loose combining marks) are dropped, so they never split a word;
* a word broken by a hyphen and a line break (`Re-\\nview`) reads as two words
  (`re view`) and, with `join_hyphen_breaks=True`, as one (`review`): the
  matcher scans both readings because only the rule term can tell which one
  was meant (`Periodic Review` versus `UPR-related`); after a *soft* hyphen the
  word is always joined;
* HTML entities (`&amp;`, `&#8217;`, `&eacute;`, also double-escaped
  `&amp;#8217;`) count as the character they stand for;
* Arabic: short vowels and other marks (tashkeel) and the tatweel are dropped,
  and the letters spelled either way fold to one (`أ إ آ ٱ` -> `ا`, `ة` -> `ه`,
  `ى` -> `ي`); digits of every script fold to ASCII digits (`١٩٠` -> `190`);
* Han (Chinese characters, also in Japanese) and Japanese kana are written
  without spaces, so each such character is a word of its own in the folded
  view (`国际劳工组织` -> ` 国 际 劳 工 组 织 `): a term in Han script then
  matches inside running text, while a Latin word next to it (`组织ILO总`) is
  still a whole word. Traditional characters fold to Simplified ones with
  OpenCC's character tables (`國際勞工組織` == `国际劳工组织`), loaded the
  first time a Han character is folded.

Because every word boundary in the folded view is exactly one space, a rule
term folded the same way (`" ilo "`) can only match whole words: this is what
lets a single Aho-Corasick pass find candidates that need almost no checking.

Speed matters here (every item, every field). Most press text folds to ASCII
with nothing deleted (English with a few accents and curly quotes): it is folded
by one `bytes.translate`, and collapsing its runs of spaces yields the way back
to original offsets at the same time. Other long texts are folded with a numpy
lookup table and a mask (no per-character Python), and the way back is computed
only for texts that have a match.
"""

from __future__ import annotations

import bisect
import codecs
import functools
import html
import re
import unicodedata

import numpy as np
import numpy.typing as npt

from monitor.rules.chinese import traditional_to_simplified

SPACE = " "
DELETED = "\x00"
SOFT_HYPHEN = "\u00ad"
_SPACE_CP = 0x20
_DELETED_CP = 0
_BMP = 0x10000
# Below this length `str.translate` + `str.split` beat numpy's fixed per-call costs.
_NUMPY_MIN_LENGTH = 200

_ENTITY = re.compile(r"&(?:amp;)?(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_HYPHENS = ("-", "\u2010", "\u2011", SOFT_HYPHEN)
_LINE_BREAKS = "\n\r\u2028\u2029\x85\x0b\x0c"
# What must follow a hyphen for it to break a word: blanks, a line break, more whitespace.
_BREAK_TAIL = re.compile(rf"[^\S{_LINE_BREAKS}]*[{_LINE_BREAKS}]\s*")
_SPACE_RUN = re.compile("  +")

Edit = tuple[int, int, int]  # original [start, end) becomes this code point followed by deletions


# Arabic letters written either way in press copy (hamza and madda on alef, on
# waw and on yeh are combining marks after NFKD, dropped like any accent).
_ARABIC_VARIANTS = {
    0x0629: 0x0647,  # ة ta marbuta -> ه
    0x0649: 0x064A,  # ى alef maksura -> ي
    0x0671: 0x0627,  # ٱ alef wasla -> ا
    0x06CC: 0x064A,  # ی Farsi yeh (Persian keyboards) -> ي
    0x06A9: 0x0643,  # ک keheh -> ك
    0x0640: _DELETED_CP,  # ـ tatweel: stretches a word, means nothing
}
# Scripts written without spaces between words: every character is a word.
_UNSPACED_RANGES = (
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x31F0, 0x31FF),  # katakana extension
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B-G
)
_UNSPACED = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _UNSPACED_RANGES) + "]")


def is_unspaced(char: str) -> bool:
    """A character of a script written without spaces (Han, kana): a word by itself."""
    return _UNSPACED.match(char) is not None


def fold_codepoint(cp: int) -> int:
    """The folded code point of one character: 0 drops it, 0x20 makes it a separator.

    One character never folds to more than one, which keeps the first folding
    step length-preserving, so positions still line up with the original.
    """
    folded = _fold_basic(cp)
    if 0x3400 <= folded < _BMP and is_unspaced(chr(folded)):
        return traditional_to_simplified().get(folded, folded)
    return folded


def _fold_basic(cp: int) -> int:
    """`fold_codepoint` without the Traditional -> Simplified step (which needs OpenCC)."""
    variant = _ARABIC_VARIANTS.get(cp)
    if variant is not None:
        return variant
    char = chr(cp)
    if char.isdecimal() and not char.isascii():
        return ord("0") + unicodedata.decimal(char)
    if char.isalnum():
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        for candidate in (base.casefold(), base.lower(), char.casefold(), char.lower()):
            if len(candidate) == 1 and candidate.isalnum():
                folded = ord(candidate)  # presentation forms (ﻛ, ﺔ) decompose to letters that have variants
                return _ARABIC_VARIANTS.get(folded, folded)
        return cp
    category = unicodedata.category(char)
    if category in ("Mn", "Me", "Cf"):  # combining marks, soft hyphen, zero-width and bidi controls
        return _DELETED_CP
    if category == "Mc":  # spacing vowel signs (Devanagari, ...) belong to their word
        return cp
    return _SPACE_CP


class _FoldTable(dict[int, str]):
    """`str.translate` table, filled on first sight of each character."""

    def __missing__(self, cp: int) -> str:
        value = chr(fold_codepoint(cp))
        self[cp] = value
        return value


_TABLE = _FoldTable({cp: chr(fold_codepoint(cp)) for cp in range(128)})
_ASCII_LOOKUP = np.array([fold_codepoint(cp) for cp in range(128)], dtype=np.uint8)
# The same ASCII folding for `bytes.translate`, several times faster than `str.translate`.
_ASCII_BYTES_TABLE = _ASCII_LOOKUP.tobytes() + bytes(128)


@functools.cache
def _bmp_lookup() -> npt.NDArray[np.uint32]:
    """Folded code point of every character of the Basic Multilingual Plane.

    Built once, the first time a long non-ASCII text is folded (a few tens of
    milliseconds): a numpy gather over it is several times faster than
    `str.translate`, which makes one dict lookup per character as soon as a
    text holds a single non-ASCII character. Han characters are left in
    Traditional here (`_simplified_lookup` finishes them), so that OpenCC is
    loaded only where Han text is folded.
    """
    return np.fromiter((_fold_basic(cp) for cp in range(_BMP)), dtype=np.uint32, count=_BMP)


@functools.cache
def _simplified_lookup() -> npt.NDArray[np.uint32]:
    """Traditional -> Simplified over the Basic Multilingual Plane (identity elsewhere),
    applied after `_bmp_lookup` to texts with Han characters."""
    lookup = np.arange(_BMP, dtype=np.uint32)
    table = traditional_to_simplified()
    lookup[np.array(list(table.keys()), dtype=np.intp)] = np.array(list(table.values()), dtype=np.uint32)
    return lookup




def is_word_char(char: str) -> bool:
    """Letters, digits and spacing marks: what folded words are made of."""
    return _TABLE[ord(char)] not in (SPACE, DELETED)


def fold_chars(text: str) -> str:
    """Fold `text` one character for one character (separators become spaces,
    invisible characters NUL); nothing is collapsed."""
    return text.translate(_TABLE)


def fold_words(text: str) -> list[str]:
    """The folded words of a short text (a rule term, a gap between two hits);
    each Han or kana character is a word."""
    chars = fold_chars(text).replace(DELETED, "")
    if not text.isascii() and _UNSPACED.search(chars):
        chars = _UNSPACED.sub(r" \g<0> ", chars)
    return chars.split()


def _entity_edits(original: str, entity_ends: dict[int, int]) -> list[Edit]:
    edits = []
    for match in _ENTITY.finditer(original):
        raw = f"&{match.group(1)};"
        decoded = html.unescape(raw)
        if decoded == raw:
            continue  # a name HTML does not know: leave the text alone
        start, end = match.span()
        code = ord(_TABLE[ord(decoded)]) if len(decoded) == 1 else _SPACE_CP
        edits.append((start, end, code))
        entity_ends[start] = end
    return edits


def _hyphen_break_edits(original: str, join: bool) -> tuple[list[Edit], bool]:
    """Edits that join words broken across lines, and whether any plain hyphen did that."""
    edits: list[Edit] = []
    found = False
    for hyphen in "-" if original.isascii() else _HYPHENS:  # the others are not ASCII
        position = original.find(hyphen)
        while position != -1:
            # Most hyphens join words on one line ("co-operation"): skip them cheaply.
            tail = (
                _BREAK_TAIL.match(original, position + 1) if original[position + 1 : position + 2].isspace() else None
            )
            if (
                tail is not None
                and position > 0
                and tail.end() < len(original)
                and is_word_char(original[position - 1])
                and is_word_char(original[tail.end()])
            ):
                soft = hyphen == SOFT_HYPHEN
                found = found or not soft
                if soft or join:
                    edits.append((position, tail.end(), _DELETED_CP))
            position = original.find(hyphen, position + 1)
    return edits, found


class _NotFoldableToAscii(Exception):
    """Raised by the codec error handler below to leave `_fold_to_ascii`."""


def _fold_non_ascii(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the folded characters of a run ASCII cannot encode, as
    long as they are ASCII themselves (`é` -> `e`, `’` -> ` `) and none is dropped."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    folded = error.object[error.start : error.end].translate(_TABLE)
    if not folded.isascii() or DELETED in folded:
        raise _NotFoldableToAscii
    return folded, error.end


_ASCII_FOLD_ERRORS = "press-monitor-fold-to-ascii"
_NON_ASCII = re.compile("[^\x00-\x7f]")
# Beyond about this many non-ASCII characters the numpy path is as fast (measured on 1 KB texts).
_MAX_NON_ASCII = 8
codecs.register_error(_ASCII_FOLD_ERRORS, _fold_non_ascii)


def _fold_to_ascii(original: str) -> str | None:
    """`fold_chars(original)` if it is pure ASCII with nothing deleted (English press
    text with a few accents and curly quotes), else None.

    Encoding hands only the rare non-ASCII characters to Python; the rest is one
    `bytes.translate`, several times faster than `str.translate`, which does a dict
    lookup per character once a text holds a single non-ASCII character. Each
    handed-over character costs about half a microsecond, so text with more than
    a few (French, Spanish) is left to the vectorized path.
    """
    if not original.isascii() and len(original) - len(original.encode("ascii", "ignore")) > _MAX_NON_ASCII:
        return None
    try:
        raw = original.encode("ascii", _ASCII_FOLD_ERRORS)
    except _NotFoldableToAscii:
        return None
    return raw.translate(_ASCII_BYTES_TABLE).decode("ascii")


def _fold_beyond_codec(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the folded characters of a run the codec cannot encode
    (`’` -> ` ` in Latin-1, `é` -> `e` in cp1251)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    # The encoder raises UnicodeEncodeError itself if the codec cannot encode these either.
    return error.object[error.start : error.end].translate(_TABLE), error.end


_CODEC_FOLD_ERRORS = "press-monitor-fold-in-codec"
codecs.register_error(_CODEC_FOLD_ERRORS, _fold_beyond_codec)
# Single-byte codecs that hold a script's letters and their folded forms: French,
# Spanish and other Latin-script text, Russian and other Cyrillic, Arabic.
# Punctuation Latin-1 lacks, frequent in press text: stand-ins that fold alike (to a space).
_LATIN1_STAND_INS = (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2013", "-"), ("\u2014", "-"))
_NOT_IN_CODEC = 0x41  # "A": folded text never holds it, so it marks a byte that folds beyond the codec


@functools.cache
def _codec_table(codec: str) -> bytes:
    """`bytes.translate` table folding text encoded in `codec`, within `codec`."""
    table = bytearray(range(256))
    for byte in range(256):
        try:
            char = bytes([byte]).decode(codec)
        except UnicodeDecodeError:
            continue  # no character: never produced by encoding
        try:
            folded = chr(fold_codepoint(ord(char))).encode(codec)
        except UnicodeEncodeError:
            folded = bytes([_NOT_IN_CODEC])  # Latin-1's µ folds to Greek μ
        table[byte] = folded[0]
    table[0] = 0  # a NUL here is a character the error handler dropped (a NUL in the text is declined)
    return bytes(table)


def _fold_in_codec(original: str) -> str | None:
    """`fold_chars(original)` for text in Latin, Cyrillic or Arabic script (with a
    few characters from elsewhere), else None.

    The same trick as `_fold_to_ascii` with a single-byte codec of the text's
    script: encode, one `bytes.translate`, decode. About as fast as the ASCII
    path, where `str.translate` and the numpy path cost several times more.
    The codec is chosen by the first character beyond ASCII; text with a
    character the codec cannot fold (Han, or another script) is declined.
    """
    first = _NON_ASCII.search(original)
    if first is None or DELETED in original:
        return None
    script = first.group()
    if script >= "\u3005" and _UNSPACED.match(script):
        return None  # Han
    if "\u0400" <= script <= "\u04ff":
        codec, text = "cp1251", original
    elif "\u0600" <= script <= "\u06ff":
        codec, text = "cp1256", original
    else:
        codec, text = "latin-1", original
        for char, stand_in in _LATIN1_STAND_INS:
            if char in text:
                text = text.replace(char, stand_in)
    try:
        raw = text.encode(codec, _CODEC_FOLD_ERRORS)
    except UnicodeEncodeError:  # a character that folds beyond the codec
        return None
    folded = raw.translate(_codec_table(codec))
    if _NOT_IN_CODEC in folded:
        return None
    return folded.decode(codec)


def _collapse_with_shift_deleting(chars: str) -> tuple[str, list[int]]:
    """`_collapse_with_shift` for characters some of which are deleted (NUL)."""
    deleted: list[int] = []
    position = chars.find(DELETED)
    while position != -1:
        deleted.append(position)
        position = chars.find(DELETED, position + 1)
    collapsed, live_shift = _collapse_with_shift(chars.replace(DELETED, ""))
    removed: list[int] = []
    passed = 0  # deleted characters before the one being placed
    for number, kept_before in enumerate(live_shift):
        live_position = kept_before + number  # among the characters left after deleting
        while passed < len(deleted) and deleted[passed] <= live_position + passed:
            passed += 1
        removed.append(live_position + passed)
    merged = sorted(deleted + removed)
    return collapsed, [position - number for number, position in enumerate(merged)]


def _keep_mask(codes: npt.NDArray[np.unsignedinteger], has_deleted: bool = True) -> npt.NDArray[np.bool_]:
    """Which folded characters the folded view keeps (mirrors `_collapse`).

    Deleted characters go, and of each run of spaces only the first stays.
    """
    if has_deleted:
        alive = codes != _DELETED_CP
        live = codes[alive]
        full = np.zeros(len(codes), dtype=bool)
        full[np.flatnonzero(alive)[_keep_mask(live, has_deleted=False)]] = True
        return full
    is_space = codes == _SPACE_CP
    keep = np.empty(len(codes), dtype=bool)
    if len(codes):
        keep[0] = True
        np.logical_not(is_space[1:] & is_space[:-1], out=keep[1:])
    return keep


def _collapse(chars: str) -> str:
    """The folded view of 1:1 folded characters: NULs dropped, runs of spaces made one."""
    if DELETED in chars:
        chars = chars.replace(DELETED, "")
    return _SPACE_RUN.sub(SPACE, chars) if "  " in chars else chars


def _collapse_with_shift(chars: str) -> tuple[str, list[int]]:
    """`_collapse` of characters with nothing deleted, and `FoldedText.shift` for it.

    The removed characters are the second and later spaces of each run. One
    `str.split` on two spaces finds them all: each cut between two pieces is
    two spaces, of which the first is the run's one kept space unless the piece
    before the cut is empty (the run started earlier), and a piece that starts
    with a space (a run of odd length) loses that space too. Prose has a dozen
    runs per thousand characters (`, `, `.\n\n`), so the loop is short, and
    mapping offsets back (which nearly every scanned text needs) comes for free.
    """
    pieces = chars.split("  ")
    if len(pieces) == 1:
        return chars, []
    kept = [pieces[0]]
    shift: list[int] = []
    count = len(pieces[0])  # characters kept so far
    run_open = False  # the last character kept is a space, and the cut continues its run
    for piece in pieces[1:]:
        if run_open:
            shift.append(count)  # the cut's first space
        else:
            count += 1
            kept.append(SPACE)
        shift.append(count)  # the cut's second space
        if piece and piece[0] == SPACE:
            shift.append(count)
            piece = piece[1:]
        kept.append(piece)
        count += len(piece)
        run_open = not piece
    return "".join(kept), shift


class FoldedText:
    """The folded view of one original text, and the way back to it.

    `text` starts and ends with a space, and words are separated by exactly one.
    `original_span` maps a range of `text` to the original characters.
    """

    __slots__ = (
        "_chars",
        "_keep",
        "_positions",
        "_removed",
        "_shift",
        "entity_ends",
        "has_hyphen_breaks",
        "original",
        "plain",
        "plain_positions",
        "text",
    )

    def __init__(
        self,
        original: str,
        text: str,
        *,
        has_hyphen_breaks: bool,
        has_deleted: bool,
        entity_ends: dict[int, int],
        chars: str | None = None,
        keep: npt.NDArray[np.bool_] | None = None,
        shift: list[int] | None = None,
        positions: npt.NDArray[np.intp] | None = None,
    ) -> None:
        self.original = original
        self.text = text
        self.has_hyphen_breaks = has_hyphen_breaks
        self.entity_ends = entity_ends
        # A match ends right after its last folded character unless an entity or a
        # combining mark (both leave deleted characters behind) may extend it.
        self.plain = not has_deleted and not entity_ends and positions is None
        self.plain_positions = not has_deleted and not entity_ends and positions is not None
        self._chars = chars  # the 1:1 folded characters (short texts), or
        self._keep = keep  # the mask over them (long texts), or
        self._shift = shift  # the way back, already known, or
        self._positions = positions  # the original position of each character (texts with Han: spaces added)
        self._removed: list[int] | None = None

    @property
    def positions(self) -> npt.NDArray[np.intp] | None:
        """The original position of each character of the view after its leading
        space, for texts with Han and nothing deleted or decoded (a match ending
        at view character k + 1 then ends at `positions.item(k) + 1`); else None."""
        return self._positions if self.plain_positions else None

    def shift(self) -> list[int]:
        """`shift[i]` = how many kept characters precede the i-th removed position.

        The view's character k came from original position
        `k + bisect_right(shift, k)`. Computed on first use: only texts with a
        match ever need it.
        """
        if self._shift is None:
            keep = self._keep
            if keep is None:
                chars = self._chars or ""
                codes = np.frombuffer(chars.encode("utf-32-le", "surrogatepass"), dtype="<u4")
                keep = _keep_mask(codes, DELETED in chars)
            removed = np.flatnonzero(~keep)
            removed -= np.arange(removed.size)
            self._shift = removed.tolist()
        return self._shift

    def _offsets(self) -> list[int]:
        """Original positions the folded view dropped (sorted)."""
        if self._removed is None:
            self._removed = [kept_before + i for i, kept_before in enumerate(self.shift())]
        return self._removed

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original `[start, end)` of `text[start:end]`, which starts and ends with
        a word character (as every match does)."""
        if self._positions is not None:
            first = self._positions.item(start - 1)  # the view's first character is padding
            last = self._positions.item(end - 2)
        else:
            shift = self.shift()
            first = start - 1
            first += bisect.bisect_right(shift, first)
            last = end - 2
            last += bisect.bisect_right(shift, last)
        stop = self.entity_ends.get(last, last + 1) if self.entity_ends else last + 1
        original = self.original
        if not self.plain:
            # Keep trailing combining marks (decomposed accents) with their letter.
            while stop < len(original) and unicodedata.category(original[stop]) in ("Mn", "Me"):
                stop += 1
        return first, stop

    def count_words(self, start: int, stop: int) -> int:
        """How many folded words lie in the original `[start, stop)`: the distance
        `within = N` measures, so punctuation and entities never count as words."""
        if self._positions is not None:
            begin, end = np.searchsorted(self._positions, (start, stop)).tolist()
            return len(self.text[begin + 1 : end + 1].split())
        removed = self._offsets()
        begin = start - bisect.bisect_left(removed, start)
        end = stop - bisect.bisect_left(removed, stop)
        return len(self.text[begin + 1 : end + 1].split())


def _apply_to_codes(codes: np.ndarray, edits: list[Edit]) -> None:
    """`_apply_to_string` for a code-point array, in place: each edit's code at its
    start, the rest of its span deleted."""
    for start, end, code in _in_order(edits):
        codes[start] = code
        codes[start + 1 : end] = _DELETED_CP


def _in_order(edits: list[Edit]) -> list[Edit]:
    """Edits sorted by position; should two ever overlap, the later one is dropped
    rather than letting it corrupt offsets."""
    result: list[Edit] = []
    position = 0
    for edit in sorted(edits):
        if edit[0] >= position:
            result.append(edit)
            position = edit[1]
    return result


def _apply_to_string(chars: str, edits: list[Edit]) -> str:
    pieces: list[str] = []
    position = 0
    for start, end, code in _in_order(edits):
        pieces.append(chars[position:start])
        pieces.append(chr(code) + DELETED * (end - start - 1))
        position = end
    pieces.append(chars[position:])
    return "".join(pieces)


def _fold_codes(original: str, edits: list[Edit]) -> tuple[npt.NDArray[np.unsignedinteger], str]:
    """Folded code points of a long text as a writable array, and its encoding."""
    if original.isascii() and all(code < 128 for _, _, code in edits):
        raw = np.frombuffer(original.encode("ascii"), dtype=np.uint8)
        return _ASCII_LOOKUP.take(raw), "ascii"
    raw32 = np.frombuffer(original.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    codes = _bmp_lookup().take(raw32, mode="clip")
    if raw32.size and int(raw32.max()) >= _BMP:  # emoji and other astral characters
        for position in np.flatnonzero(raw32 >= _BMP).tolist():
            codes[position] = ord(_TABLE[int(raw32[position])])
    return codes, "utf-32-le"


def fold_text(original: str, *, join_hyphen_breaks: bool = False) -> FoldedText:
    """Fold one text for matching (see the module docstring for what folds)."""
    entity_ends: dict[int, int] = {}
    edits = _entity_edits(original, entity_ends) if "&" in original else []
    if "-" in original or not original.isascii():  # ASCII text without "-" has no hyphen at all
        breaks, has_hyphen_breaks = _hyphen_break_edits(original, join_hyphen_breaks)
        edits += breaks
    else:
        has_hyphen_breaks = False
    ascii_chars = None if edits else _fold_to_ascii(original)
    # French, Spanish, Russian, Arabic press text; it declines text with Han.
    narrow_chars = None if edits or ascii_chars is not None else _fold_in_codec(original)
    if ascii_chars is None and narrow_chars is None and (
        _UNSPACED.search(original) or any(is_unspaced(chr(code)) for *_, code in edits)
    ):
        return _fold_unspaced(original, edits, has_hyphen_breaks, entity_ends)
    chars_1to1 = ascii_chars if ascii_chars is not None else narrow_chars
    if chars_1to1 is not None:  # the common case: only runs of spaces to collapse (and marks to drop)
        has_deleted = narrow_chars is not None and DELETED in narrow_chars  # ASCII text has none
        if has_deleted:
            collapsed, shift = _collapse_with_shift_deleting(chars_1to1)
        else:
            collapsed, shift = _collapse_with_shift(chars_1to1)
        return FoldedText(
            original,
            f" {collapsed} ",
            has_hyphen_breaks=has_hyphen_breaks,
            has_deleted=has_deleted,
            entity_ends=entity_ends,
            shift=shift,
        )
    if len(original) < _NUMPY_MIN_LENGTH:
        chars = fold_chars(original)
        if edits:
            chars = _apply_to_string(chars, edits)
        has_deleted = DELETED in chars
        text = f" {_collapse(chars)} "
        return FoldedText(
            original,
            text,
            has_hyphen_breaks=has_hyphen_breaks,
            has_deleted=has_deleted,
            entity_ends=entity_ends,
            chars=chars,
        )
    codes, encoding = _fold_codes(original, edits)
    _apply_to_codes(codes, edits)
    # ASCII has nothing to delete; only edits could have deleted something there.
    has_deleted = bool(edits or encoding != "ascii") and not codes.all()
    keep = _keep_mask(codes, has_deleted)
    text = f" {codes[keep].tobytes().decode(encoding, 'surrogatepass')} "
    return FoldedText(
        original,
        text,
        has_hyphen_breaks=has_hyphen_breaks,
        has_deleted=has_deleted,
        entity_ends=entity_ends,
        keep=keep,
    )


def _fold_unspaced(original: str, edits: list[Edit], has_hyphen_breaks: bool, entity_ends: dict[int, int]) -> FoldedText:
    """`fold_text` for a text with Han or kana: every such character becomes a word.

    The view is no longer a subsequence of the original (spaces are added
    between Han characters), so the original position of each of its
    characters is kept instead of the positions removed. Words are the folded
    letters and digits; one space goes between two of them wherever the
    original had a separator between them or either is Han.
    """
    if len(original) < _NUMPY_MIN_LENGTH // 2:
        return _fold_unspaced_short(original, edits, has_hyphen_breaks, entity_ends)
    raw = np.frombuffer(original.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    codes = _han_lookup().take(raw, mode="clip")
    highest = int(raw.max())
    if highest >= _BMP:  # emoji, and Han beyond the Basic Multilingual Plane
        for position in np.flatnonzero(raw >= _BMP).tolist():
            codes[position] = fold_codepoint(int(raw[position]))
    _apply_to_codes(codes, edits)
    has_deleted = np.count_nonzero(codes) < codes.size  # a NUL: something dropped
    if has_deleted:
        live = (codes != _DELETED_CP).nonzero()[0]  # original positions of what is not dropped
        live_codes = codes[live]
        in_word = (live_codes != _SPACE_CP).nonzero()[0]  # ... of which letters and digits, as indexes into `live`
        origins = live[in_word]
    else:
        live_codes = codes
        in_word = origins = (codes != _SPACE_CP).nonzero()[0]
    letters = live_codes[in_word]
    unspaced = _unspaced_lookup().take(letters, mode="clip")
    if highest >= 0x20000:
        unspaced |= (letters >= 0x20000) & (letters <= 0x3134F)
    # A space after each letter that is followed by a separator, or is Han, or precedes Han.
    space_after = np.zeros(letters.size, dtype=np.intp)
    space_after[:-1] = (in_word[1:] - in_word[:-1] > 1) | unspaced[:-1] | unspaced[1:]
    repeats = space_after + 1
    view = np.repeat(letters, repeats)
    spaces = np.flatnonzero(space_after)  # the k-th space (from 0) follows letter spaces[k], k spaces before it
    spaces += np.arange(1, spaces.size + 1)
    view[spaces] = _SPACE_CP
    text = f" {view.astype('<u4', copy=False).tobytes().decode('utf-32-le', 'surrogatepass')} "
    return FoldedText(
        original,
        text,
        has_hyphen_breaks=has_hyphen_breaks,
        has_deleted=has_deleted,
        entity_ends=entity_ends,
        positions=np.repeat(origins, repeats),  # a space takes the position of the letter before it
    )


def _fold_unspaced_short(
    original: str, edits: list[Edit], has_hyphen_breaks: bool, entity_ends: dict[int, int]
) -> FoldedText:
    """`_fold_unspaced` of a headline: the same view, built with str methods (numpy's
    per-call costs would be most of the time)."""
    chars = fold_chars(original)
    if edits:
        chars = _apply_to_string(chars, edits)
    pieces: list[str] = []
    positions: list[int] = []
    gap = False  # a separator since the last letter
    previous_unspaced = False
    for position, char in enumerate(chars):
        if char == SPACE:
            gap = True
            continue
        if char == DELETED:
            continue
        unspaced = "\u4e00" <= char <= "\u9fff" or (char >= "\u3005" and _UNSPACED.match(char) is not None)
        if pieces and (gap or unspaced or previous_unspaced):
            pieces.append(SPACE)
            positions.append(positions[-1])
        pieces.append(char)
        positions.append(position)
        gap, previous_unspaced = False, unspaced
    return FoldedText(
        original,
        f" {''.join(pieces)} ",
        has_hyphen_breaks=has_hyphen_breaks,
        has_deleted=DELETED in chars,
        entity_ends=entity_ends,
        positions=np.array(positions, dtype=np.intp),
    )


@functools.cache
def _han_lookup() -> npt.NDArray[np.uint32]:
    """`fold_codepoint` over the Basic Multilingual Plane: `_bmp_lookup`, then Traditional -> Simplified."""
    lookup = _bmp_lookup().copy()
    within = lookup < _BMP  # a few compatibility ideographs fold to Han beyond the plane
    lookup[within] = _simplified_lookup()[lookup[within]]
    return lookup


@functools.cache
def _unspaced_lookup() -> npt.NDArray[np.bool_]:
    """Which code points of the Basic Multilingual Plane are Han or kana (index 0xFFFF: astral, not)."""
    codes = np.arange(_BMP, dtype=np.uint32)
    mask = np.zeros(_BMP, dtype=bool)
    for low, high in _UNSPACED_RANGES:
        mask |= (codes >= low) & (codes <= high)
    return mask
