"""Which feed entries are only a summary of their linked article, and so need it
fetched (`fulltext = "auto"`). Pure: it decides from the entries alone; the
poller does the fetching.

An entry reads as a summary when its text is short, is cut off (an ellipsis,
"[…]"), ends in a "read more" link in one of the languages the press writes
in, or is much shorter than the same feed's other entries (a feed whose entries
are all full texts but one).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from typing import Final, Literal

from monitor.items import Item
from monitor.normalize import html_to_text

__all__ = ["FulltextMode", "looks_like_summary", "wants_article"]

FulltextMode = Literal["auto", "always", "never"]

#: Text shorter than this (characters, markup removed) is a summary at best.
SHORT: Final = 600
#: Compared with the feed's median entry, an entry this much shorter is cut.
SHARE_OF_MEDIAN: Final = 0.3
#: The median says something only with this many entries.
PEERS: Final = 3
_CUT: Final = re.compile(
    r"""(?:\.\.\.|…|\[(?:\.\.\.|…)\]|\((?:\.\.\.|…)\)|[»›>]+)\s*$
    | (?:read\ more|continue\ reading|full\ (?:story|article|text)
      | lire\ la\ suite|en\ savoir\ plus|lire\ plus
      | leer\ m[aá]s|seguir\ leyendo|ver\ m[aá]s|leia\ mais|continuar\ lendo
      | weiterlesen|mehr\ lesen|читать\ далее|подробнее|阅读全文|更多|اقرأ\ المزيد|المزيد
      )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)


def _plain(text: str) -> str:
    return " ".join((html_to_text(text) if "<" in text else text).split())


def looks_like_summary(text: str, median_chars: float | None = None) -> bool:
    """`text` (an entry's, markup allowed) reads as the start of an article, not the
    article; `median_chars`: the plain length of the feed's median entry."""
    plain = _plain(text)
    if len(plain) < SHORT or _CUT.search(plain[-40:]):
        return True
    return median_chars is not None and len(plain) < SHARE_OF_MEDIAN * median_chars


def wants_article(items: Sequence[Item], mode: FulltextMode) -> list[bool]:
    """For each entry of one feed document, whether its linked article is to be fetched."""
    if mode == "never":
        return [False] * len(items)
    if mode == "always":
        return [bool(item.url) for item in items]
    lengths = [len(_plain(item.text)) for item in items]
    median = statistics.median(lengths) if len(lengths) >= PEERS else None
    return [bool(item.url) and looks_like_summary(item.text, median) for item in items]
