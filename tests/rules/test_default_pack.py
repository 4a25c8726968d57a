"""The shipped rule pack (config/rules): what an analyst expects it to catch, and
the look-alikes it must leave alone. Every example is a running sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.rules import Matcher
from tests.rules.conftest import PACK, SEEDS, Scan, item

OHCHR = [
    "The Office of the United Nations High Commissioner for Human Rights published a report.",
    "The Office of the UN High Commissioner for Human Rights said on Friday it was alarmed.",
    "UN High Commissioner for Human Rights Volker Türk visited Minsk.",
    "The United Nations High Commissioner for Human Rights urged restraint.",
    "She met the High Commissioner for Human Rights in Geneva.",
    "The UN human rights chief called for an inquiry.",
    "The U.N. human rights chief called for an inquiry.",
    "The United Nations human rights chief called for an inquiry.",
    "UN rights chief Volker Turk condemned the verdict.",
    "U.N. rights chief condemns the verdict",
    "The UN human rights office said 12 civilians were killed.",
    "The U.N. human rights office said 12 civilians were killed.",
    "The UN rights office said it had received reports.",
    "The U.N. Human Rights Commissioner spoke in Geneva.",
    "Cooperation with OHCHR was discussed.",
    "Cooperation with the OHCHR’s regional office was discussed.",
    "Le Haut-Commissariat des Nations unies aux droits de l’homme a publié un rapport.",
    "Le Haut-Commissariat aux droits de l'homme (HCDH) a publié un rapport.",
    "Le Haut-Commissaire des Nations Unies aux droits de l'homme, Volker Türk, a déclaré ...",
    "La Haute-Commissaire de l'ONU aux droits de l'homme s'est rendue à Minsk.",
    "Selon le HCDH, la situation se détériore.",
    "La Oficina del Alto Comisionado de las Naciones Unidas para los Derechos Humanos informó.",
    "El Alto Comisionado para los Derechos Humanos expresó su preocupación.",
    "La Alta Comisionada de las Naciones Unidas para los Derechos Humanos visitó Caracas.",
    "La Alta Comisionada de la ONU para los Derechos Humanos visitó Caracas.",
    "Según la ACNUDH, hubo 40 detenciones.",
    "Управление Верховного комиссара ООН по правам человека опубликовало доклад.",
    "Верховный комиссар ООН по правам человека Фолькер Тюрк заявил ...",
    "Он встретился с Верховным комиссаром ООН по правам человека.",
    "Доклад направлен Верховному комиссару ООН по правам человека.",
    "Речь идёт о мандате верховного комиссара Организации Объединённых Наций по правам человека.",
    "ВЕРХОВНЫЙ КОМИССАР ООН ПО ПРАВАМ ЧЕЛОВЕКА ПРИЗВАЛ К СДЕРЖАННОСТИ",
    "Об этом сообщили в Управлении ООН по правам человека.",
    "Представители УВКПЧ посетили Минск.",
]

UPR = [
    "Belarus took part in the Fourth Universal Periodic Review in Geneva.",
    "The universal periodic review of Belarus took place in November.",
    "Recommendations of the UPR were discussed.",
    "UPR-related recommendations were discussed.",
    "Le Bélarus a participé à l'examen périodique universel.",
    "Le Bélarus a participé à l’Examen Periodique Universel (EPU).",
    "Bolivia presentó su informe ante el Examen Periódico Universal.",
    "El EPU de Bolivia se celebró en Ginebra.",
    "Беларусь приняла участие в Универсальном периодическом обзоре.",
    "Рекомендации универсального периодического обзора были рассмотрены.",
    "Итоги Универсального периодического обзора (УПО) обсудили в Минске.",
    "Делегация готовится к УПО.",
]

ILO = [
    "The International Labour Organization adopted a resolution.",
    "The International Labor Organization adopted a resolution.",
    "The International Labour Organisation adopted a resolution.",
    "The International Labor Organisation adopted a resolution.",
    "The International Labour Office in Geneva published data.",
    "Relations with the ILO were discussed.",
    "The ILO’s governing body met in March.",
    "L'Organisation internationale du Travail (OIT) a adopté une convention.",
    "La Organización Internacional del Trabajo publicó un informe.",
    "Según la OIT, el desempleo bajó.",
    "Международная организация труда приняла резолюцию.",
    "Делегация Международной организации труда прибыла в Минск.",
    "Сотрудничество с Международной организацией труда обсудили в Женеве.",
    "Беларусь и МОТ обсудили сотрудничество.",
]


def rules_of(matcher: Matcher, scan: Scan, text: str, title: str = "") -> set[str]:
    return {hit.rule for hit in scan(matcher, text, title)}


@pytest.mark.parametrize("sentence", OHCHR)
def test_ohchr_forms_match(pack: Matcher, scan: Scan, sentence: str) -> None:
    assert rules_of(pack, scan, sentence) == {"ohchr"}


@pytest.mark.parametrize("sentence", UPR)
def test_upr_forms_match(pack: Matcher, scan: Scan, sentence: str) -> None:
    assert rules_of(pack, scan, sentence) == {"upr"}


@pytest.mark.parametrize("sentence", ILO)
def test_ilo_forms_match(pack: Matcher, scan: Scan, sentence: str) -> None:
    assert rules_of(pack, scan, sentence) == {"ilo"}


@pytest.mark.parametrize(
    "sentence",
    [
        # Not OHCHR: the refugee agency, and other countries' High Commissioners.
        "The UNHCR opened a new camp.",
        "The UN High Commissioner for Refugees visited the camp.",
        "The United Nations High Commissioner for Refugees, Filippo Grandi, said ...",
        "UN refugee chief Filippo Grandi warned of a crisis.",
        "The British High Commissioner to India met the minister.",
        "Canada's High Commissioner to the United Kingdom gave a speech.",
        "The Council of Europe Commissioner for Human Rights visited Baku.",
        "Le Haut-Commissariat des Nations unies pour les réfugiés a ouvert un camp.",
        "El Alto Comisionado de las Naciones Unidas para los Refugiados visitó Colombia.",
        "Верховный комиссар ООН по делам беженцев посетил лагерь.",
        "The human rights situation and the Office of the President were discussed.",
        # Not UPR.
        "The uprising began in March.",
        "UPRISING IN THE NORTH",
        "The uprisings spread.",
        "Officials agreed on a periodic review of tariffs.",
        "Students attended the universal review of periodic tables.",
        "The upr field in the form was left empty.",
        "Le mot épuisé n'est pas un sigle.",
        "Обзор был универсальный, но не периодический.",
        # Not ILO.
        "Ships docked at the port of Ilo on Tuesday.",
        "Copper is exported through Ilo, Peru.",
        "ILO, PERU: COPPER EXPORTS RISE",
        "SHIPS RETURN TO THE PORT OF ILO",
        "The ferry to Iloilo was delayed.",
        "ILOILO CITY WELCOMES TOURISTS",
        "The film Ilo Ilo won the Camera d'Or.",
        "Ce mot est difficile à traduire.",
        "Il a dit un mot sur l'oitre.",
        "Он настоящий мот и транжира.",
        "Этот Мот промотал всё наследство.",
        "The International Labour Party congress opened.",
        "The international organization of labour unions met.",
    ],
)
def test_look_alikes_do_not_match(pack: Matcher, scan: Scan, sentence: str) -> None:
    assert rules_of(pack, scan, sentence) == set()


def test_pack_rules_are_the_three_defaults(pack: Matcher) -> None:
    assert sorted(pack.rule_ids) == ["ilo", "ohchr", "upr"]
    assert {path.name for path in PACK.glob("*.toml")} == {"ohchr.toml", "upr.toml", "ilo.toml"}


def test_a_hit_names_the_term_as_written_in_the_pack(pack: Matcher, scan: Scan) -> None:
    (hit,) = scan(pack, "Делегация Международной организации труда прибыла.")
    assert hit.term == "Международн* организаци* труда"
    assert hit.matched == "Международной организации труда"


def test_the_longest_form_explains_the_hit(pack: Matcher, scan: Scan) -> None:
    text = "The Office of the United Nations High Commissioner for Human Rights (OHCHR) said."
    office = "Office of the United Nations High Commissioner for Human Rights"
    hits = scan(pack, text)
    assert [(h.term, h.start, h.end) for h in hits] == [
        (office, 4, 4 + len(office)),
        ("OHCHR", text.index("OHCHR"), text.index("OHCHR") + 5),
    ]


def _seed(prefix: str) -> Path:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path


@pytest.mark.parametrize(("prefix", "expected"), [("000", {"ohchr"}), ("004", {"ohchr", "upr", "ilo"})])
def test_seeds_are_classified(pack: Matcher, scan: Scan, prefix: str, expected: set[str]) -> None:
    text = _seed(prefix).read_text(encoding="utf-8")
    title = text.split("\n", 1)[0]
    hits = scan(pack, text, title)
    assert {hit.rule for hit in hits} == expected
    assert all(hit.field in ("title", "text") for hit in hits)


def test_seed_004_hits_are_the_expected_mentions(pack: Matcher, scan: Scan) -> None:
    text = _seed("004").read_text(encoding="utf-8")
    hits = [hit for hit in scan(pack, text) if hit.field == "text"]
    by_rule = {rule: [h.matched for h in hits if h.rule == rule] for rule in ("ohchr", "upr", "ilo")}
    assert by_rule["upr"] == ["Universal Periodic Review"] * 3
    assert by_rule["ilo"].count("International Labor Organization") == 2
    assert by_rule["ilo"].count("ILO") == 6
    assert "High Commissioner for Human Rights" in by_rule["ohchr"]
    assert by_rule["ohchr"].count("OHCHR") == 4


def test_scanning_is_the_same_for_one_item_or_many(pack: Matcher) -> None:
    """The matcher keeps no state between items."""
    text = _seed("004").read_text(encoding="utf-8")
    first = pack.scan(item(text))
    pack.scan(item("The ILO and the UPR."))
    assert pack.scan(item(text)) == first
