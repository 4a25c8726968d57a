"""Hostile documents against a real feed server: what one document may cost.

Entity expansion is bounded for whichever of feedparser's parsers reads the
document (expat, or its loose parser after an undefined entity); an item's
text, a document's entries and an item's hits are capped (see README, "Caps").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor import limits
from monitor.app import App
from monitor.config import load_config
from monitor.store.feeds import FeedStore
from monitor.store.models import ItemText, StoredHit, StoredItem
from tests.feedserver import FeedServer, entity_expansion_xml, feed_xml, many_entries_xml
from tests.pipeline.test_polling import cycle, server, write_config  # noqa: F401 - server is a fixture

X = "x" * 1_000


def _rss(prolog: str, description: str, title: str = "Expansion") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}\n<rss version="2.0"><channel><title>{title}</title>'
        "<link>https://example.org/</link><item><title>ILO statement</title><guid>bomb</guid>"
        f"<description>{description}</description></item></channel></rss>\n"
    ).encode("utf-8")


ENTITY_DOCUMENTS = {
    # the review's document, scaled down: expat refuses it, the loose parser expands it
    "loose-parser": entity_expansion_xml(value_chars=1_000, references=5_000),
    "strict-parser": entity_expansion_xml(value_chars=1_000, references=5_000, loose=False),
    # feedparser only vets declarations at the start of a line: expat reads this one as written
    "doctype-on-the-declaration-line": _rss(f'<!DOCTYPE rss [<!ENTITY a "{X}">]>', "&a;" * 5_000),
    # markup in a value ends feedparser's idea of the prolog early, so it vets nothing
    "markup-in-a-value": _rss(f'\n<!DOCTYPE rss [\n<!ENTITY m "<b>">\n<!ENTITY a "{X}">\n]>', "&a;" * 5_000),
    "billion-laughs": _rss(
        '\n<!DOCTYPE rss [\n<!ENTITY l0 "lol">\n'
        + "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">\n' for n in range(1, 8))
        + "]>", "&l7;",
    ),
    "parameter-entity": _rss(f'\n<!DOCTYPE rss [\n<!ENTITY % p "{X}">\n<!ENTITY a "{X}">\n]>', "&a;" * 5_000),
    "in-the-title": _rss(f'\n<!DOCTYPE rss [\n<!ENTITY a "{X}">\n]>', "ILO", title="&a;" * 5_000),
}


def _stored(config: Path) -> tuple[list[StoredItem], int]:
    app = App(load_config(config))
    try:
        with app.engine.connect() as conn:
            items = conn.execute(select(StoredItem.guid, StoredItem.title, ItemText.text, StoredItem.flags)
                                 .join(ItemText, ItemText.item_id == StoredItem.id)).all()
            hits = conn.execute(select(func.count()).select_from(StoredHit)).scalar_one()
        return items, hits
    finally:
        app.engine.dispose()


def _last_error(config: Path) -> str | None:
    app = App(load_config(config))
    try:
        return FeedStore(app.engine).all()[0].last_error
    finally:
        app.engine.dispose()


@pytest.mark.parametrize("name", sorted(ENTITY_DOCUMENTS))
def test_a_document_whose_entities_would_expand_it_is_a_recorded_feed_error(
    name: str, server: FeedServer, tmp_path: Path  # noqa: F811
) -> None:
    url = server.add_feed(f"/{name}.xml", ENTITY_DOCUMENTS[name])
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [url])

    report = cycle(config)

    assert [p.result for p in report.polls] == ["error"]
    assert "entit" in (report.polls[0].error or ""), report.polls[0].error
    assert "entit" in (_last_error(config) or "")
    assert _stored(config) == ([], 0)


def test_entities_that_barely_expand_a_document_are_still_read(server: FeedServer, tmp_path: Path) -> None:  # noqa: F811
    body = _rss(
        '\n<!DOCTYPE rss [\n<!ENTITY ilo "International Labour Organization">\n]>',
        "The &ilo; and the ILO met. &ilo; again.",
    )
    url = server.add_feed("/benign.xml", body)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [url])

    report = cycle(config)

    assert [p.result for p in report.polls] == ["new"]
    (item,), _ = _stored(config)
    assert item.text.count("International Labour Organization") == 2


def test_a_document_with_too_many_entries_stores_the_first_ones_and_says_so(
    server: FeedServer, tmp_path: Path  # noqa: F811
) -> None:
    url = server.add_feed("/many.xml", many_entries_xml(limits.MAX_ENTRIES + 30))
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [url])

    report = cycle(config)

    assert [(p.result, p.items) for p in report.polls] == [("new", limits.MAX_ENTRIES)]
    items, _ = _stored(config)
    assert len(items) == limits.MAX_ENTRIES
    assert {i.guid for i in items} == {f"item-{n}" for n in range(limits.MAX_ENTRIES)}  # the first ones
    assert f"only the first {limits.MAX_ENTRIES}" in (_last_error(config) or "")


def test_an_items_text_and_its_hits_are_capped(server: FeedServer, tmp_path: Path) -> None:  # noqa: F811
    huge = "The ILO said. " * (limits.MAX_TEXT_CHARS // 14 + 1000)
    url = server.add_feed("/huge.xml", feed_xml([
        {"title": "ILO " * 2_000, "guid": "huge", "description": huge},
        {"title": "OHCHR and ILO", "guid": "small", "description": "The ILO said."},
    ]))
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [url])

    report = cycle(config)

    assert [(p.result, p.new) for p in report.polls] == [("new", 2)]
    items, hits = _stored(config)
    by_guid = {i.guid: i for i in items}
    assert len(by_guid["huge"].text) <= limits.MAX_TEXT_CHARS
    assert len(by_guid["huge"].title) <= limits.MAX_TITLE_CHARS
    assert limits.TRUNCATED in by_guid["huge"].flags
    assert limits.TRUNCATED not in by_guid["small"].flags
    assert hits == limits.MAX_HITS_PER_RULE + 3  # the huge item's ILO hits, capped; the small one's three


UNICODE_CODECS = ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]
BOMS = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\x00\x00",
        "utf-32-be": b"\x00\x00\xfe\xff"}


def _wide(codec: str, how: str, title: str) -> bytes:
    """An RSS document in UTF-16/32: with a byte-order mark, with only an encoding
    declaration (feedparser's corpus: tests/encoding/utf-16le.xml…), or with neither
    (XML's autodetection from the first bytes)."""
    declared = {"bom": "utf-16" if "16" in codec else "utf-32", "declaration": codec.replace("-", "")[:-2] + codec[-2:],
                "autodetect": None}[how]
    text = feed_xml([{"title": title, "guid": title, "description": "The OHCHR said so."}]).decode()
    text = text.replace(' encoding="utf-8"', f' encoding="{declared}"' if declared else "")
    return (BOMS[codec] if how == "bom" else b"") + text.encode(codec)


def test_utf16_and_utf32_feeds_are_read_however_their_encoding_is_told(server: FeedServer, tmp_path: Path) -> None:  # noqa: F811
    titles = ["Türk statement", "ASCII only"]  # ASCII in UTF-16 is also valid UTF-8, full of NULs
    urls = {(codec, how, n): server.add_feed(f"/{codec}-{how}-{n}.xml", _wide(codec, how, title),
                                             content_type="application/rss+xml")
            for codec in UNICODE_CODECS for how in ("bom", "declaration", "autodetect") for n, title in enumerate(titles)}
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", list(urls.values()))

    report = cycle(config)

    results = {p.url: (p.result, p.error) for p in report.polls}
    assert {key: results[url] for key, url in urls.items()} == {key: ("new", None) for key in urls}
    items, _ = _stored(config)
    assert {i.title for i in items} == set(titles)
    assert not any(flags for *_, flags in items)  # nothing guessed
