"""Generated press text in the six UN languages, for the mixed-corpus classify figure.

A third of the items are Arabic or Chinese (a sixth each, a third of the
Chinese in Traditional characters), the rest English, French, Spanish and
Russian. As in `bench.corpus`, sentences are templates filled from word lists,
and one item in ten also names OHCHR, the UPR or the ILO the way the press of
that language does (Arabic with its clitics, Chinese with full-width brackets),
so the six-language pack matches about a tenth of them. The extra watch terms
are names in every language (countries, "Ministry of Foreign Affairs of X",
cities), topped up with `bench.corpus.extra_terms`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from bench.corpus import MENTION_EVERY, extra_terms

# Language, share of the corpus (in sixths), characters of body text.
MIX: Final = (("en", 1, 900), ("fr", 1, 900), ("es", 1, 900), ("ru", 1, 900), ("ar", 1, 900), ("zh", 1, 400))


@dataclass(frozen=True, slots=True)
class Words:
    countries: tuple[str, ...]
    cities: tuple[str, ...]
    officials: tuple[str, ...]
    topics: tuple[str, ...]
    ministry: str  # "Ministry of Foreign Affairs of {country}"
    sentences: tuple[str, ...]  # {official} {country} {country2} {city} {topic}
    headlines: tuple[str, ...]
    watch: tuple[str, ...]  # sentences naming OHCHR, the UPR or the ILO
    joiner: str = " "


WORDS: Final[dict[str, Words]] = {
    "en": Words(
        countries=("Belarus", "Kenya", "Chile", "Viet Nam", "Egypt", "Norway", "Peru", "Jordan", "Mongolia", "Ghana",
                   "Bolivia", "Nepal", "Tunisia", "Qatar", "Armenia"),
        cities=("Geneva", "Minsk", "Nairobi", "Santiago", "Hanoi", "Cairo", "Oslo", "Lima", "Amman"),
        officials=("the Foreign Minister", "the Deputy Prime Minister", "the Ambassador", "the Permanent Representative"),
        topics=("trade and investment", "climate finance", "migration", "food security", "energy cooperation",
                "the digital economy", "education reform"),
        ministry="Ministry of Foreign Affairs of {country}",
        sentences=(
            "{official} of {country} met a delegation from {country2} in {city} to discuss {topic}.",
            "The two sides agreed to deepen cooperation on {topic} and to meet again in {city}.",
            "Officials from {country} and {country2} signed a memorandum on {topic}.",
            "{official} said {country} was ready to share its experience of {topic} with partners.",
            "Consultations between {country} and {country2} on {topic} took place in {city} on Tuesday.",
            "The meeting focused on {topic}, and both delegations stressed the need for practical results.",
            "Experts noted that progress on {topic} depended on sustained political will and funding.",
            "A joint working group will prepare proposals on {topic} before the end of the year.",
        ),
        headlines=("{country} and {country2} discuss {topic}", "{official} visits {city}",
                   "Talks on {topic} held in {city}"),
        watch=(
            "The delegation also met representatives of the International Labour Organization (ILO).",
            "The UN High Commissioner for Human Rights welcomed the release of the detainees.",
            "{country} presented its national report to the Universal Periodic Review in Geneva.",
            "OHCHR staff visited {city} last week.",
        ),
    ),
    "fr": Words(
        countries=("le Bélarus", "le Kenya", "le Chili", "le Viet Nam", "l'Égypte", "la Norvège", "le Pérou",
                   "la Jordanie", "le Sénégal", "le Mali", "la Tunisie", "le Maroc"),
        cities=("Genève", "Dakar", "Bamako", "Tunis", "Rabat", "Paris", "Bruxelles"),
        officials=("le ministre des Affaires étrangères", "l'ambassadeur", "le représentant permanent",
                   "la vice-Première ministre"),
        topics=("le commerce et l'investissement", "la finance climatique", "les migrations",
                "la sécurité alimentaire", "la coopération énergétique", "l'économie numérique"),
        ministry="ministère des Affaires étrangères de {country}",
        sentences=(
            "{official} de {country} a reçu une délégation de {country2} à {city} pour évoquer {topic}.",
            "Les deux parties sont convenues de renforcer leur coopération sur {topic}.",
            "Des responsables de {country} et de {country2} ont signé un mémorandum sur {topic}.",
            "Selon {official}, {country} est prêt à partager son expérience en matière de {topic}.",
            "La réunion a porté sur {topic}, et les deux délégations ont insisté sur la nécessité de résultats concrets.",
            "Les experts ont souligné que les progrès dans {topic} dépendaient d'une volonté politique durable.",
            "Un groupe de travail conjoint préparera des propositions sur {topic} d'ici la fin de l'année.",
        ),
        headlines=("{country} et {country2} discutent de {topic}", "Visite de {official} à {city}"),
        watch=(
            "La délégation a aussi rencontré des représentants du Bureau international du Travail (BIT).",
            "Le Haut-Commissariat des Nations unies aux droits de l'homme a salué ces libérations.",
            "{country} a présenté son rapport national à l'examen périodique universel (EPU).",
            "Selon l'OIT, le chômage des jeunes a reculé.",
        ),
    ),
    "es": Words(
        countries=("Bolivia", "Chile", "Perú", "Colombia", "Ecuador", "Uruguay", "México", "Cuba", "Honduras",
                   "Paraguay", "Guatemala", "Panamá"),
        cities=("Ginebra", "Lima", "Quito", "Bogotá", "La Paz", "Montevideo", "Madrid"),
        officials=("el canciller", "la embajadora", "el representante permanente", "la viceministra"),
        topics=("el comercio y la inversión", "la financiación climática", "la migración",
                "la seguridad alimentaria", "la cooperación energética", "la economía digital"),
        ministry="Ministerio de Relaciones Exteriores de {country}",
        sentences=(
            "{official} de {country} recibió a una delegación de {country2} en {city} para tratar {topic}.",
            "Ambas partes acordaron profundizar la cooperación en {topic}.",
            "Funcionarios de {country} y {country2} firmaron un memorando sobre {topic}.",
            "Según {official}, {country} está dispuesto a compartir su experiencia en {topic}.",
            "La reunión se centró en {topic}, y ambas delegaciones subrayaron la necesidad de resultados concretos.",
            "Los expertos señalaron que los avances en {topic} dependen de una voluntad política sostenida.",
            "Un grupo de trabajo conjunto preparará propuestas sobre {topic} antes de fin de año.",
        ),
        headlines=("{country} y {country2} dialogan sobre {topic}", "Visita de {official} a {city}"),
        watch=(
            "La delegación se reunió también con la Organización Internacional del Trabajo (OIT).",
            "La Alta Comisionada de las Naciones Unidas para los Derechos Humanos celebró las liberaciones.",
            "{country} presentó su informe nacional ante el Examen Periódico Universal.",
            "Según la OIT, el desempleo juvenil bajó.",
        ),
    ),
    "ru": Words(
        countries=("Беларусь", "Казахстан", "Узбекистан", "Армения", "Киргизия", "Таджикистан", "Монголия",
                   "Вьетнам", "Египет", "Куба", "Сербия", "Китай"),
        cities=("Женеве", "Минске", "Москве", "Астане", "Ташкенте", "Ереване", "Бишкеке"),
        officials=("министр иностранных дел", "посол", "постоянный представитель", "заместитель премьер-министра"),
        topics=("торговли и инвестиций", "климатического финансирования", "миграции", "продовольственной безопасности",
                "энергетического сотрудничества", "цифровой экономики"),
        ministry="Министерство иностранных дел {country}",
        sentences=(
            "{official} страны {country} встретился в {city} с делегацией страны {country2} по вопросам {topic}.",
            "Стороны договорились углублять сотрудничество в сфере {topic}.",
            "Представители стран {country} и {country2} подписали меморандум в области {topic}.",
            "Как отметил {official}, страна {country} готова делиться опытом в сфере {topic}.",
            "Встреча была посвящена вопросам {topic}, стороны подчеркнули необходимость практических результатов.",
            "Эксперты отметили, что прогресс в области {topic} зависит от устойчивой политической воли.",
            "Совместная рабочая группа подготовит предложения в сфере {topic} до конца года.",
        ),
        headlines=("{country} и {country2} обсудили вопросы {topic}", "Визит в {city}"),
        watch=(
            "Делегация также встретилась с представителями Международной организации труда (МОТ).",
            "Верховный комиссар ООН по правам человека приветствовал освобождение задержанных.",
            "Страна {country} представила национальный доклад в рамках Универсального периодического обзора.",
        ),
    ),
    "ar": Words(
        countries=("مصر", "الأردن", "تونس", "المغرب", "الجزائر", "لبنان", "العراق", "قطر", "الكويت", "عمان",
                   "البحرين", "السودان", "ليبيا", "اليمن", "موريتانيا"),
        cities=("جنيف", "القاهرة", "عمان", "تونس", "الرباط", "بيروت", "بغداد", "الدوحة", "الكويت"),
        officials=("وزير الخارجية", "السفير", "المندوب الدائم", "نائب رئيس الوزراء", "وزيرة التعاون الدولي"),
        topics=("التجارة والاستثمار", "تمويل المناخ", "الهجرة", "الأمن الغذائي", "التعاون في مجال الطاقة",
                "الاقتصاد الرقمي", "إصلاح التعليم"),
        ministry="وزارة الخارجية في {country}",
        sentences=(
            "استقبل {official} في {country} وفدا من {country2} في {city} لبحث {topic}.",
            "واتفق الجانبان على تعزيز التعاون في مجال {topic} وعقد اجتماع جديد في {city}.",
            "ووقع مسؤولون من {country} و{country2} مذكرة تفاهم بشأن {topic}.",
            "وأكد {official} استعداد {country} لتبادل الخبرات في مجال {topic} مع الشركاء.",
            "وجرت في {city} يوم الثلاثاء مشاورات بين {country} و{country2} حول {topic}.",
            "وتركز الاجتماع على {topic}، وشدد الوفدان على ضرورة تحقيق نتائج عملية.",
            "وأشار الخبراء إلى أن التقدم في مجال {topic} يتوقف على إرادة سياسية مستدامة وتمويل كاف.",
            "وستعد مجموعة عمل مشتركة مقترحات بشأن {topic} قبل نهاية العام.",
        ),
        headlines=("{country} و{country2} تبحثان {topic}", "{official} يزور {city}"),
        watch=(
            "والتقى الوفد أيضا ممثلين عن منظمة العمل الدولية لبحث برامج التشغيل.",
            "ورحبت المفوضية السامية لحقوق الإنسان بالإفراج عن المحتجزين.",
            "وقدمت {country} تقريرها الوطني في إطار الاستعراض الدوري الشامل في جنيف.",
            "واستشهد الوزير بتقرير لمنظمة العمل الدولية عن عمالة الأطفال.",
            "ووجهت الحكومة دعوة للمفوض السامي لحقوق الإنسان لزيارة البلاد.",
        ),
    ),
    "zh": Words(
        countries=("中国", "越南", "老挝", "柬埔寨", "蒙古", "哈萨克斯坦", "巴基斯坦", "埃及", "智利", "古巴",
                   "塞尔维亚", "白俄罗斯", "肯尼亚", "秘鲁"),
        cities=("日内瓦", "北京", "河内", "万象", "金边", "乌兰巴托", "开罗", "利马"),
        officials=("外交部长", "大使", "常驻代表", "副总理", "外交部发言人"),
        topics=("贸易和投资", "气候融资", "移民问题", "粮食安全", "能源合作", "数字经济", "教育改革"),
        ministry="{country}外交部",
        sentences=(
            "{country}{official}在{city}会见了{country2}代表团，双方就{topic}交换了意见。",
            "双方同意深化在{topic}领域的合作，并将在{city}再次举行会谈。",
            "{country}和{country2}官员签署了关于{topic}的谅解备忘录。",
            "{official}表示，{country}愿与各方分享在{topic}方面的经验。",
            "会议重点讨论了{topic}问题，双方强调应取得务实成果。",
            "专家指出，{topic}领域的进展取决于持续的政治意愿和充足的资金。",
            "联合工作组将在年底前就{topic}提出建议。",
        ),
        headlines=("{country}与{country2}就{topic}举行会谈", "{official}访问{city}"),
        watch=(
            "代表团还会见了国际劳工组织（ILO）代表。",
            "联合国人权事务高级专员办事处对释放被拘留者表示欢迎。",
            "{country}在日内瓦接受了普遍定期审议。",
            "據國際勞工組織估計，全球仍有1.6億名童工。",
            "人权高专办发言人在日内瓦表示关切。",
        ),
        joiner="",
    ),
}


@dataclass(frozen=True, slots=True)
class MixedItem:
    guid: str
    language: str
    title: str
    text: str
    mentions: bool


class MixedWriter:
    """Writes the mixed corpus; `serial` decides the language and (every
    MENTION_EVERY-th item of a language) whether it names a watched body."""

    def __init__(self, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.cycle = [language for language, share, _ in MIX for _ in range(share)]
        self.chars = {language: chars for language, _, chars in MIX}

    def _fill(self, words: Words, template: str) -> str:
        r = self.rng
        country, country2 = r.sample(words.countries, 2)
        return template.format(country=country, country2=country2, city=r.choice(words.cities),
                               official=r.choice(words.officials), topic=r.choice(words.topics))

    def item(self, serial: int) -> MixedItem:
        language = self.cycle[serial % len(self.cycle)]
        words = WORDS[language]
        mentions = (serial // len(self.cycle)) % MENTION_EVERY == 0
        paragraphs: list[str] = []
        size = 0
        while size < self.chars[language]:
            sentences = [self._fill(words, self.rng.choice(words.sentences)) for _ in range(self.rng.randint(2, 3))]
            paragraph = words.joiner.join(sentences)
            paragraphs.append(paragraph)
            size += len(paragraph) + 1
        if mentions:
            at = self.rng.randrange(len(paragraphs))
            paragraphs[at] += words.joiner + self._fill(words, self.rng.choice(words.watch))
        title = self._fill(words, self.rng.choice(words.headlines))
        return MixedItem(f"mixed-{serial}", language, title, "\n\n".join(paragraphs), mentions)


def mixed_extra_terms(count: int = 1_000) -> list[str]:
    """`count` watch terms: names in all six languages, then English ones."""
    terms: list[str] = []
    for words in WORDS.values():
        for country in words.countries:
            name = country.removeprefix("le ").removeprefix("la ").removeprefix("l'")
            terms += [name, words.ministry.format(country=name)]
        terms += list(words.cities)
    terms = list(dict.fromkeys(term for term in terms if len(term) >= 2))
    terms += [term for term in extra_terms(count) if term not in terms]
    return terms[:count]
