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
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from monitor.rules.ruleset import ALL_FIELDS, NearClause, Rule
from monitor.rules.terms import parse_term

ID_PATTERN = re.compile(r"[a-z0-9_-]+")


def _valid_term(term: str) -> str:
    parse_term(term)  # raises TermSyntaxError (a ValueError) with the reason
    return term


Term = Annotated[str, AfterValidator(_valid_term)]
Terms = Annotated[list[Term], Field(min_length=1)]

_STRICT = ConfigDict(extra="forbid", strict=True, populate_by_name=False, frozen=True)


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

    def to_rule(self, source_file: Path) -> Rule:
        return Rule(
            id=self.id,
            description=self.description,
            source_file=source_file,
            fields=tuple(self.fields),
            any_terms=tuple(self.any_ or ()),
            all_groups=tuple(tuple(group) for group in self.all_ or ()),
            near=tuple(NearClause(tuple(n.terms), tuple(n.with_), n.within) for n in self.near or ()),
            exclude=tuple(self.exclude or ()),
        )


def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


RULE_KEYS = _keys(RuleSpec)
NEAR_KEYS = _keys(NearSpec)
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
        "literal_error": "'title' or 'text'",
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
        loc = tuple(detail["loc"])
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
