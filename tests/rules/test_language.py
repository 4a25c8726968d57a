"""The rule language, one feature at a time, with small rule files."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from monitor.items import Hit, Item
from monitor.rules import Matcher, SetAside, compile_rules, load_rules
from tests.rules.conftest import Scan, WriteRules

MatcherFor = Callable[[str], Matcher]


def matched(hits: list[Hit]) -> list[str]:
    return [hit.matched for hit in hits]


# --- any -------------------------------------------------------------------------


def test_any_fires_on_any_term_and_reports_each_mention(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nany = ["alpha beta", "gamma"]\n')
    assert scan(m, "nothing to see") == []
    hits = scan(m, "Gamma rays, then alpha beta, then gamma.")
    assert matched(hits) == ["Gamma", "alpha beta", "gamma"]
    assert {(h.rule, h.field) for h in hits} == {("r", "text")}
    assert [h.term for h in hits] == ["gamma", "alpha beta", "gamma"]


def test_terms_match_whole_words_only(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nany = ["port", "trade union"]\n')
    assert scan(m, "Exports, airports, portal, trade unionists, support.") == []
    # A boundary is anything but a letter or digit: `_` and `-` separate words.
    assert [h.start for h in scan(m, "port2 port_x port-side (port)")] == [6, 13, 24]


def test_phrases_match_across_line_breaks_spacing_and_hyphens(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nany = ["trade union rights"]\n')
    for text in ["trade\nunion rights", "trade-union rights", "trade  union\r\n rights", "Trade Union Rights"]:
        assert matched(scan(m, f"On {text} today")) == [text], text
    assert scan(m, "tradeunion rights") == []


# --- all -------------------------------------------------------------------------


ALL_RULE = """
[[rule]]
id = "by-ilo"
all = [["Belarus", "Беларус*"], ["ILO", "МОТ"]]
"""


def test_all_needs_a_hit_in_every_group(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for(ALL_RULE)
    assert scan(m, "Belarus joined the talks.") == []
    assert scan(m, "The ILO met in Geneva.") == []
    hits = scan(m, "Belarus and the ILO met. Беларусь и МОТ.")
    assert matched(hits) == ["Belarus", "ILO", "Беларусь", "МОТ"]


def test_all_groups_may_be_satisfied_in_different_fields(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for(ALL_RULE)
    hits = scan(m, "The ILO met in Geneva.", title="Belarus news")
    assert [(h.field, h.matched) for h in hits] == [("title", "Belarus"), ("text", "ILO")]


def test_any_and_all_are_alternatives(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nany = ["OHCHR"]\nall = [["Belarus"], ["ILO"]]\n')
    assert matched(scan(m, "OHCHR report")) == ["OHCHR"]
    assert matched(scan(m, "Belarus and ILO")) == ["Belarus", "ILO"]
    assert matched(scan(m, "Belarus and OHCHR")) == ["OHCHR"]  # `all` unsatisfied: its hits do not count


# --- near ------------------------------------------------------------------------


NEAR_RULE = """
[[rule]]
id = "hc"
near = [{ terms = ["High Commissioner"], with = ["human rights"], within = 3 }]
"""


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("the High Commissioner for human rights", True),  # 1 word between
        ("human rights: the High Commissioner", True),  # either order
        ("the High Commissioner spoke about human rights", True),  # 3 words between
        ("the High Commissioner spoke at length about human rights", False),  # 5 words
        ("the High Commissioner, in a speech: human rights", True),  # punctuation is not a word
        ("the High Commissioner, in a speech, on human rights", False),  # 4 words
        ("the High Commissioner for Refugees", False),
        ("human rights", False),
    ],
)
def test_near_counts_the_words_between(matcher_for: MatcherFor, scan: Scan, text: str, fires: bool) -> None:
    hits = scan(matcher_for(NEAR_RULE), text)
    assert bool(hits) is fires
    if fires:
        assert sorted(h.term for h in hits) == ["High Commissioner", "human rights"]


def test_near_pairs_only_mentions_close_to_each_other(matcher_for: MatcherFor, scan: Scan) -> None:
    text = "human rights " + "filler " * 20 + "the High Commissioner on human rights"
    hits = scan(matcher_for(NEAR_RULE), text)
    assert [h.start for h in hits] == [text.index("High"), text.rindex("human")]


def test_near_does_not_pair_across_fields(matcher_for: MatcherFor, scan: Scan) -> None:
    assert scan(matcher_for(NEAR_RULE), "human rights", title="High Commissioner") == []


def test_near_needs_two_different_mentions(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nnear = [{ terms = ["ILO"], with = ["ILO"], within = 2 }]\n')
    assert scan(m, "the ILO said") == []
    assert matched(scan(m, "the ILO and ILO said")) == ["ILO", "ILO"]


def test_several_near_clauses_are_alternatives(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for(
        '[[rule]]\nid = "r"\nnear = [\n'
        '  { terms = ["ILO"], with = ["Belarus"], within = 1 },\n'
        '  { terms = ["OIT"], with = ["Suisse"], within = 1 },\n]\n'
    )
    assert matched(scan(m, "OIT et Suisse")) == ["OIT", "Suisse"]
    assert matched(scan(m, "ILO and Bélarus")) == ["ILO", "Bélarus"]
    assert scan(m, "ILO et Suisse") == []


# --- exclude -----------------------------------------------------------------------


def test_exclude_removes_overlapping_hits_only(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nany = ["ILO"]\nexclude = ["port of Ilo"]\n')
    assert scan(m, "SHIPS AT THE PORT OF ILO") == []
    hits = scan(m, "PORT OF ILO: ILO INSPECTORS ARRIVE")
    assert [h.start for h in hits] == [13]


def test_exclude_applies_before_all_and_near(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nall = [["Peru"], ["ILO"]]\nexclude = ["ILO, Peru"]\n')
    assert scan(m, "ILO, PERU") == []
    assert scan(m, "ILO, PERU and the ILO") == []  # the only Peru is excluded
    assert matched(scan(m, "ILO, PERU and the ILO in Peru")) == ["ILO", "Peru"]


# --- fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ('["title"]', ["title"]),
        ('["text"]', ["text"]),
        ('["title", "text"]', ["title", "text"]),
        (None, ["title", "text"]),
    ],
)
def test_fields_limit_where_a_rule_looks(
    matcher_for: MatcherFor, scan: Scan, fields: str | None, expected: list[str]
) -> None:
    line = f"fields = {fields}\n" if fields else ""
    m = matcher_for(f'[[rule]]\nid = "r"\n{line}any = ["ILO"]\n')
    assert [h.field for h in scan(m, "ILO in text", title="ILO in title")] == expected


def test_hits_come_title_first_then_by_position_and_rule(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "b"\nany = ["ILO"]\n[[rule]]\nid = "a"\nany = ["ILO", "Geneva"]\n')
    hits = scan(m, "Geneva: the ILO", title="ILO")
    assert [(h.field, h.start, h.rule) for h in hits] == [
        ("title", 0, "a"),
        ("title", 0, "b"),
        ("text", 0, "a"),
        ("text", 12, "a"),
        ("text", 12, "b"),
    ]


# --- acronyms (case) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hits"),
    [
        ("ILO", 1),
        ("the ILO’s view", 1),
        ("Ilo", 0),
        ("ilo", 0),
        ("iLO", 0),
        ("ILOs", 0),
        ("МОТ", 1),
        ("мот", 0),
        ("Мот", 0),
    ],
)
def test_acronyms_are_case_sensitive(matcher_for: MatcherFor, scan: Scan, text: str, hits: int) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nany = ["ILO", "МОТ"]\n')
    assert len(scan(m, text)) == hits


def test_anything_with_a_lowercase_letter_ignores_case(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nany = ["Ilo", "UN rights chief"]\n')
    assert matched(scan(m, "ILO ilo Ilo")) == ["ILO", "ilo", "Ilo"]
    assert matched(scan(m, "un rights chief")) == ["un rights chief"]


def test_dotted_acronyms_are_acronyms_too(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nany = ["U.N."]\n')
    assert matched(scan(m, "the U.N. said")) == ["U.N"]
    assert scan(m, "u.n. said") == []


# --- wildcards -----------------------------------------------------------------------


WILDCARD_RULE = '[[rule]]\nid = "r"\nany = ["Верховн* комиссар*", "ООН*"]\n'


@pytest.mark.parametrize(
    "text",
    [
        "Верховный комиссар",
        "Верховного комиссара",
        "верховному комиссару",
        "Верховным комиссаром",
        "ВЕРХОВНОМ КОМИССАРЕ",
    ],
)
def test_wildcard_extends_a_word_with_any_letters(matcher_for: MatcherFor, scan: Scan, text: str) -> None:
    assert matched(scan(matcher_for(WILDCARD_RULE), f"Встреча: {text} прибыл.")) == [text]


@pytest.mark.parametrize(
    "text", ["Верховн комиссар", "Верховного комиссионера", "сверхверховного комиссара", "Верховного"]
)
def test_wildcard_does_not_reach_across_words(matcher_for: MatcherFor, scan: Scan, text: str) -> None:
    """`комиссар*` requires a word starting with комиссар; the first word must start
    where the term does (`Верховн` is also a complete word for the wildcard)."""
    hits = scan(matcher_for(WILDCARD_RULE), f"Встреча: {text} прибыл.")
    assert matched(hits) == (["Верховн комиссар"] if text == "Верховн комиссар" else [])


def test_wildcard_acronym_checks_case_of_the_stem_only(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for(WILDCARD_RULE)
    assert matched(scan(m, "представители ООНовцы и ООН")) == ["ООНовцы", "ООН"]
    assert scan(m, "оон") == []


# --- languages -----------------------------------------------------------------------

LANGUAGE_RULE = """
[[rule]]
id = "ilo"
any = ["ILO", { terms = ["OIT", "BIT"], languages = ["fr", "es"] }]
"""


def in_language(text: str, language: str | None) -> Item:
    return Item(source="test:", guid="g", title="", text=text, language=language)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr", ["OIT", "BIT", "ILO"]), ("es-AR", ["OIT", "BIT", "ILO"]), ("en", ["ILO"]), ("zh", ["ILO"])],
)
def test_a_term_group_counts_only_in_its_languages(
    matcher_for: MatcherFor, language: str, expected: list[str]
) -> None:
    m = matcher_for(LANGUAGE_RULE)
    assert matched(m.scan(in_language("OIT, BIT, ILO", language))) == expected


def test_an_item_without_a_language_has_it_detected(matcher_for: MatcherFor) -> None:
    m = matcher_for(LANGUAGE_RULE)
    assert matched(m.scan(in_language("Selon l'OIT, le chômage des jeunes a baissé l'an dernier.", None))) == ["OIT"]
    assert matched(m.scan(in_language("The OIT campus reopened after the storm on Monday.", None))) == []


def test_a_term_bound_once_is_bound_everywhere_in_its_rule(matcher_for: MatcherFor) -> None:
    m = matcher_for(
        '[[rule]]\nid = "r"\nany = [{ terms = ["OIT"], languages = ["fr"] }]\n'
        'near = [{ terms = ["Conseil"], with = ["OIT"], within = 3 }]\n'
    )
    assert matched(m.scan(in_language("Le Conseil de l'OIT", "fr"))) == ["Conseil", "OIT"]
    assert matched(m.scan(in_language("Le Conseil de l'OIT", "en"))) == []


def test_a_rule_can_be_limited_to_languages(matcher_for: MatcherFor) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nlanguages = ["ar", "zh"]\nany = ["ILO"]\n')
    assert matched(m.scan(in_language("ILO", "zh-Hant"))) == ["ILO"]
    assert matched(m.scan(in_language("ILO", "en"))) == []


def test_an_exclusion_bound_to_other_languages_excludes_nothing(matcher_for: MatcherFor) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nany = ["ILO"]\nexclude = [{ terms = ["ILO, Peru"], languages = ["es"] }]\n')
    assert matched(m.scan(in_language("ILO, PERU", "es"))) == []
    assert matched(m.scan(in_language("ILO, PERU", "en"))) == ["ILO"]


def test_set_aside_mentions_say_why(matcher_for: MatcherFor) -> None:
    m = matcher_for(LANGUAGE_RULE)
    set_aside: list[SetAside] = []
    assert matched(m.scan(in_language("OIT and ILO", "en"), set_aside)) == ["ILO"]
    assert set_aside == [SetAside("ilo", "OIT", "text", 0, 3, "OIT", "counts only in es, fr text; this item is en")]


# --- acronyms defined otherwise ----------------------------------------------------------

ACRONYM_RULE = """
[[rule]]
id = "upr"
acronyms_defined_otherwise = "ignore"
any = ["Universal Periodic Review", "Examen Periódico Universal", "UPR", "EPU"]
"""


@pytest.mark.parametrize(
    "text",
    [
        "The Union of Progressive Reformers (UPR) won three seats; the UPR leader spoke.",
        "UPR (Union of Progressive Reformers) leader Maria Santos said the UPR would join.",
        "La Unidad de Policía Rural (UPR) actuó. La UPR detuvo a tres personas.",
        "Agentes de la UPR (Unidad de Policía Rural) incautaron armas.",
        "the Union of Progressive Reformers (UPR, founded in 2019) won.",
    ],
)
def test_an_acronym_the_item_defines_as_something_else_does_not_count(
    matcher_for: MatcherFor, scan: Scan, text: str
) -> None:
    assert scan(matcher_for(ACRONYM_RULE), text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Universal Periodic Review (UPR) of Chad; UPR talks.", ["Universal Periodic Review", "UPR", "UPR"]),
        ("UPR (Universal Periodic Review) talks.", ["UPR", "Universal Periodic Review"]),
        ("El Examen Periódico Universal (EPU) de Chile.", ["Examen Periódico Universal", "EPU"]),
        ("El Examen Periodico Universal de Chile (EPU).", ["Examen Periodico Universal", "EPU"]),
        ("The UPR (Geneva) and the UPR of Chad.", ["UPR", "UPR"]),  # not a definition
        ("Reformers of the Union (UPR) met.", ["UPR"]),  # the initials do not spell it
    ],
)
def test_the_rules_own_expansion_or_none_leaves_the_acronym_counting(
    matcher_for: MatcherFor, scan: Scan, text: str, expected: list[str]
) -> None:
    assert matched(scan(matcher_for(ACRONYM_RULE), text)) == expected


def test_a_long_form_made_of_the_rules_own_words_is_its_own(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for(
        '[[rule]]\nid = "ilo"\nacronyms_defined_otherwise = "ignore"\n'
        'any = ["Organización Internacional del Trabajo", "Международн* организаци* труда", "OIT", "МОТ"]\n'
    )
    assert matched(scan(m, "la Organización Internacional de Trabajo (OIT) dijo")) == ["OIT"]  # "de" for "del"
    assert matched(scan(m, "Международной организацией труда (МОТ)")) == ["Международной организацией труда", "МОТ"]
    assert matched(scan(m, "la Oficina de Información Turística (OIT) dijo")) == []


def test_a_definition_in_the_text_rules_out_the_title_too(matcher_for: MatcherFor, scan: Scan) -> None:
    text = "The Union of Progressive Reformers (UPR) won three seats."
    assert scan(matcher_for(ACRONYM_RULE), text, title="UPR wins three seats") == []


def test_acronyms_defined_otherwise_count_unless_the_rule_says_so(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "r"\nany = ["UPR"]\n')
    assert matched(scan(m, "The Union of Progressive Reformers (UPR) won.")) == ["UPR"]


# --- terms, ids, compilation ---------------------------------------------------------


def test_nested_hits_of_one_rule_keep_the_longest(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for(
        '[[rule]]\nid = "r"\nany = ["Human Rights", "High Commissioner for Human Rights", "Human Rights Council"]\n'
    )
    hits = scan(m, "the High Commissioner for Human Rights Council")
    assert [h.term for h in hits] == ["High Commissioner for Human Rights", "Human Rights Council"]


def test_rules_sharing_a_term_each_get_their_hit(matcher_for: MatcherFor, scan: Scan) -> None:
    m = matcher_for('[[rule]]\nid = "a"\nany = ["ILO"]\n[[rule]]\nid = "b"\nany = ["I.L.O.", "ILO"]\n')
    assert [(h.rule, h.term) for h in scan(m, "the ILO")] == [("a", "ILO"), ("b", "ILO")]


def test_matcher_exposes_rule_ids_in_load_order(write_rules: WriteRules) -> None:
    write_rules('[[rule]]\nid = "zeta"\nany = ["z z"]\n', "a.toml")
    path = write_rules('[[rule]]\nid = "alpha"\nany = ["a a"]\n', "b.toml")
    ruleset = load_rules([path.parent])
    assert ruleset.ids == ("zeta", "alpha")
    assert compile_rules(ruleset).rule_ids == ("zeta", "alpha")


def test_thousands_of_terms_find_exactly_the_ones_present(write_rules: WriteRules, scan: Scan) -> None:
    terms = [f"term{n:04d} body{n % 97}" for n in range(3000)] + [f"ACR{n}" for n in range(500)]
    body = '[[rule]]\nid = "big"\nany = [' + ", ".join(f'"{t}"' for t in terms) + "]\n"
    matcher = compile_rules(load_rules([write_rules(body)]))
    text = "x term0042 body42, TERM2999 BODY89 and term0042 body43 acr7 ACR499"
    assert matched(scan(matcher, text)) == ["term0042 body42", "TERM2999 BODY89", "ACR499"]
