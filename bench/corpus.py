"""Realistic English press text for the benchmarks, generated deterministically.

Items read like the diplomatic press the daemon watches: ministers meeting
delegations, statements on cooperation, consultations in Geneva. Sentences
come from templates filled from word lists plus the non-watch sentences of
the seed texts in `seeds/`; exactly one item in ten also carries a sentence
naming OHCHR, the Universal Periodic Review or the ILO (in the forms the seed
texts and wire services use), so the default rule pack matches that tenth.

Everything is derived from a seeded `random.Random`, so two runs with the
same seed serve and replay the same bytes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from tests.feedserver import feed_xml

ROOT: Final = Path(__file__).resolve().parent.parent
SEEDS: Final = ROOT / "seeds"
DEFAULT_RULES: Final = ROOT / "config" / "rules"

MENTION_EVERY: Final = 10  # one item in ten names OHCHR, the UPR or the ILO
FEED_TEXT_CHARS: Final = 900  # body of a feed item: 20 items make a ~28 KB feed
FIXTURE_TEXT_CHARS: Final = 1_800  # a scraped press text is longer than a feed summary

COUNTRIES: Final = (
    "Afghanistan", "Albania", "Algeria", "Angola", "Argentina", "Armenia", "Australia", "Austria",
    "Azerbaijan", "Bahrain", "Bangladesh", "Belarus", "Belgium", "Benin", "Bolivia", "Brazil",
    "Bulgaria", "Burkina Faso", "Burundi", "Cambodia", "Cameroon", "Canada", "Chad", "Chile", "China",
    "Colombia", "Costa Rica", "Côte d'Ivoire", "Croatia", "Cuba", "Cyprus", "Czechia", "Denmark",
    "Djibouti", "Ecuador", "Egypt", "El Salvador", "Eritrea", "Estonia", "Ethiopia", "Fiji", "Finland",
    "France", "Gabon", "Georgia", "Germany", "Ghana", "Greece", "Guatemala", "Guinea", "Haiti",
    "Honduras", "Hungary", "Iceland", "India", "Indonesia", "Iran", "Iraq", "Ireland", "Israel",
    "Italy", "Jamaica", "Japan", "Jordan", "Kazakhstan", "Kenya", "Kuwait", "Kyrgyzstan", "Laos",
    "Latvia", "Lebanon", "Liberia", "Libya", "Lithuania", "Luxembourg", "Madagascar", "Malawi",
    "Malaysia", "Maldives", "Mali", "Malta", "Mauritania", "Mexico", "Moldova", "Mongolia",
    "Montenegro", "Morocco", "Mozambique", "Myanmar", "Namibia", "Nepal", "the Netherlands",
    "New Zealand", "Nicaragua", "Niger", "Nigeria", "North Macedonia", "Norway", "Oman", "Pakistan",
    "Panama", "Paraguay", "Peru", "the Philippines", "Poland", "Portugal", "Qatar", "Romania",
    "Rwanda", "Saudi Arabia", "Senegal", "Serbia", "Sierra Leone", "Singapore", "Slovakia",
    "Slovenia", "Somalia", "South Africa", "South Sudan", "Spain", "Sri Lanka", "Sudan", "Sweden",
    "Switzerland", "Syria", "Tajikistan", "Tanzania", "Thailand", "Togo", "Tunisia", "Türkiye",
    "Turkmenistan", "Uganda", "Ukraine", "the United Arab Emirates", "the United Kingdom", "Uruguay",
    "Uzbekistan", "Venezuela", "Viet Nam", "Yemen", "Zambia", "Zimbabwe",
)
CITIES: Final = (
    "Geneva", "New York", "Vienna", "Brussels", "Strasbourg", "Minsk", "Moscow", "Kyiv", "Warsaw",
    "Vilnius", "Riga", "Tallinn", "Berlin", "Paris", "London", "Madrid", "Lisbon", "Rome", "Athens",
    "Ankara", "Baku", "Yerevan", "Tbilisi", "Astana", "Tashkent", "Bishkek", "Dushanbe", "Ashgabat",
    "Beijing", "Tokyo", "Seoul", "Hanoi", "Bangkok", "Jakarta", "Manila", "Kuala Lumpur", "Delhi",
    "Dhaka", "Islamabad", "Kabul", "Tehran", "Baghdad", "Amman", "Beirut", "Cairo", "Tunis",
    "Algiers", "Rabat", "Dakar", "Abuja", "Accra", "Addis Ababa", "Nairobi", "Kampala", "Kigali",
    "Dar es Salaam", "Lusaka", "Harare", "Pretoria", "Luanda", "Kinshasa", "Brazzaville", "Bamako",
    "Niamey", "Khartoum", "Mogadishu", "Doha", "Riyadh", "Muscat", "Abu Dhabi", "Bogotá", "Lima",
    "Quito", "La Paz", "Santiago", "Buenos Aires", "Montevideo", "Asunción", "Brasília", "Caracas",
    "Havana", "Mexico City", "Guatemala City", "Tegucigalpa", "Managua", "San José", "Panama City",
    "Ottawa", "Washington", "Canberra", "Wellington", "Suva", "Oslo", "Stockholm", "Helsinki",
    "Copenhagen", "Reykjavik", "Dublin", "Bern", "Budapest", "Prague", "Bratislava", "Ljubljana",
    "Zagreb", "Belgrade", "Sarajevo", "Podgorica", "Skopje", "Tirana", "Sofia", "Bucharest",
    "Chisinau", "The Hague", "Luxembourg", "Valletta", "Nicosia", "Bonn", "Nairobi", "Arusha",
    "Banjul", "Freetown", "Monrovia", "Conakry", "Ouagadougou", "Lomé", "Cotonou", "Yaoundé",
    "Libreville", "Windhoek", "Gaborone", "Maputo", "Lilongwe", "Antananarivo", "Port Louis",
    "Colombo", "Malé", "Kathmandu", "Thimphu", "Ulaanbaatar", "Vientiane", "Phnom Penh", "Naypyidaw",
    "Singapore", "Dili", "Port Moresby", "Apia", "Nuku'alofa", "Kingston", "Port-au-Prince",
    "Santo Domingo", "Bridgetown", "Port of Spain", "Georgetown", "Paramaribo", "Cayenne",
)
ORGANISATIONS: Final = (
    "World Health Organization", "UNICEF", "UNESCO", "World Food Programme", "UN Women",
    "UN Development Programme", "UN Environment Programme", "International Organization for Migration",
    "UN Refugee Agency", "World Bank", "International Monetary Fund", "World Trade Organization",
    "Food and Agriculture Organization", "International Atomic Energy Agency", "UN Security Council",
    "UN General Assembly", "Human Rights Council", "Economic and Social Council",
    "International Court of Justice", "International Criminal Court", "Council of Europe",
    "European Court of Human Rights", "European Commission", "European Parliament",
    "European External Action Service", "OSCE", "Organization for Security and Co-operation in Europe",
    "African Union", "African Commission on Human and Peoples' Rights", "ECOWAS",
    "Southern African Development Community", "ASEAN", "Organization of American States",
    "Inter-American Commission on Human Rights", "Arab League", "Gulf Cooperation Council",
    "Organisation of Islamic Cooperation", "Commonwealth Secretariat", "Shanghai Cooperation Organisation",
    "Commonwealth of Independent States", "Eurasian Economic Union", "Collective Security Treaty Organization",
    "International Committee of the Red Cross", "International Federation of Red Cross and Red Crescent Societies",
    "Amnesty International", "Human Rights Watch", "Reporters Without Borders", "Transparency International",
    "Inter-Parliamentary Union", "World Meteorological Organization", "International Telecommunication Union",
    "Universal Postal Union", "World Intellectual Property Organization", "UNCTAD", "UNODC", "UNAIDS",
    "UN Population Fund", "UN-Habitat", "UNRWA", "OCHA", "Peacebuilding Commission",
    "Committee against Torture", "Committee on the Rights of the Child", "Human Rights Committee",
    "Committee on the Elimination of Racial Discrimination", "Working Group on Arbitrary Detention",
    "Special Rapporteur on freedom of expression", "Special Rapporteur on torture",
    "Venice Commission", "European Union Agency for Fundamental Rights", "Group of Twenty",
    "Non-Aligned Movement", "Group of 77", "BRICS", "World Economic Forum", "Global Fund",
    "Gavi, the Vaccine Alliance", "International Trade Centre", "UN Volunteers",
)
PHRASES: Final = (
    "arbitrary detention", "freedom of expression", "freedom of assembly", "freedom of association",
    "freedom of religion or belief", "enforced disappearance", "torture and ill-treatment",
    "death penalty", "rule of law", "independence of the judiciary", "fair trial guarantees",
    "human rights defenders", "civil society organisations", "media freedom", "safety of journalists",
    "internally displaced persons", "asylum seekers", "migrant workers", "trafficking in persons",
    "child labour", "forced labour", "gender equality", "violence against women",
    "rights of persons with disabilities", "rights of the child", "indigenous peoples",
    "minority rights", "racial discrimination", "hate speech", "counter-terrorism measures",
    "humanitarian access", "international humanitarian law", "transitional justice",
    "national human rights institution", "sustainable development goals", "climate change",
    "right to health", "right to education", "right to food", "right to water and sanitation",
    "social protection", "decent work", "collective bargaining", "trade union rights",
    "occupational safety", "minimum wage", "labour inspection", "economic sanctions",
    "unilateral coercive measures", "electoral observation", "constitutional reform",
    "anti-corruption strategy", "digital transformation", "cybersecurity cooperation",
    "food security", "energy security", "nuclear non-proliferation", "arms control",
    "peacekeeping operations", "conflict prevention", "mine action", "refugee protection",
    "statelessness", "border management", "consular assistance", "visa liberalisation",
    "trade and investment", "development assistance", "technical cooperation", "capacity building",
    "humanitarian aid", "emergency relief", "post-conflict reconstruction", "disaster risk reduction",
)
OFFICIALS: Final = (
    "Minister of Foreign Affairs", "Deputy Minister of Foreign Affairs", "Foreign Minister",
    "Ambassador", "Permanent Representative", "State Secretary", "Special Envoy", "Prime Minister",
    "President", "Vice President", "Minister of Justice", "Minister of Labour and Social Protection",
    "Speaker of Parliament", "Chief of Protocol", "Director of the Department of Multilateral Diplomacy",
)
PEOPLE: Final = (
    "Igor Sekreta", "Anna Kowalska", "Maria Fernández", "Jean-Pierre Dubois", "Amina Diallo",
    "Kwame Mensah", "Elena Petrova", "Ahmed Hassan", "Li Wei", "Sofia Rossi", "Tomas Novak",
    "Ingrid Larsen", "Carlos Mendoza", "Fatima Al-Sayed", "Nguyen Van An", "Olga Ivanova",
    "Daniel Okafor", "Hannah Schmidt", "Rahul Sharma", "Leila Karimi", "Mateus Oliveira", "Aiko Tanaka",
    "Beate Andrees", "Eamon Gilmore", "Yusuf Demir", "Nadia Benali", "Pavel Horak", "Grace Mwangi",
)
AGENCIES: Final = ("BelTA", "MFA", "TASS", "Anadolu", "Xinhua", "APS", "MAP", "KUNA", "WAM", "Kazinform", "Trend")
MONTHS: Final = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)

_TEMPLATES: Final = (
    "{official} {person} met with {org} officials in {city} to discuss {phrase}.",
    "The parties exchanged views on {phrase} and prospects for cooperation between {country} and {country2}.",
    "{country} and {country2} agreed to intensify cooperation on {phrase} and {phrase2}.",
    "The meeting took stock of progress on joint initiatives since the previous round of consultations in {city}.",
    "Particular attention was paid to {phrase}, as well as to {phrase2} in the region.",
    "The {official} stressed the importance of a constructive and non-politicized dialogue with {the_org}.",
    "{person} informed the delegation about the priorities of the government of {country} in the field of {phrase}.",
    "The sides discussed the preparation of the upcoming session of {the_org} in {city}.",
    "A memorandum of understanding on {phrase} between {country} and {the_org} was signed on the margins "
    "of the meeting.",
    "The delegation of {country} reaffirmed its commitment to {phrase} and to the principles of the UN Charter.",
    "According to the press service, the talks in {city} focused on {phrase}, {phrase2} and regional security.",
    "The {official} of {country} called on the international community to step up support for {phrase}.",
    "Representatives of {the_org} presented a report on {phrase} covering the period from {month} to {month2}.",
    "Both sides noted the importance of regular political consultations at the level of deputy foreign ministers.",
    "The next round of consultations is scheduled to take place in {city} in {month}.",
    "{country} has consistently supported the work of {the_org} on {phrase}, the {official} said.",
    "The Embassy of {country} in {city} organised a round table on {phrase} with the participation of experts.",
    "The Ministry of Foreign Affairs of {country} expressed concern over the situation regarding {phrase}.",
    "Experts from {country} and {the_org} will hold a joint workshop on {phrase} in {city} later this year.",
    "The {official} thanked {person} for the hospitality and invited the delegation to visit {city}.",
)
_TITLES: Final = (
    "{official} of {country} meets {org} delegation in {city}",
    "{country} and {country2} discuss {phrase}",
    "{person} holds talks on {phrase} in {city}",
    "Consultations between {country} and {country2} held in {city}",
    "{country} reaffirms support for {the_org}",
    "Round table on {phrase} held in {city}",
    "{org} and {country} sign memorandum on {phrase}",
)
_WATCH_TEMPLATES: Final = (
    "{official} {person} met with UN High Commissioner for Human Rights Volker Türk in Geneva.",
    "The delegation presented the national report of {country} under the fourth cycle of the "
    "Universal Periodic Review (UPR).",
    "{country} accepted most of the recommendations it received during its Universal Periodic Review.",
    "The Office of the United Nations High Commissioner for Human Rights (OHCHR) welcomed the decision of {country}.",
    "Cooperation with the International Labour Organization (ILO) on {phrase} was also discussed.",
    "The parties discussed the implementation of ILO conventions on {phrase} in {country}.",
    "The {official} reaffirmed the commitment of {country} to non-politicized cooperation with OHCHR.",
    "The UN human rights office said it was following the situation in {country} closely.",
    "Assistant Director General of the International Labor Organization {person} took part in the meeting.",
)
_WATCH_HEADLINE: Final = (
    "{country} presents national report to the Universal Periodic Review",
    "{official} of {country} meets UN High Commissioner for Human Rights",
    "{country} and the ILO discuss {phrase}",
)
# Sentences of the seed texts: those naming a watched body the way the default
# pack catches them carry a mention; those that come near ("the High
# Commissioner" alone) are used for neither, so the tenth stays exact.
_CAUGHT: Final = re.compile(
    r"OHCHR|High Commissioner for Human Rights|Universal Periodic Review|\bUPR\b|\bILO\b"
    r"|International Labou?r Organi[sz]ation|UN human rights (?:office|chief)"
)
_NEAR: Final = re.compile(r"High Commissioner|Periodic Review|Labou?r Organi[sz]ation|human rights office", re.I)


def _seed_sentences() -> tuple[list[str], list[str]]:
    """The seed texts' sentences, split into (plain, naming a watched body)."""
    plain: list[str] = []
    watch: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            for sentence in re.split(r"(?<=[.!?”])\s+(?=[A-Z“])", line.strip()):
                if len(sentence) < 60 or not sentence.endswith((".", "”")):
                    continue
                if _CAUGHT.search(sentence):
                    watch.append(sentence)
                elif not _NEAR.search(sentence):
                    plain.append(sentence)
    return sorted(set(plain)), sorted(set(watch))


