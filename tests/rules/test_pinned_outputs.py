"""The matcher's results are pinned: speed work on folding and matching must not
change a single hit, set-aside mention or folded view.

`pinned_outputs.json` holds, for each case, a digest of what the code gave when
it was written (issue 13, before the classify speed work): every hit and every
mention set aside when scanning the benchmark corpora (English, and the six-
language mixed corpus) with the shipped pack plus 1,000 extra terms, the
labelled fixtures with and without a declared language, and random mixtures of
the awkward pieces folding has to handle (entities, soft hyphens, hyphen breaks,
combining marks, full-width forms, Traditional characters, astral characters);
and, for those mixtures, the folded view and where each of its words maps back
to. A digest that differs names the case, so `_case_output` shows what changed.

If a change of behaviour is intended, regenerate the file with
`python -m tests.rules.test_pinned_outputs --write` and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest

from bench.corpus import PressWriter, rules_toml
from bench.multilingual import MixedWriter, mixed_extra_terms
from bench.workdir import write_extra_rules
from monitor.items import Item
from monitor.normalize import normalize
from monitor.rules import Matcher, SetAside, compile_rules, load_rules
from monitor.rules.folding import fold_text
from tests.labelled import items as labelled_items
from tests.rules.conftest import PACK

PINNED = Path(__file__).with_name("pinned_outputs.json")
ENGLISH, MIXED, MIXTURES = 600, 900, 600

PIECES = [
    "ILO", "OIT", "ilo", "UPR", "Universal Periodic Review", "OHCHR", "Office of the High Commissioner",
    "国际劳工组织", "國際勞工組織", "联合国人权", "普遍定期审议", "منظمة العمل الدولية", "مفوضية",
    "Международная организация труда", "Organisation internationale du Travail",
    "Organización Internacional del Trabajo", "Türk", "Re-\nview", "co-\r\n operation", "\u00ad",
    "soft\u00adhyphen", "&amp;", "&#8217;", "&eacute;", "&amp;#8217;", "&bogus;", "e\u0301", "  ", "\n\n", ", ",
    ". ", "\u00a0", "\u200b", "\u2019", "“", "”", "—", "(", ")", "（", "）", "、", "。", "Kenya", "Geneva",
    "Ministry of Foreign Affairs of Kenya", "١٩٠", "ـ", "ة", "أ", "😀", "𠀀", "ｉｌｏ", "ＩＬＯ",
    "Oregon Institute of Technology (OIT)", "UPR (Unidad de Policía Rural)", "review", "Periodic", "μ", "µ",
    "x", "y", "word", "Labour", "Organization", "International", "1", "-", "\u2010", "\u2011",
]  # fmt: skip


def _digest(value: object) -> str:
    return hashlib.sha256(repr(value).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _mixtures() -> list[str]:
    rng = random.Random(99)
    texts = []
    for _ in range(MIXTURES):
        count = rng.choice([3, 8, 20, 60, 150])
        texts.append("".join(rng.choice(PIECES) + rng.choice(["", " ", " ", "\n"]) for _ in range(count)))
    return texts


@cache
def _matchers() -> dict[str, Matcher]:
    with tempfile.TemporaryDirectory(prefix="pinned-") as tmp:
        english_terms, _ = write_extra_rules(Path(tmp), 1_000)
        mixed_terms = Path(tmp) / "mixed.toml"
        mixed_terms.write_text(rules_toml(mixed_extra_terms(1_000)), encoding="utf-8")
        return {
            "pack": compile_rules(load_rules([PACK])),
            "english": compile_rules(load_rules([PACK, english_terms])),
            "mixed": compile_rules(load_rules([PACK, mixed_terms])),
        }


def _scans() -> Iterator[tuple[str, Callable[[], object]]]:
    """(case name, what to compute) for every scanned case."""
    matchers = _matchers()

    def scan(matcher: Matcher, item: Item) -> Callable[[], object]:
        def run() -> object:
            set_aside: list[SetAside] = []
            return matcher.scan(item, set_aside), set_aside

        return run

    press = PressWriter(seed=5)
    for serial in range(ENGLISH):
        p = press.item(serial)
        item = normalize(Item(source="b", guid=p.guid, title=p.title, text=p.html, language="en"))
        yield f"english-{serial}", scan(matchers["english"], item)
    mixed = MixedWriter(seed=13)
    for serial in range(MIXED):
        m = mixed.item(serial)
        item = normalize(Item(source="b", guid=m.guid, title=m.title, text=m.text, language=m.language))
        yield f"mixed-{serial}", scan(matchers["mixed"], item)
        yield f"mixed-pack-{serial}", scan(matchers["pack"], item)
        if serial % 5 == 0:  # the language detected when a rule needs it
            yield f"mixed-undeclared-{serial}", scan(matchers["mixed"], item.replace(language=None))
    for case in labelled_items():
        for language in (case.language, None):
            item = Item(source="t", guid=case.id, title=case.title, text=case.text, language=language)
            for name in ("pack", "mixed"):
                yield f"labelled-{case.id}-{language}-{name}", scan(matchers[name], item)
    for number, text in enumerate(_mixtures()):
        for language in ("en", "fr"):
            item = Item(source="f", guid=str(number), title=text[:40], text=text, language=language)
            for name in ("pack", "mixed"):
                yield f"mixture-{number}-{language}-{name}", scan(matchers[name], item)


def _folded(text: str) -> object:
    """Both readings of `text`: the view, and each word's original span and word count."""
    readings = []
    for join in (False, True):
        view = fold_text(text, join_hyphen_breaks=join)
        spans = []
        position = 1
        for word in view.text[1:-1].split(" "):
            if word:
                span = view.original_span(position, position + len(word))
                spans.append((span, view.count_words(*span)))
            position += len(word) + 1
        readings.append((view.text, view.has_hyphen_breaks, spans))
    return readings


def _cases() -> Iterator[tuple[str, Callable[[], object]]]:
    yield from _scans()
    for number, text in enumerate(_mixtures()):
        yield f"folded-{number}", lambda text=text: _folded(text)


def _case_output(name: str) -> object:
    """What the code gives now for one case (to see what a failing digest hides)."""
    return dict(_cases())[name]()


@pytest.fixture(scope="module")
def pinned() -> dict[str, str]:
    return json.loads(PINNED.read_text(encoding="utf-8"))


def test_every_case_gives_what_it_gave_when_pinned(pinned: dict[str, str]) -> None:
    current = {name: _digest(compute()) for name, compute in _cases()}
    assert current.keys() == pinned.keys()
    changed = [name for name in pinned if current[name] != pinned[name]]
    assert not changed, f"{len(changed)} cases changed, e.g. {changed[:5]}"


def test_the_pinned_cases_cover_every_script_and_both_kinds_of_rule(pinned: dict[str, str]) -> None:
    """The digests would pin nothing if the cases found nothing: check they do."""
    english_hits = sum(len(compute()[0]) for name, compute in _scans() if name.startswith("english-"))  # type: ignore[index]
    assert english_hits > 10 * ENGLISH
    mixed = MixedWriter(seed=13)
    assert {mixed.item(serial).language for serial in range(MIXED)} == {"en", "fr", "es", "ru", "ar", "zh"}
    set_aside = sum(len(compute()[1]) for name, compute in _scans() if name.startswith("mixture-"))  # type: ignore[index]
    assert set_aside > 0
    assert len(pinned) > 3 * MIXED


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    PINNED.write_text(
        json.dumps({name: _digest(compute()) for name, compute in _cases()}, indent=0, sort_keys=True) + "\n",
        encoding="utf-8",
    )
