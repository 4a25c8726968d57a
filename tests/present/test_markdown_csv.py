"""Escaping for chat Markdown and neutralising spreadsheet formulas."""

from __future__ import annotations

import markdown
import pytest

from monitor.present.sanitize import csv_cell, markdown_href, markdown_text

HOSTILE = "**b** _i_ [x](https://evil.example) <img src=x onerror=alert(1)> `c` # h | t | &amp; \\ !"


def test_markdown_text_renders_as_exactly_the_text() -> None:
    html = markdown.markdown(markdown_text(HOSTILE), extensions=["markdown.extensions.tables"])
    assert html == "<p>" + HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + "</p>"


def test_markdown_href_keeps_only_http_links_whole() -> None:
    assert markdown_href("javascript:alert(1)") is None
    href = markdown_href("https://a.example/x) [y](https://evil.example")
    assert href is not None and not set("()[] <>") & set(href)
    html = markdown.markdown(f"[go]({href})")
    assert html.count("<a ") == 1 and 'href="https://a.example/x%29' in html


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_prefixed(cell: str) -> None:
    assert csv_cell(cell) == "'" + cell


def test_other_cells_are_left_alone() -> None:
    assert [csv_cell(c) for c in ("OHCHR", "", None, "a=b", " =x")] == ["OHCHR", "", "", "a=b", " =x"]
