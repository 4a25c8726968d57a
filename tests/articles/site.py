"""Article pages around `bodies.BODIES`, in three layouts, every one with the
furniture of a real ministry site naming OHCHR, the UPR and the ILO: a menu,
breadcrumbs, a cookie banner, a "latest news" sidebar of other headlines (with
teaser sentences), a "read also" block and a footer.

    semantic: <header><nav>, <main><article>, <aside>, <footer>
    divs:     nothing but <div>s with class names, paragraphs as <div>s and <br>s
    table:    an old CMS: layout tables, <font>, paragraphs as <p> in a <td>
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from html import escape

from tests.articles.bodies import BODIES, Body

LAYOUTS = ("semantic", "divs", "table")

MENU = ("Home", "The Ministry", "News", "Human rights and OHCHR", "Universal Periodic Review",
        "Cooperation with the ILO", "Contacts")
CRUMBS = ("Home", "Foreign policy", "Human rights (OHCHR, UPR, ILO)", "News")
COOKIES = ("This site uses cookies to measure visits. Our partners, including the OHCHR and the ILO, may "
           "embed videos. By continuing you accept them.")
LATEST = (
    ("Minister meets OHCHR regional representative", "The Minister met the OHCHR regional representative to "
     "discuss technical cooperation."),
    ("National report submitted for the Universal Periodic Review", "The report for the fourth UPR cycle was "
     "submitted to the Human Rights Council on time."),
    ("ILO Director-General received at the Ministry", "The International Labour Organization's head discussed "
     "the decent work programme with the Minister."),
    ("Consular hours during the holidays", "Consular sections will be closed on public holidays."),
)
READ_ALSO = ("Read also: Statement on cooperation with OHCHR", "Read also: The ILO and the country: 30 years",
             "Read also: Universal Periodic Review recommendations accepted")
FOOTER = ("© Ministry of Foreign Affairs. Partners: the Office of the UN High Commissioner for Human Rights "
          "(OHCHR), the Universal Periodic Review, the International Labour Organization (ILO). "
          "Reproduction permitted with a link.")


@dataclass(frozen=True, slots=True)
class Page:
    path: str  # where the site serves it: /<layout>/<slug>.html
    layout: str
    body: Body
    html: bytes


def _nav(tag: str = "nav") -> str:
    links = "".join(f'<li><a href="/{i}.html">{escape(label)}</a></li>' for i, label in enumerate(MENU))
    return f"<{tag} class=\"menu\"><ul>{links}</ul></{tag}>"


def _latest_div() -> str:
    return "".join(
        f'<div class="news-item"><div class="news-title"><a href="/news/{i}.html">{escape(t)}</a></div>'
        f'<div class="news-teaser">{escape(s)}</div></div>'
        for i, (t, s) in enumerate(LATEST)
    )


def semantic(body: Body) -> str:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in body.paragraphs)
    latest = "".join(f'<li><a href="/news/{i}.html">{escape(t)}</a><p>{escape(s)}</p></li>'
                     for i, (t, s) in enumerate(LATEST))
    also = "".join(f'<li><a href="/also/{i}.html">{escape(a)}</a></li>' for i, a in enumerate(READ_ALSO))
    crumbs = " › ".join(f'<a href="/">{escape(c)}</a>' for c in CRUMBS)
    return f"""<!DOCTYPE html>
