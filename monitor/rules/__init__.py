"""Watch rules: TOML rule packs, compiled into one matcher that explains its hits.

    ruleset = load_rules([Path("config/rules")])   # raises RuleError on any problem
    matcher = compile_rules(ruleset)               # once
    hits = matcher.scan(item)                      # per item: list[Hit], sorted

The rule language is documented in the README ("Watch rules") and in
`terms` (term syntax), `folding` (what counts as the same text) and
`clauses` (when a rule fires).
"""

from monitor.errors import RuleError
from monitor.rules.clauses import SetAside
from monitor.rules.loading import load_rules
from monitor.rules.matcher import Matcher, compile_rules
from monitor.rules.ruleset import NearClause, Rule, RuleSet

__all__ = ["Matcher", "NearClause", "Rule", "RuleError", "RuleSet", "SetAside", "compile_rules", "load_rules"]
