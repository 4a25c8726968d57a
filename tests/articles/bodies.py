"""Article bodies, written for these tests in the register of the seed texts.
`rules` is what a reader of the body alone finds; the page furniture around them
names every rule and must add nothing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Body:
    slug: str
    title: str
    summary: str  # what a summary-only feed carries: the first sentence, cut
    paragraphs: tuple[str, ...]
    rules: frozenset[str]
    language: str = "en"


BODIES: tuple[Body, ...] = (
    Body(
        "minsk-geneva-talks",
        "Deputy Foreign Minister holds talks in Geneva",
        "MINSK, 4 November - The Deputy Minister of Foreign Affairs held a series of meetings in Geneva…",
        (
            "MINSK, 4 November - The Deputy Minister of Foreign Affairs held a series of meetings in Geneva "
            "this week, the press service of the Ministry of Foreign Affairs said on Tuesday.",
            "The parties exchanged views on global trends in trade, transport corridors and the situation "
            "in the region, and discussed the prospects for cooperation in the economic sphere.",
            "The diplomat drew attention to the closure of border crossings by neighbouring states and its "
            "consequences for ordinary travellers, hauliers and families divided by the border.",
            "The deputy minister also met with the Assistant Director General of the International Labour "
            "Organization. The state and prospects of relations with the ILO were discussed, including the "
            "priorities of the government in developing social and labour relations.",
        ),
        frozenset({"ilo"}),
    ),
    Body(
        "strategic-dialogue",
        "Second strategic dialogue on human rights held in Brussels",
        "The European Union and its partners held their second strategic dialogue on human rights. Read more",
        (
            "The European Union and its partners held their second strategic dialogue on human rights to "
            "discuss areas of common interest and advance cooperation within the framework of rules-based "
            "multilateralism.",
            "The meeting took stock of progress on joint initiatives since the previous dialogue, including "
            "experts' exchanges and joint events on climate change, migration and the digital sphere.",
            "Participants considered the impact of overlapping crises on peace, people and the planet, and the "
            "urgent need to strengthen multilateral action with the protection of people at its core.",
            "In closing, both sides reaffirmed their full support for the independent mandate of the Office of "
            "the United Nations High Commissioner for Human Rights (OHCHR) and agreed to meet again next year.",
        ),
        frozenset({"ohchr"}),
    ),
    Body(
        "review-delegation",
        "Delegation presents national report in Geneva",
        "A government delegation presented the national report in Geneva on Monday...",
        (
            "A government delegation presented the national report in Geneva on Monday, setting out the steps "
            "taken since the previous cycle on education, health care and access to justice.",
            "The head of the delegation said that a national action plan had been adopted after broad "
            "consultations with civil society organisations, local authorities and academic experts.",
            "Speakers welcomed the new law on domestic violence and asked about its implementation in rural "
            "areas, as well as about the independence of the national human rights institution.",
            "The working group will adopt its recommendations on Friday, at the close of the fourth cycle of the "
            "Universal Periodic Review, and the government will state which of them it accepts.",
        ),
        frozenset({"upr"}),
    ),
    Body(
        "harvest-forecast",
        "Grain harvest expected to exceed last year's",
        "The Ministry of Agriculture expects the grain harvest to exceed last year's figure […]",
        (
            "The Ministry of Agriculture expects the grain harvest to exceed last year's figure by about eight "
            "per cent, thanks to a mild spring and timely rains in the southern regions.",
            "Farmers have completed sowing on more than ninety per cent of the planned area, and the "
            "remaining fields are expected to be sown by the end of the month.",
            "Officials said fuel and fertiliser supplies were sufficient and that the new storage facilities "
            "built last year would reduce losses after the harvest.",
            "Export contracts have already been signed with several partners in the region, the ministry added, "
            "and prices are expected to remain stable through the autumn.",
        ),
        frozenset(),
    ),
    Body(
        "conference-labour-standards",
        "Minister addresses conference on decent work",
        "The Minister of Labour addressed the annual conference on decent work and social protection. Read more »",
        (
            "The Minister of Labour addressed the annual conference on decent work and social protection, held "
            "this year in the capital with delegations from forty countries.",
            "She presented the results of the reform of the pension system and the new programme to help young "
            "people find their first job, which has reached twelve thousand participants.",
            "Employers' and workers' representatives discussed the effects of automation on employment and the "
            "need for training throughout working life.",
            "The minister confirmed that the country would ratify two further conventions of the International "
            "Labour Organization next year, and invited the ILO to send technical experts.",
            "The conference closed with a joint declaration on safe and healthy working conditions.",
        ),
        frozenset({"ilo"}),
    ),
    Body(
        "hc-visit",
        "High Commissioner's visit announced",
        "The foreign ministry announced on Wednesday that the High Commissioner will visit the country…",
        (
            "The foreign ministry announced on Wednesday that the High Commissioner will visit the country next "
            "month, at the invitation of the government.",
            "The visit will include meetings with the President, the Prime Minister, members of parliament and "
            "representatives of civil society, as well as a visit to the northern provinces.",
            "The ministry said the government was committed to non-politicised cooperation with the Office of "
            "the High Commissioner for Human Rights, and that OHCHR staff would be given access to all the "
            "places they wished to see.",
            "A press conference is planned at the end of the visit.",
        ),
        frozenset({"ohchr"}),
    ),
    Body(
        "rapport-examen",
        "Le Conseil adopte le document final de l'examen",
        "Le Conseil a adopté jeudi le document final concernant le pays… Lire la suite",
        (
            "Le Conseil a adopté jeudi le document final concernant le pays, après un dialogue avec la "
            "délégation conduite par le ministre de la Justice.",
            "La délégation a présenté les mesures prises pour améliorer les conditions de détention, renforcer "
            "l'indépendance de la justice et protéger les journalistes.",
            "Plusieurs délégations ont salué l'adoption d'un plan national de lutte contre la traite des êtres "
            "humains et demandé des précisions sur son financement.",
            "Le pays a accepté 180 des 240 recommandations formulées lors de l'Examen périodique universel, et "
            "pris note des autres.",
        ),
        frozenset({"upr"}),
        "fr",
    ),
    Body(
        "cooperacion-oit",
        "El ministerio firma un acuerdo de cooperación técnica",
        "El Ministerio de Trabajo firmó este martes un acuerdo de cooperación técnica... Leer más",
        (
            "El Ministerio de Trabajo firmó este martes un acuerdo de cooperación técnica para modernizar la "
            "inspección laboral y mejorar la formación de los inspectores.",
            "El programa, de tres años de duración, incluye la digitalización de los expedientes y la apertura "
            "de nuevas oficinas en las provincias del interior.",
            "Según el ministro, el acuerdo con la Organización Internacional del Trabajo permitirá reducir el "
            "trabajo informal y proteger mejor a los trabajadores agrícolas.",
            "La primera fase comenzará en enero con cursos para doscientos inspectores.",
        ),
        frozenset({"ilo"}),
        "es",
    ),
    Body(
        "bridge-opening",
        "New bridge opens to traffic",
        "A new bridge across the river opened to traffic on Saturday, cutting travel times between the two...",
        (
            "A new bridge across the river opened to traffic on Saturday, cutting travel times between the two "
            "largest cities of the region by almost an hour.",
            "The bridge, eight hundred metres long, was built in under three years by a consortium of national "
            "and foreign companies.",
            "The Minister of Transport said the project had created more than two thousand jobs and would "
            "help local producers reach new markets.",
            "Traffic will be free of charge for the first month.",
        ),
        frozenset(),
    ),
    Body(
        "treaty-bodies",
        "Statement on the situation of migrants",
        "The ministry issued a statement on Friday on the situation of migrants at the border…",
        (
            "The ministry issued a statement on Friday on the situation of migrants at the border, calling for "
            "a humanitarian corridor and for access for aid organisations.",
            "It said that several hundred people, including children, had been stranded for more than a week "
            "in freezing temperatures without shelter.",
            "The statement urged the UN human rights office, OHCHR, to monitor the situation on the ground and "
            "to report on violations committed against migrants.",
            "The government also raised the issue during its Universal Periodic Review in Geneva last year, the "
            "ministry recalled, and intends to raise it again at the next session.",
        ),
        frozenset({"ohchr", "upr"}),
    ),
)