_SEED_PLAIN, _SEED_WATCH = _seed_sentences()


@dataclass(frozen=True, slots=True)
class PressItem:
    """One generated press item (an RSS entry or a text fixture)."""

    guid: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    mentions: bool  # names OHCHR, the UPR or the ILO

    @property
    def html(self) -> str:
        """The body as a feed description carries it: HTML paragraphs."""
        return "".join(f"<p>{p}</p>" for p in self.paragraphs)

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


class PressWriter:
    """Writes press items; `serial` numbers make every item distinct and decide
    (every MENTION_EVERY-th) which ones name a watched body."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)

    def _fill(self, template: str) -> str:
        r = self.rng
        country, country2 = r.sample(COUNTRIES, 2)
        phrase, phrase2 = r.sample(PHRASES, 2)
        month, month2 = r.sample(MONTHS, 2)
        org = r.choice(ORGANISATIONS)
        the_org = org if org.split()[0].isupper() else f"the {org}"  # "the UNICEF" reads wrong
        text = template.format(
            official=r.choice(OFFICIALS), person=r.choice(PEOPLE), org=org, the_org=the_org,
            city=r.choice(CITIES), country=country, country2=country2, phrase=phrase, phrase2=phrase2,
            month=month, month2=month2,
        )
        return text[0].upper() + text[1:]

    def sentence(self) -> str:
        if self.rng.random() < 0.15:
            return self.rng.choice(_SEED_PLAIN)
        return self._fill(self.rng.choice(_TEMPLATES))

    def watch_sentence(self) -> str:
        if self.rng.random() < 0.3:
            return self.rng.choice(_SEED_WATCH)
        return self._fill(self.rng.choice(_WATCH_TEMPLATES))

    def item(self, serial: int, *, chars: int = FEED_TEXT_CHARS, mentions: bool | None = None,
             published: datetime | None = None) -> PressItem:
        r = self.rng
        mentions = serial % MENTION_EVERY == 0 if mentions is None else mentions
        paragraphs: list[str] = []
        size = 0
        while size < chars:
            paragraph = " ".join(self.sentence() for _ in range(r.randint(2, 3)))
            paragraphs.append(paragraph)
            size += len(paragraph) + 1
        if mentions:
            at = r.randrange(len(paragraphs))
            paragraphs[at] = f"{paragraphs[at]} {self.watch_sentence()}"
        headline = _WATCH_HEADLINE if mentions and r.random() < 0.3 else _TITLES
        when = published or datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=37 * serial)
        return PressItem(
            guid=f"press-{serial}", title=self._fill(r.choice(headline)), paragraphs=tuple(paragraphs),
            published=when, mentions=mentions,
        )

    def fixture_text(self, serial: int) -> str:
        """A scraped press text as `monitor replay` reads it: furniture, headline,
        a wire dateline, paragraphs (sometimes one repeated), sometimes a trailer."""
        r = self.rng
        item = self.item(serial, chars=FIXTURE_TEXT_CHARS)
        paragraphs = list(item.paragraphs)
        day, month = r.randint(1, 28), r.choice(MONTHS)
        paragraphs[0] = f"{r.choice(CITIES).upper()}, {day} {month} ({r.choice(AGENCIES)}) - {paragraphs[0]}"
        if r.random() < 0.2:  # scrapes often carry a paragraph twice
            paragraphs.append(paragraphs[r.randrange(len(paragraphs))])
        lines = [item.title, *paragraphs]
        if r.random() < 0.3:
            lines.insert(0, "Photo courtesy of the MFA")
        if r.random() < 0.3:
            lines += [f"More information: Ministry of Foreign Affairs of {r.choice(COUNTRIES)}", "Leave a Reply"]
        return "\n".join(lines) + "\n"


def feed_items(writer: PressWriter, feed: int, count: int) -> list[PressItem]:
    """The initial items of feed number `feed`: serials feed*count ... +count-1."""
    return [writer.item(feed * count + index) for index in range(count)]


def feed_document(number: int, items: Sequence[PressItem]) -> bytes:
    """Feed number `number` as an RSS 2.0 document (what the bench server serves)."""
    entries = [
        {"title": i.title, "link": f"https://press.example/{i.guid}", "guid": i.guid,
         "description": i.html, "pubDate": i.published}
        for i in items
    ]
    return feed_xml(entries, title=f"Press releases {number}", link=f"https://press.example/{number}/")


def extra_terms(count: int = 1_000, seed: int = 7) -> list[str]:
    """`count` plausible watch terms: organisations, places, phrases, offices."""
    pool: list[str] = [*ORGANISATIONS, *COUNTRIES, *CITIES, *PHRASES]
    for country in COUNTRIES:
        pool += [f"Ministry of Foreign Affairs of {country}", f"Embassy of {country}",
                 f"Permanent Mission of {country}", f"Foreign Minister of {country}",
                 f"Prime Minister of {country}", f"President of {country}"]
    pool += [f"{official} {person}" for official in OFFICIALS[:4] for person in PEOPLE]
    unique = list(dict.fromkeys(t.removeprefix("the ") for t in pool))
    random.Random(seed).shuffle(unique)
    if len(unique) < count:
        raise ValueError(f"only {len(unique)} distinct terms available, {count} asked")
    return unique[:count]


def rules_toml(terms: list[str], per_rule: int = 20) -> str:
    """A rule file watching `terms`, `per_rule` terms per rule."""
    blocks = []
    for number, start in enumerate(range(0, len(terms), per_rule)):
        listed = ",\n".join(f"  {_toml_string(t)}" for t in terms[start : start + per_rule])
        blocks.append(f'[[rule]]\nid = "watch-{number:03d}"\ndescription = "bench watch list {number}"\n'
                      f"any = [\n{listed},\n]\n")
    return "\n".join(blocks)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def iter_fixture_texts(count: int, seed: int = 3) -> Iterator[str]:
    writer = PressWriter(seed)
    for serial in range(count):
        yield writer.fixture_text(serial)
