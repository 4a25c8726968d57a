"""The replay retriever: argument expansion, reading, decoding and dispatch."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from monitor.ingest import FixtureError, iter_fixture_paths, load_fixture, read_fixture

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>MFA</title><link>https://mfa.example/</link>
<item><title>One</title><link>https://mfa.example/1</link><description>First.</description></item>
<item><title>Two</title><link>https://mfa.example/2</link><description>Second.</description></item>
</channel></rss>"""

CYRILLIC = (
    "Заявление Министерства иностранных дел\n"
    "МИНСК, 4 ноября - Заместитель министра иностранных дел провёл встречу с Верховным комиссаром "
    "ООН по правам человека в Женеве на полях Универсального периодического обзора.\n"
    "Стороны обменялись мнениями о сотрудничестве и перспективах взаимодействия.\n"
)


def _touch(path: Path, data: bytes = b"Headline\nBody text.\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_directory_expansion_is_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    for name in ["b.txt", "a.xml", "sub/c.rss", "sub/z/d.atom", "sub/b.RDF", "e.json", ".hidden.txt", ".git/x.txt", "c"]:
        _touch(tmp_path / name)
    found = [p.relative_to(tmp_path).as_posix() for p in iter_fixture_paths([str(tmp_path)]) if p is not None]
    assert found == ["a.xml", "b.txt", "sub/b.RDF", "sub/c.rss", "sub/z/d.atom"]


def test_arguments_keep_their_order_and_dash_is_stdin(tmp_path: Path) -> None:
    one = _touch(tmp_path / "one.txt")
    folder = tmp_path / "dir"
    two = _touch(folder / "two.xml")
    assert list(iter_fixture_paths([str(folder), "-", str(one)])) == [two, None, one]


def test_unknown_extension_named_explicitly_fails_before_anything_is_yielded(tmp_path: Path) -> None:
    good = _touch(tmp_path / "good.txt")
    bad = _touch(tmp_path / "notes.json")
    paths = iter_fixture_paths([str(good), str(bad)])
    with pytest.raises(FixtureError) as caught:
        next(paths)
    assert str(caught.value).startswith(f"{bad}: unknown fixture type '.json'")


def test_missing_argument(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="no such file or directory"):
        list(iter_fixture_paths([str(tmp_path / "nope.txt")]))


def test_read_fixture_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "gone.txt"
    with pytest.raises(FixtureError) as caught:
        read_fixture(missing)
    assert str(caught.value) == f"{missing}: no such file"


def test_read_fixture_directory(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="is a directory"):
        read_fixture(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_read_fixture_unreadable_file(tmp_path: Path) -> None:
    locked = _touch(tmp_path / "locked.txt")
    locked.chmod(0)
    try:
        with pytest.raises(FixtureError, match="permission denied"):
            read_fixture(locked)
    finally:
        locked.chmod(0o600)


def test_read_fixture_permission_error_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = _touch(tmp_path / "locked.txt")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(FixtureError) as caught:
        read_fixture(locked)
    assert str(caught.value) == f"{locked}: permission denied"


def test_text_fixture_identity() -> None:
    data = b"Minister meets High Commissioner\nGENEVA (Reuters) - The minister met the High Commissioner.\n"
    (item,) = load_fixture(Path("seeds/x.txt"), data)
    assert item.source == "replay:files"
    assert item.guid == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (item.path, item.url, item.flags) == ("seeds/x.txt", None, ())
    assert item.title == "Minister meets High Commissioner"


def test_utf8_bom_is_not_a_guess() -> None:
    (item,) = load_fixture(Path("x.txt"), b"\xef\xbb\xbfHeadline\nBody.")
    assert item.title == "Headline" and item.flags == ()


def test_windows_1251_text_is_detected_and_flagged(tmp_path: Path) -> None:
    path = _touch(tmp_path / "mid.txt", CYRILLIC.encode("cp1251"))
    (item,) = load_fixture(path, read_fixture(path))
    assert item.title == "Заявление Министерства иностранных дел"
    assert "Верховным комиссаром ООН" in item.text
    assert item.flags == ("encoding-guessed",)


@pytest.mark.parametrize("data", [bytes(range(256)) * 8, b"\x00\x01\x02\x03" * 64], ids=["all-bytes", "nul-bytes"])
def test_undecodable_text_is_a_fixture_error(data: bytes) -> None:
    with pytest.raises(FixtureError) as caught:
        load_fixture(Path("seeds/x.txt"), data)
    assert str(caught.value) == "seeds/x.txt: not valid UTF-8 and no encoding could be detected"


@pytest.mark.parametrize("data", [b"", b" \n\n "])
def test_empty_text_is_a_fixture_error(data: bytes) -> None:
    with pytest.raises(FixtureError, match="empty file"):
        load_fixture(Path("x.txt"), data)


def test_unknown_extension_in_load_fixture() -> None:
    with pytest.raises(FixtureError, match="unknown fixture type '.pdf'"):
        load_fixture(Path("page.pdf"), b"%PDF-1.4")


def test_an_html_page_without_article_text_is_a_fixture_error() -> None:
    with pytest.raises(FixtureError, match="page.html: no article text found"):
        load_fixture(Path("page.html"), b"<html></html>")


def test_feed_fixture_takes_its_source_from_the_feed_link() -> None:
    items = load_fixture(Path("fixtures/mfa.rss"), FEED)
    assert [item.title for item in items] == ["One", "Two"]
    assert {item.source for item in items} == {"replay:https://mfa.example/"}
    assert {item.path for item in items} == {"fixtures/mfa.rss"}


def test_feed_fixture_without_link_uses_the_file_name() -> None:
    body = FEED.replace(b"<link>https://mfa.example/</link>", b"")
    items = load_fixture(Path("fixtures/mfa.xml"), body)
    assert {item.source for item in items} == {"replay:mfa.xml"}


def test_broken_feed_fixture_is_a_fixture_error() -> None:
    with pytest.raises(FixtureError) as caught:
        load_fixture(Path("fixtures/page.xml"), b"<!DOCTYPE html><html><body>Oops</body></html>")
    assert str(caught.value) == "fixtures/page.xml: not a feed: looks like an HTML page"


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf", b" \r\n\t"])
def test_stdin_starting_with_angle_bracket_is_a_feed(prefix: bytes) -> None:
    items = load_fixture(None, prefix + FEED)
    assert [item.title for item in items] == ["One", "Two"]
    assert {item.path for item in items} == {"-"}


def test_stdin_text() -> None:
    (item,) = load_fixture(None, b"Headline\nSome body text about the ILO.")
    assert (item.title, item.text, item.path, item.source) == (
        "Headline", "Some body text about the ILO.", "-", "replay:files",
    )  # fmt: skip


def test_stdin_errors_name_stdin() -> None:
    with pytest.raises(FixtureError) as caught:
        load_fixture(None, b"<html><body>x</body></html>")
    assert str(caught.value).startswith("-: not a feed")
