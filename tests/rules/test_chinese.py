"""The Traditional -> Simplified table that folding reads off OpenCC."""

from __future__ import annotations

import opencc
import pytest

from monitor.rules.chinese import traditional_to_simplified
from monitor.rules.folding import fold_codepoint, fold_words

# The UN's own names in Simplified Chinese, as the default pack writes them.
UN_NAMES = [
    "联合国人权事务高级专员办事处",
    "人权高专办",
    "普遍定期审议",
    "国际劳工组织",
    "国际劳工局",
    "国际劳工大会",
    "理事会",
]


@pytest.mark.parametrize("config", ["s2t", "s2tw", "s2hk"])
@pytest.mark.parametrize("name", UN_NAMES)
def test_every_traditional_spelling_folds_back_to_the_simplified_one(config: str, name: str) -> None:
    traditional = opencc.OpenCC(config).convert(name)
    assert traditional != name
    assert fold_words(traditional) == fold_words(name) == list(name)


@pytest.mark.parametrize(
    ("variant", "simplified"),
    [("衞", "卫"), ("衛", "卫"), ("裏", "里"), ("裡", "里"), ("爲", "为"), ("綫", "线"), ("啓", "启"), ("説", "说"),
     ("衆", "众"), ("峯", "峰"), ("臺", "台"), ("髮", "发"), ("發", "发"), ("僞", "伪"), ("麪", "面")],
)
def test_taiwan_and_hong_kong_variants_fold_too(variant: str, simplified: str) -> None:
    assert chr(fold_codepoint(ord(variant))) == simplified


def test_the_table_changes_only_han_and_folding_twice_changes_nothing() -> None:
    table = traditional_to_simplified()
    assert len(table) > 4000
    assert all(0x3400 <= cp < 0x10000 for cp in table)
    assert all(target not in table for target in table.values())


def test_simplified_characters_and_other_scripts_are_left_alone() -> None:
    for char in "国际劳工组织ILOаб":
        assert chr(fold_codepoint(ord(char))) == char.lower()
