"""One sanitizer per kind of output, each against hostile feed text."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from markupsafe import Markup

from monitor import logs
from monitor.present.sanitize import html_text, log_value, one_line, printable, safe_href, xml_text

HOSTILE = "Breaking\r\nBcc: x@example.net\t\x00\x1b[31mred\u2028\u202eevil\x85"


def test_a_terminal_line_has_no_breaks_and_shows_controls_escaped() -> None:
    assert printable(HOSTILE) == "Breaking  Bcc: x@example.net \\x00\\x1b[31mred\\u2028\u202eevil\\x85"
    assert printable(None) == printable("") == ""


def test_a_log_value_keeps_its_line_and_shows_every_control() -> None:
    assert log_value(HOSTILE) == "Breaking\\r\\nBcc: x@example.net\\t\\x00\\x1b[31mred\\u2028\u202eevil\\x85"
    assert log_value("plain") == "plain"


@pytest.mark.parametrize("fmt", ["kv", "json"])
def test_the_logger_escapes_every_string_field(fmt: str) -> None:
    out = StringIO()
    logs.configure("INFO", fmt, stream=out)
    try:
        logs.get("test").info("item", title="a\nforged=line")
    finally:
        logs.configure("WARNING")
    (line,) = out.getvalue().splitlines()  # the newline did not start a line of its own
    assert "forged=line" in line
    if fmt == "json":
        assert json.loads(line)["title"] == "a\\nforged=line"


def test_an_email_header_is_one_printable_line_cut_at_a_limit() -> None:
    assert one_line(HOSTILE) == "Breaking Bcc: x@example.net [31mred evil"
    assert one_line("word " * 10, 12) == "word word w…"
    assert one_line(None) == ""


def test_html_text_escapes_markup_and_quotes() -> None:
    out = html_text('<b onclick="x">\'&')
    assert isinstance(out, Markup) and out == "&lt;b onclick=&#34;x&#34;&gt;&#39;&amp;"
    assert html_text(None) == ""


@pytest.mark.parametrize(("url", "href"), [
    ("https://news.example/a?x=1&y=2", "https://news.example/a?x=1&y=2"),
    (" HTTP://news.example/ ", "HTTP://news.example/"),
    ("javascript:alert(1)", None), ("data:text/html,x", None), ("//news.example/a", None),
    ("http://[::1", None), ("", None), (None, None),
])
def test_only_http_links_are_made(url: str | None, href: str | None) -> None:
    assert safe_href(url) == href


def test_xml_text_drops_what_xml_cannot_carry() -> None:
    assert xml_text("Form\x0cfeed\x01 title \x1b[31m UPR\ufffe\ud800") == "Formfeed title [31m UPR"
    assert xml_text(42) == "42"
