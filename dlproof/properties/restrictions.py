"""Declared restrictions: what a target does not support inside a capability it provides.

A target declares them in the ``restrictions`` convention, a mapping over the closed vocabulary
`dlproof.target.RESTRICTIONS` (name -> the capabilities it narrows, the values it accepts, the text the
report shows). The strategies then draw only inside the declared domain (`value` below is what they read),
a property whose whole domain a restriction excludes is "not provided" (`excludes`), and `relevant` gives the
texts the report shows next to the verdict. A restriction never widens a tolerance: inside its domain a
target is checked exactly as a target without it.
"""
from __future__ import annotations

from dlproof.target import RESTRICTIONS


def value(target, name: str):
    """The declared value of restriction ``name`` on ``target``, or None (not restricted)."""
    return target.restriction(name)


def text(name: str, declared) -> str:
    """The report's text of one declared restriction: "name=value: description"."""
    return f"{name}={declared!r}: {RESTRICTIONS[name].text(declared)}"


def relevant(target, capabilities) -> list:
    """The target's declared restrictions that narrow the domain of any of ``capabilities`` (texts for the report),
    in the vocabulary's order."""
    caps = set(capabilities)
    declared = target.convention("restrictions")
    return [text(name, declared[name]) for name, r in RESTRICTIONS.items()
            if name in declared and caps & set(r.capabilities)]


def suggestion(target, capability: str) -> str:
    """For an error row (``capability`` raised): the restrictions of that capability the target has not declared, as
    " | if CAP does not support part of its domain, declare ...: name=values; ..." ("" when there are none). A
    library that refuses part of the domain (dv != d, causal=True, groups > 1) declares that, and is then checked
    exactly inside the rest."""
    declared = target.convention("restrictions")
    open_ = [f"{name}={r.allowed}" for name, r in RESTRICTIONS.items()
             if capability in r.capabilities and name not in declared]
    if not open_:
        return ""
    return (f" | if {capability} does not support part of its domain, declare it in conventions['restrictions'] "
            f"(README, 'Declared restrictions'): {'; '.join(open_)}")


def kind_supported(target, kind: str) -> bool:
    """Whether param_count is declared for cell ``kind`` ("rnn" | "lstm" | "gru"; all unless restricted)."""
    kinds = value(target, "param_count_kinds")
    return kinds is None or kind in kinds


def causal_supported(target) -> bool:
    """Whether the attention capabilities accept causal=True (all unless restricted)."""
    return value(target, "attention_causal") is None


#: values shown in the table's "meaning" column (every accepted form of a restriction with several)
_EXAMPLES = {"conv_stride": (1, "exact_tiling"), "param_count_kinds": (["rnn", "lstm"],), "layernorm_features": (8,),
             "layernorm_affine": (True, False)}


def table() -> str:
    """The vocabulary as a Markdown table (name, accepted values, capabilities narrowed, report text)."""
    rows = ["| restriction | value | narrows | meaning |", "|---|---|---|---|"]
    for name, r in RESTRICTIONS.items():
        shown = " / ".join(f"`{v!r}`: {r.text(v)}" if name in _EXAMPLES else r.text(v)
                           for v in _EXAMPLES.get(name, (None,)))
        caps = ", ".join(f"`{c}`" for c in r.capabilities)
        rows.append(f"| `{name}` | {r.allowed.replace('|', chr(92) + '|')} | {caps} | {shown} |")
    return "\n".join(rows) + "\n"
