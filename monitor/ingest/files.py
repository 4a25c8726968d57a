"""The replay retriever: fixture files on disk (or stdin) become Items.

Replay is how every pipeline test and the bench feed the one pipeline, so a
fixture must become the same Item wherever it lives: a text fixture's guid is
the hash of its bytes, not of its path.

Expanding arguments, reading bytes and turning bytes into Items are separate
steps, so the caller decides how to report a bad file and the decoding can be
tested without touching the disk.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

import charset_normalizer

from monitor.errors import InputError
from monitor.ingest.article import extract_article
from monitor.ingest.feed import ENCODING_GUESSED, FeedError, parse_feed
from monitor.ingest.textfile import parse_text
from monitor.items import Item

__all__ = [
    "FEED_SUFFIXES",
    "HTML_SUFFIXES",
    "STDIN",
    "TEXT_SUFFIXES",
    "FixtureError",
    "iter_fixture_paths",
    "load_fixture",
    "read_fixture",
]

TEXT_SUFFIXES: Final = frozenset({".txt"})
FEED_SUFFIXES: Final = frozenset({".xml", ".rss", ".atom", ".rdf"})
HTML_SUFFIXES: Final = frozenset({".html", ".htm"})  # an article page: its main text, as the daemon extracts it
_KNOWN: Final = TEXT_SUFFIXES | FEED_SUFFIXES | HTML_SUFFIXES
STDIN: Final = "-"
TEXT_SOURCE: Final = "replay:files"
_HAS_WORD: Final = re.compile(r"[^\W_]")


class FixtureError(InputError):
    """A fixture that cannot be replayed; str() is "path: what is wrong"."""

    def __init__(self, path: Path | str | None, message: str) -> None:
        super().__init__(path, message)
        self.path = STDIN if path is None else str(path)
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def iter_fixture_paths(args: Sequence[str]) -> Iterator[Path | None]:
    """Expand command-line arguments into fixture files; None stands for stdin.

    Every argument is checked before the first path is yielded, so a typo in
    the last argument fails the run before anything was replayed. Directories
    are walked recursively in sorted order, keeping known fixture types and
    skipping hidden entries; a file named explicitly must have a known type.
    """
    checked: list[Path | None] = []
    for arg in args:
        if arg == STDIN:
            checked.append(None)
            continue
        path = Path(arg)
        if path.is_dir():
            checked.append(path)
        elif not path.exists():
            raise FixtureError(path, "no such file or directory")
        elif path.suffix.lower() not in _KNOWN:
            raise FixtureError(path, f"unknown fixture type {path.suffix or '(no extension)'!r}; {_expected()}")
        else:
            checked.append(path)
    for path in checked:
        if path is not None and path.is_dir():
            yield from _walk(path)
        else:
            yield path


def _walk(root: Path) -> Iterator[Path]:
    found: list[tuple[tuple[str, ...], Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise_walk_error):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath)
        rel = base.relative_to(root).parts
        for name in filenames:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in _KNOWN:
                found.append(((*rel, name), base / name))
    found.sort(key=lambda pair: pair[0])
    for _, path in found:
        yield path


def _raise_walk_error(error: OSError) -> None:
    raise FixtureError(error.filename, _describe(error)) from error


def _expected() -> str:
    return "expected one of " + ", ".join(sorted(_KNOWN))


def _describe(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, IsADirectoryError):
        return "is a directory"
    return error.strerror or str(error)


def read_fixture(path: Path | None) -> bytes:
    """The fixture's bytes (stdin for None); OSError becomes FixtureError."""
    try:
        if path is None:
            return sys.stdin.buffer.read()
        return path.read_bytes()
    except OSError as error:
        raise FixtureError(path, _describe(error)) from error


def load_fixture(path: Path | None, data: bytes) -> list[Item]:
    """Turn one fixture's bytes into Items: one for a text file, one per feed entry."""
    where = STDIN if path is None else str(path)
    if path is not None and path.suffix.lower() in HTML_SUFFIXES:
        return [_load_article(path, where, data)]
    if _is_feed(path, data):
        return _load_feed(path, where, data)
    text, guessed = _decode_text(path, data)
    if not _HAS_WORD.search(text):
        raise FixtureError(path, "no text in file" if data.strip() else "empty file")
    item = parse_text(text, source=TEXT_SOURCE, guid="sha256:" + hashlib.sha256(data).hexdigest(), path=where)
    return [item.replace(flags=(ENCODING_GUESSED,))] if guessed else [item]


def _is_feed(path: Path | None, data: bytes) -> bool:
    if path is None:  # stdin: a feed is XML, and XML starts with "<"
        return data.lstrip(b" \t\r\n\xef\xbb\xbf").startswith(b"<")
    suffix = path.suffix.lower()
    if suffix not in _KNOWN:
        raise FixtureError(path, f"unknown fixture type {suffix or '(no extension)'!r}; {_expected()}")
    return suffix in FEED_SUFFIXES


def _load_feed(path: Path | None, where: str, data: bytes) -> list[Item]:
    name = STDIN if path is None else path.name
    try:
        parsed = parse_feed(data, {}, source=f"replay:{name}")
    except FeedError as error:
        raise FixtureError(path, str(error)) from error
    source = f"replay:{parsed.link}" if parsed.link else f"replay:{name}"
    return [item.replace(source=source, path=where) for item in parsed.items]


def _load_article(path: Path, where: str, data: bytes) -> Item:
    """An article page, extracted as the daemon extracts a fetched article
    (`monitor.ingest.article`): the headline the page gives, its main text."""
    article = extract_article(data, path.resolve().as_uri())
    if article is None:
        raise FixtureError(path, "no article text found in the page")
    return Item(source=TEXT_SOURCE, guid="sha256:" + hashlib.sha256(data).hexdigest(),
                title=article.title or path.stem, text=article.text, language=article.language, path=where)


def _decode_text(path: Path | None, data: bytes) -> tuple[str, bool]:
    """Decode a text fixture: UTF-8 or a UTF-16/32 byte-order mark, else a detected
    encoding (flagged as a guess). NUL characters mean binary data or UTF-16
    without a BOM, so they send the bytes to detection too.
    """
    codec = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        codec = "utf-32"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        pass
    else:
        if "\x00" not in text:
            return text, False
    best = charset_normalizer.from_bytes(data).best()
    text = str(best) if best is not None else None
    if text is None or "\x00" in text:
        raise FixtureError(path, "not valid UTF-8 and no encoding could be detected")
    return text, True
