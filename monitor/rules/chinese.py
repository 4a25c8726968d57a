"""Traditional and Simplified Chinese as one spelling, for folding.

OpenCC (the converter behind most Chinese text tooling) converts whole texts
with phrase tables. Folding needs one character for one, so the table is read
off OpenCC once: every CJK ideograph is converted on its own through Taiwan's
and Hong Kong's variant tables, then the generic one (`tw2s`, `hk2s`, `t2s`),
and whatever changed is kept. Folding both the rule term and the text with it
makes `國際勞工組織`, `国际劳工组织` and mixed spellings equal. Where a
Traditional character stands for several Simplified ones in context (乾/幹 are
both 干 here), folding merges them, which costs nothing: both sides fold alike.

Built the first time a Han character is folded (about 20 ms); a process that
never sees Han text never loads OpenCC.
"""

from __future__ import annotations

import functools

# CJK extension A, unified ideographs, compatibility ideographs.
_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))
_CONFIGS = ("tw2s", "hk2s", "t2s")


@functools.cache
def traditional_to_simplified() -> dict[int, int]:
    """Code point of a Traditional (or variant) character -> its Simplified one."""
    import opencc  # only where Han text is folded

    chars = [chr(cp) for low, high in _RANGES for cp in range(low, high)]
    text = "\n".join(chars)  # one character per line: no phrase spans two
    for config in _CONFIGS:
        text = opencc.OpenCC(config).convert(text)
    converted = text.split("\n")
    if len(converted) != len(chars):
        raise RuntimeError("OpenCC changed the number of lines while converting single characters")
    table = {ord(a): ord(b) for a, b in zip(chars, converted, strict=True) if a != b and len(b) == 1}
    for cp, target in table.items():  # folding twice must change nothing
        seen = {cp}
        while target in table and target not in seen:
            seen.add(target)
            target = table[target]
        table[cp] = target
    return table
