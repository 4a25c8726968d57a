"""The shape of one `[[rule]]` table, validated by pydantic, and error messages an
analyst can act on.

Pydantic does the checking (unknown keys are errors, types are strict: `"5"` is
not a number), and `describe_errors` turns its error records into
`key 'within': must be a positive integer`-style messages instead of pydantic's
internal vocabulary.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from monitor.rules.ruleset import ALL_FIELDS, AcronymPolicy, NearClause, Rule
from monitor.rules.terms import parse_term

ID_PATTERN = re.compile(r"[a-z0-9_-]+")


def _valid_term(term: str) -> str:
    parse_term(term)  # raises TermSyntaxError (a ValueError) with the reason
    return term


def _valid_language(code: str) -> str:
    from monitor.language import known_languages, primary  # loads the detector's model: only for rules that need it

    if primary(code) != code:
        raise ValueError(f"{code!r} is not a language code: write it as the detector reports it, e.g. 'fr', 'zh'")
    if code not in known_languages():
        raise ValueError(f"{code!r}: the language detector never reports this language (it knows ISO 639-1 codes)")
    return code


Term = Annotated[str, AfterValidator(_valid_term)]
Language = Annotated[str, AfterValidator(_valid_language)]
Languages = Annotated[list[Language], Field(min_length=1)]

_STRICT = ConfigDict(extra="forbid", strict=True, populate_by_name=False, frozen=True)


class TermGroup(BaseModel):
    """`{ terms = [...], languages = [...] }`: terms that count only in items in those languages."""

    model_config = _STRICT

    terms: Annotated[list[Term], Field(min_length=1)]
    languages: Languages


def _entry_kind(value: Any) -> str:
    return "group" if isinstance(value, dict) else "term"


# Where a rule lists terms, each entry is a term or a group of language-bound terms.
Entry = Annotated[Annotated[Term, Tag("term")] | Annotated[TermGroup, Tag("group")], Discriminator(_entry_kind)]
Terms = Annotated[list[Entry], Field(min_length=1)]
_ENTRY_TAGS = ("term", "group")


def _flatten(entries: list[Any] | None) -> tuple[str, ...]:
    terms: list[str] = []
    for entry in entries or ():
        terms += entry.terms if isinstance(entry, TermGroup) else [entry]
    return tuple(terms)


def _bounds(where: str, entries: list[Any] | None) -> Iterator[tuple[str, str, frozenset[str] | None]]:
    """(where, term, its languages or None) for every term of a list."""
    for number, entry in enumerate(entries or ()):
        if isinstance(entry, TermGroup):
            for term in entry.terms:
                yield f"{where}[{number}]", term, frozenset(entry.languages)
        else:
            yield f"{where}[{number}]", entry, None


class NearSpec(BaseModel):
    """`{ terms = [...], with = [...], within = N }`"""

    model_config = _STRICT

    terms: Terms
    with_: Terms = Field(alias="with")
    within: int

    @field_validator("within", mode="before")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"must be a positive integer (a number of words), not {value!r}")
        return value


class RuleSpec(BaseModel):
    """One `[[rule]]` table as written."""

    model_config = _STRICT

    id: str
    description: str = ""
    fields: Annotated[list[Literal["title", "text"]], Field(min_length=1)] = list(ALL_FIELDS)
    any_: Terms | None = Field(default=None, alias="any")
    all_: Annotated[list[Terms], Field(min_length=1)] | None = Field(default=None, alias="all")
    near: Annotated[list[NearSpec], Field(min_length=1)] | None = None
    exclude: Terms | None = None
    languages: Languages | None = None
    acronyms_defined_otherwise: AcronymPolicy = "count"

    @field_validator("id")
    @classmethod
    def _id_syntax(cls, value: str) -> str:
        if not ID_PATTERN.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid id: use lowercase letters, digits, '_' and '-'")
        return value

    @field_validator("fields")
    @classmethod
    def _fields_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names a field more than once")
        return value

    @model_validator(mode="after")
    def _has_a_clause(self) -> RuleSpec:
        if self.any_ is None and self.all_ is None and self.near is None:
            raise ValueError("has no clause: give at least one of 'any', 'all' or 'near'")
        return self

    @model_validator(mode="after")
    def _one_set_of_languages_per_term(self) -> RuleSpec:
        """A term bound to languages in one place of a rule is bound everywhere in it;
        two different sets for one term are a mistake."""
        lists: list[tuple[str, list[Any] | None]] = [("any", self.any_), ("exclude", self.exclude)]
        lists += [(f"all[{n}]", group) for n, group in enumerate(self.all_ or ())]
        for n, clause in enumerate(self.near or ()):
            lists += [(f"near[{n}].terms", clause.terms), (f"near[{n}].with", clause.with_)]
        first: dict[str, tuple[str, frozenset[str]]] = {}
        for where, entries in lists:
            for place, term, languages in _bounds(where, entries):
                if languages is None:
                    continue
                seen = first.setdefault(term, (place, languages))
                if seen[1] != languages:
                    raise ValueError(
                        f"key 'languages': term {term!r} counts in {', '.join(sorted(seen[1]))} at {seen[0]} but in"
                        f" {', '.join(sorted(languages))} at {place}: give a term one set of languages in a rule"
                    )
        return self

    def to_rule(self, source_file: Path) -> Rule:
        lists = [self.any_, self.exclude, *(self.all_ or ())]
        lists += [entries for n in self.near or () for entries in (n.terms, n.with_)]
        bound = {term: languages for entries in lists for _, term, languages in _bounds("", entries) if languages}
        return Rule(
            id=self.id,
            description=self.description,
            source_file=source_file,
            fields=tuple(self.fields),
            any_terms=_flatten(self.any_),
            all_groups=tuple(_flatten(group) for group in self.all_ or ()),
            near=tuple(NearClause(_flatten(n.terms), _flatten(n.with_), n.within) for n in self.near or ()),
            exclude=_flatten(self.exclude),
            term_languages=tuple(bound.items()),
            languages=frozenset(self.languages or ()),
            acronyms_defined_otherwise=self.acronyms_defined_otherwise,
        )



def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


RULE_KEYS = _keys(RuleSpec)
NEAR_KEYS = _keys(NearSpec)
GROUP_KEYS = _keys(TermGroup)
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "a table",
}


def _type_name(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_FIXED_MESSAGES = {
    "missing": "is required",
    "too_short": "must not be empty",
}


def _message(error: ErrorDetails, allowed: list[str]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind in _FIXED_MESSAGES:
        return _FIXED_MESSAGES[kind]
    if kind == "extra_forbidden":
        leaf = next((part for part in reversed(error["loc"]) if isinstance(part, str)), "")
        close = difflib.get_close_matches(leaf, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key (allowed: {', '.join(allowed)}){hint}"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    expected = {
        "literal_error": str(error.get("ctx", {}).get("expected", "")),
        "string_type": "a string",
        "list_type": "a list",
        "model_type": "a table like { terms = [...], with = [...], within = 5 }",
    }.get(kind)
    if expected is None:
        return str(error["msg"])
    shown = repr(value) if kind == "literal_error" else _type_name(value)
    return f"must be {expected}, not {shown}"


def describe_errors(error: ValidationError) -> list[str]:
    """`key '<leaf>': <problem>` lines, with the full location when it is nested."""
    lines = []
    for detail in error.errors(include_url=False):
        raw = tuple(detail["loc"])
        # A term list's entries are a term or a group: drop pydantic's name for which one.
        loc = tuple(p for n, p in enumerate(raw) if not (p in _ENTRY_TAGS and n and isinstance(raw[n - 1], int)))
        if "group" in raw[:-1] and len(loc) < len(raw):
            allowed = GROUP_KEYS
        else:
            allowed = NEAR_KEYS if "near" in loc[:1] and len(loc) > 2 else RULE_KEYS
        message = _message(detail, allowed)
        leaf = next((part for part in reversed(loc) if isinstance(part, str)), None)
        if leaf is None:
            lines.append(message)
            continue
        where = _location(loc)
        suffix = f" (at {where})" if where != leaf else ""
        lines.append(f"key {leaf!r}: {message}{suffix}")
    return lines
