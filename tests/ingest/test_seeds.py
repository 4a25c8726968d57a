"""The seed fixtures, read the way the pipeline reads them: load_fixture, then normalize."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from monitor.ingest import load_fixture, read_fixture
from monitor.items import Item
from monitor.normalize import normalize


def _replay(path: Path) -> tuple[Item, Item]:
    (raw,) = load_fixture(path, read_fixture(path))
    return raw, normalize(raw)


def test_seed_000_title_is_the_first_sentence_shortened(seed_path: Callable[[str], Path]) -> None:
    raw, item = _replay(seed_path("000"))
    first_paragraph = item.text.split("\n\n")[0]
    assert item.title.startswith("The Office of the United Nations High Commissioner for Human Rights (OHCHR)")
    assert "Strategic Dialogue" in item.title
    assert raw.title.endswith("…") and len(raw.title) <= 150
    assert "multilateralism" not in item.title  # not the whole first sentence
    assert first_paragraph.startswith(raw.title[:-1])  # the paragraph stays in the body


def test_seed_000_sidebar_and_comment_form_are_gone(seed_path: Callable[[str], Path]) -> None:
    _, item = _replay(seed_path("000"))
    paragraphs = item.text.split("\n\n")
    assert "Good Clothes, Fair Pay" not in item.text
    assert "Commission (Eurostat)" not in item.text
    assert "|" not in paragraphs and "|" not in item.text
    assert "Leave a Reply" not in item.text
    assert [p.split()[0] for p in paragraphs] == [
        "The", "The", "The", "Reaffirming", "Both", "OHCHR", "OHCHR", "More",
    ]  # fmt: skip


def test_seed_000_origin_from_trailer(seed_path: Callable[[str], Path]) -> None:
    _, item = _replay(seed_path("000"))
    assert item.origin == "European Union External Action"
    assert item.place is None and item.published is None


def test_seed_004_headline_skips_caption_and_dateline(seed_path: Callable[[str], Path]) -> None:
    _, item = _replay(seed_path("004"))
    assert item.title != "Photo courtesy of the MFA"
    assert item.title.startswith("Belarusian Deputy Minister of Foreign Affairs Igor Sekreta met with")
    assert "MINSK" not in item.title and "BelTA" not in item.title
    assert item.place == "Minsk"
    assert item.origin == "BelTA"
    assert item.published is None  # "4 November" has no year


def test_seed_004_text_has_no_caption_and_keeps_the_dateline(seed_path: Callable[[str], Path]) -> None:
    _, item = _replay(seed_path("004"))
    assert "Photo courtesy" not in item.text
    assert item.text.startswith("MINSK, 4 November (BelTA) - Belarusian Deputy Minister")
    assert "Türk" in item.text and "Türk" in item.title


def test_seed_004_every_paragraph_once(seed_path: Callable[[str], Path]) -> None:
    raw, item = _replay(seed_path("004"))
    distinctive = [
        "The parties exchanged views on global trends",
        "The Belarusian diplomat drew the attention",
        "The deputy minister of foreign affairs also met with Assistant Director General",
        "Igor Sekreta informed Beate Andrees",
    ]
    for sentence in distinctive:
        assert raw.text.count(sentence) == 2  # the scrape really carries them twice
        assert item.text.count(sentence) == 1, sentence
    assert len(item.text.split("\n\n")) == 5
    assert "“" in item.text and "’" in item.text  # typographic quotes are kept


def test_seed_identity_is_the_bytes(seed_path: Callable[[str], Path], tmp_path: Path) -> None:
    path = seed_path("004")
    copy = tmp_path / "elsewhere.txt"
    copy.write_bytes(path.read_bytes())
    (original,) = load_fixture(path, read_fixture(path))
    (moved,) = load_fixture(copy, read_fixture(copy))
    assert original.guid == moved.guid and original.guid.startswith("sha256:")
    assert original.source == moved.source == "replay:files"
    assert original.path == str(path) and moved.path == str(copy)


def test_normalize_is_idempotent_on_seeds(seed_path: Callable[[str], Path]) -> None:
    for prefix in ("000", "004"):
        _, item = _replay(seed_path(prefix))
        assert normalize(item) == item