<html lang="{body.language}"><head><meta charset="utf-8"><title>{escape(body.title)} | Ministry of Foreign Affairs</title>
<meta property="og:title" content="{escape(body.title)}"></head>
<body>
<div id="cookie-banner" class="cookie-consent"><p>{escape(COOKIES)}</p><button>Accept</button></div>
<header><a href="/" class="logo">Ministry of Foreign Affairs</a>{_nav()}</header>
<nav class="breadcrumbs" aria-label="breadcrumb">{crumbs}</nav>
<main>
<article>
<h1>{escape(body.title)}</h1>
<time datetime="2024-11-04">4 November 2024</time>
{paragraphs}
<ul class="related">{also}</ul>
</article>
<aside class="sidebar"><h2>Latest news</h2><ul>{latest}</ul></aside>
</main>
<footer><p>{escape(FOOTER)}</p></footer>
</body></html>"""


def divs(body: Body) -> str:
    paragraphs = "".join(f'<div class="para">{escape(p)}</div>' for p in body.paragraphs[:-1])
    paragraphs += f"{escape(body.paragraphs[-1])}<br><br>"
    also = "<br>".join(f'<a href="/also/{i}.html">{escape(a)}</a>' for i, a in enumerate(READ_ALSO))
    crumbs = " / ".join(f'<a href="/">{escape(c)}</a>' for c in CRUMBS)
    return f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{escape(body.title)}</title></head>
<body>
<div class="cc-window"><div class="cc-message">{escape(COOKIES)}</div><div class="cc-btn">OK</div></div>
<div id="top"><div class="logo">Ministry of Foreign Affairs</div>{_nav("div")}</div>
<div class="wrap">
<div class="col-left">
<div class="crumbs">{crumbs}</div>
<div class="news-date">04.11.2024</div>
<div class="ttl">{escape(body.title)}</div>
<div class="txt">{paragraphs}</div>
<div class="also">{also}</div>
</div>
<div class="col-right"><div class="box"><div class="box-title">Latest news</div>{_latest_div()}</div></div>
</div>
<div class="bottom"><div class="copy">{escape(FOOTER)}</div></div>
</body></html>"""


def table(body: Body) -> str:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in body.paragraphs)
    menu = " | ".join(f'<a href="/{i}.html"><font color="white">{escape(m)}</font></a>' for i, m in enumerate(MENU))
    latest = "".join(f'<tr><td><a href="/news/{i}.html"><b>{escape(t)}</b></a><br><font size="1">{escape(s)}'
                     f"</font></td></tr>" for i, (t, s) in enumerate(LATEST))
    return f"""<html><head><meta charset="windows-1252"><title>{escape(body.title)}</title></head>
<body><table width="100%"><tr><td colspan="2" bgcolor="navy">{menu}</td></tr>
<tr><td colspan="2"><font size="1">{escape(" > ".join(CRUMBS))}</font></td></tr>
<tr><td width="70%" valign="top"><h2>{escape(body.title)}</h2>{paragraphs}
<p><font size="1">{" · ".join(f'<a href="/also/{i}.html">{escape(a)}</a>' for i, a in enumerate(READ_ALSO))}</font></p></td>
<td width="30%" valign="top"><table><tr><td><b>Latest news</b></td></tr>{latest}</table></td></tr>
<tr><td colspan="2"><font size="1">{escape(COOKIES)}</font></td></tr>
<tr><td colspan="2"><font size="1">{escape(FOOTER)}</font></td></tr></table></body></html>"""


_BUILD = {"semantic": semantic, "divs": divs, "table": table}


def encode(layout: str, markup: str) -> bytes:
    """The bytes a server sends: the table layout is the old site that declares windows-1252."""
    return markup.encode("cp1252", errors="xmlcharrefreplace") if layout == "table" else markup.encode()


def pages(layouts: tuple[str, ...] = LAYOUTS) -> Iterator[Page]:
    for layout in layouts:
        for body in BODIES:
            yield Page(f"/{layout}/{body.slug}.html", layout, body, encode(layout, _BUILD[layout](body)))


def summary_feed(base: str, layout: str, *, summaries: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """The entries of a summary-only RSS feed for the articles of one layout
    (`tests.feedserver.feed_xml` turns them into a document)."""
    return [
        {"title": b.title, "link": f"{base}/{layout}/{b.slug}.html", "guid": f"{layout}-{b.slug}",
         "description": (summaries or {}).get(b.slug, b.summary)}
        for b in BODIES
    ]
