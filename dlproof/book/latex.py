r"""A derivation as a LaTeX fragment that compiles with pdflatex (``dlproof derive ID --format latex``).

Wrap fragments in `PREAMBLE` (``dlproof derive --latex-preamble`` prints it)::

    PREAMBLE + "\begin{document}\n" + fragment + ... + "\end{document}\n"

or let ``dlproof derive ID --format latex --standalone`` do it. The preamble needs only Debian's
texlive-latex-base, texlive-latex-recommended and, for the Chinese of the source citations,
latex-cjk-chinese with the gbsn font (latex-cjk-chinese-arphic-gbsn00lp).

Unicode (pdflatex rejects most of it):

- Chinese (CJK ideographs, CJK and fullwidth punctuation) is kept, in ``\begin{CJK}{UTF8}{gbsn}``
  runs (package CJKutf8);
- math symbols (‖ ≤ ∘ ⊗ ⊙ → ∂ ∏ ...) and Greek letters become their math commands, in text as
  ``\ensuremath{...}``; quotes, dashes, § and · their text commands; a combining tilde an accent;
- any other character is replaced by the visible marker ``[U+XXXX]`` (a test keeps the records free
  of such markers).

Text fields (title, notes, assumptions, obligations, citations) are escaped, except their ``$...$``
math, which is passed to LaTeX as math; ``code`` spans become ``\texttt``.
"""
from __future__ import annotations

import json
import re
import unicodedata

from . import present

#: the documented preamble (pdflatex): amsmath/amssymb for the formulas, CJKutf8 for the citations
PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[utf8]{inputenc}
\usepackage{amsmath,amssymb}
\usepackage{CJKutf8}
\usepackage[margin=2.2cm]{geometry}
\usepackage[hidelinks]{hyperref}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.45em}
\allowdisplaybreaks
\newcommand{\dlstatus}[1]{\textsf{\textbf{#1}}}
"""

CJK_FONT = "gbsn"

# Unicode -> (math-mode LaTeX, text-mode LaTeX or None for \ensuremath{math})
_SYMBOLS = {
    "‖": (r"\|", None), "≤": (r"\le", None), "≥": (r"\ge", None), "≠": (r"\ne", None),
    "≈": (r"\approx", None), "≡": (r"\equiv", None), "∘": (r"\circ", None), "⊗": (r"\otimes", None),
    "⊙": (r"\odot", None), "⊕": (r"\oplus", None), "→": (r"\to", None), "←": (r"\leftarrow", None),
    "↔": (r"\leftrightarrow", None), "⇒": (r"\Rightarrow", None), "⇐": (r"\Leftarrow", None),
    "⇔": (r"\Leftrightarrow", None), "↦": (r"\mapsto", None), "∂": (r"\partial", None),
    "∏": (r"\prod", None), "∑": (r"\sum", None), "∫": (r"\int", None), "√": (r"\sqrt{\ }", None),
    "∞": (r"\infty", None), "∈": (r"\in", None), "∉": (r"\notin", None), "⊂": (r"\subset", None),
    "⊆": (r"\subseteq", None), "∪": (r"\cup", None), "∩": (r"\cap", None), "∀": (r"\forall", None),
    "∃": (r"\exists", None), "∇": (r"\nabla", None), "±": (r"\pm", None), "∓": (r"\mp", None),
    "×": (r"\times", None), "÷": (r"\div", None), "·": (r"\cdot", r"\textperiodcentered{}"),
    "⋅": (r"\cdot", None), "−": ("-", None), "∼": (r"\sim", None), "∝": (r"\propto", None),
    "⊤": (r"\top", None), "ℝ": (r"\mathbb{R}", None), "ℕ": (r"\mathbb{N}", None), "ℤ": (r"\mathbb{Z}", None),
    "⌊": (r"\lfloor", None), "⌋": (r"\rfloor", None), "⌈": (r"\lceil", None), "⌉": (r"\rceil", None),
    "⟨": (r"\langle", None), "⟩": (r"\rangle", None), "…": (r"\ldots", r"\ldots{}"), "⋯": (r"\cdots", None),
    "°": (r"^\circ", None), "²": (r"^2", None), "³": (r"^3", None), "¹": (r"^1", None),
    "§": (r"\S", r"\S{}"), "¶": (r"\P", r"\P{}"),
    "—": (r"\text{---}", "---"), "–": (r"\text{--}", "--"), "“": (r"\text{``}", "``"), "”": (r"\text{''}", "''"),
    "‘": (r"\text{`}", "`"), "’": (r"'", "'"), "\u00a0": ("~", "~"), "\u2009": (r"\,", r"\,"),
    "\u202f": (r"\,", r"\,"), "é": (r"\text{\'e}", r"\'e"), "è": (r"\text{\`e}", r"\`e"),
    "ö": (r"\text{\"o}", r"\"o"), "ü": (r"\text{\"u}", r"\"u"), "ä": (r"\text{\"a}", r"\"a"),
}
_GREEK_VARIANTS = {"ϵ": r"\epsilon", "ε": r"\varepsilon", "ϑ": r"\vartheta", "ϕ": r"\phi", "φ": r"\varphi",
                   "ς": r"\varsigma", "ϱ": r"\varrho"}
_GREEK_CAPITALS = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}
_COMBINING = {"\u0303": ("tilde", "~"), "\u0302": ("hat", "^"), "\u0304": ("bar", "="), "\u0301": ("acute", "'"),
              "\u0300": ("grave", "`"), "\u0307": ("dot", "."), "\u0308": ("ddot", '"')}
_TEXT_SPECIALS = {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}",
                  ">": r"\textgreater{}", "|": r"\textbar{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "$": r"\$", '"': "''"}


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF
            or 0xF900 <= o <= 0xFAFF)


def _greek(ch: str) -> str | None:
    if ch in _GREEK_VARIANTS:
        return _GREEK_VARIANTS[ch]
    name = unicodedata.name(ch, "")
    m = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER ([A-Z]+)", name)
    if not m:
        return None
    word = m.group(2).capitalize()
    if m.group(1) == "SMALL":
        return "o" if word == "Omicron" else "\\" + word.lower()
    if word in _GREEK_CAPITALS:
        return "\\" + word
    latin = {"Alpha": "A", "Beta": "B", "Epsilon": "E", "Zeta": "Z", "Eta": "H", "Iota": "I", "Kappa": "K",
             "Mu": "M", "Nu": "N", "Omicron": "O", "Rho": "P", "Tau": "T", "Chi": "X"}
    return r"\mathrm{%s}" % latin[word] if word in latin else None


def marker(ch: str) -> str:
    """The visible stand-in for a character this module cannot typeset."""
    return r"\texttt{[U+%04X]}" % ord(ch)


def _cjk(run: str) -> str:
    return r"\begin{CJK}{UTF8}{%s}%s\end{CJK}" % (CJK_FONT, run)


def _unicode(ch: str, math: bool) -> str:
    if ch in _SYMBOLS:
        m, t = _SYMBOLS[ch]
        return m if math else (t if t is not None else r"\ensuremath{%s}" % m)
    g = _greek(ch)
    if g is not None:
        return g if math else r"\ensuremath{%s}" % g
    return marker(ch)


def _runs(s: str):
    """Yield (text, is_cjk) runs; a combining mark stays with its base character."""
    buf, cjk = "", None
    for ch in s:
        c = _is_cjk(ch)
        if cjk is not None and c != cjk and not unicodedata.combining(ch):
            yield buf, cjk
            buf = ""
        buf += ch
        cjk = c if not unicodedata.combining(ch) else cjk
    if buf:
        yield buf, bool(cjk)


def _plain(s: str, math: bool) -> str:
    """Escape non-CJK text (math: only map the Unicode)."""
    out: list[str] = []
    for ch in s:
        if unicodedata.combining(ch) and ch in _COMBINING:
            acc_math, acc_text = _COMBINING[ch]
            base = out.pop() if out else "{}"
            out.append(rf"\{acc_math}{{{base}}}" if math else rf"\{acc_text}{{{base}}}")
        elif ord(ch) < 128:
            out.append(ch if math else _TEXT_SPECIALS.get(ch, ch))
        else:
            out.append(_unicode(ch, math))
    return "".join(out)


def math(s: str) -> str:
    """LaTeX math source with its Unicode mapped (CJK in math as ``\\mbox`` with a CJK run)."""
    return "".join(r"\mbox{%s}" % _cjk(run) if cjk else _plain(run, True) for run, cjk in _runs(str(s)))


def _text_only(s: str) -> str:
    return "".join(_cjk(run) if cjk else _plain(run, False) for run, cjk in _runs(s))


_SEGMENT = re.compile(r"(?P<code>`[^`\n]+`)|\$\$(?P<dmath>.+?)\$\$|(?<![\\$])\$(?P<imath>[^$\n]+?)(?<!\\)\$"
                      r"|(?P<bold>\*\*[^*\n]+\*\*)", re.S)


def text(s) -> str:
    """A text field as LaTeX: escaped, with its ``$...$`` math kept and ``code`` as \\texttt."""
    if s is None:
        return ""
    s = str(s)
    out, i = [], 0
    for m in _SEGMENT.finditer(s):
        out.append(_text_only(s[i:m.start()]))
        if m.group("code") is not None:
            out.append(r"\texttt{%s}" % _text_only(m.group("code")[1:-1]))
        elif m.group("dmath") is not None:
            out.append(r"\[ %s \]" % math(m.group("dmath").strip()))
        elif m.group("imath") is not None:
            out.append("$%s$" % math(m.group("imath")))
        else:
            out.append(r"\textbf{%s}" % _text_only(m.group("bold")[2:-2]))
        i = m.end()
    out.append(_text_only(s[i:]))
    return "".join(out)


def _display(latex: str) -> str:
    """A display formula: equation*, or gather* with one line per top-level piece when it is long."""
    from .mathml import display_pieces

    src = str(latex).strip()
    pieces = display_pieces(src)
    if len(pieces) > 1 and (len(src) > 90 or any(br for _, br in pieces)):
        body = " \\\\\n".join(math(p) for p, _ in pieces)
        return "\\begin{gather*}\n" + body + "\n\\end{gather*}"
    return "\\begin{equation*}\n" + math(src) + "\n\\end{equation*}"


def _items(items: list[str]) -> list[str]:
    return ["\\begin{itemize}"] + [f"\\item{{}} {x}" for x in items] + ["\\end{itemize}"]


def derivation_fragment(rec: dict) -> str:
    """One derivation: title, status with its scope, statement, steps, lemmas, assumptions, obligations,
    counterexample, notes, citation (a fragment for `PREAMBLE`)."""
    rid = str(rec["id"])
    st = str(rec.get("status", ""))
    sc = present.scope_of(rec)
    lines = [f"% dlproof derivation {rid} ({rec.get('kind')}, {st})",
             r"\subsection*{%s}\label{dlproof:%s}" % (text(present.display_title(rec)), rid),
             r"\texttt{%s} \quad %s \quad \dlstatus{%s}%s" % (
                 _text_only(rid), _text_only(str(rec.get("kind", ""))), _text_only(present.status_label(st)),
                 (": " + _text_only(present.status_meaning(st)) + ".") if present.status_meaning(st) else ""),
             "", _display(rec["latex"])]
    if sc["summary"]:
        lines += [r"\textit{Scope:} " + text(sc["summary"]), ""]
    if sc["lemmas"]:
        lines += ["Cited lemmas (not proved here):"]
        lines += _items([r"\texttt{%s}: $%s$ (%s)" % (_text_only(lm["id"]), math(lm["statement"]),
                                                     text(lm.get("reference", ""))) for lm in sc["lemmas"]])
    if rec.get("steps"):
        lines += ["", "Derivation (chain-rule steps; the obligations below are the proof):"]
        lines += [r"\[ %s \]" % math(s) for s in rec["steps"]]
    if rec.get("layout"):
        lines += ["", "Layout: " + text(rec["layout"]) + "."]
    if rec.get("assumptions"):
        lines += ["", "Assumptions:"] + _items([text(a) for a in rec["assumptions"]])
    obs = rec.get("obligations") or []
    if obs:
        lines += ["", "Proof obligations (exact symbolic checks; numeric agreement is never counted as proof):",
                  r"{\small"]
        lines += _items([text(o.get("statement", "")) + (f" [{_text_only(present.obligation_scope(o))}]"
                                                          if present.obligation_scope(o) else "")
                         + r": \textbf{%s} (%s)" % (_text_only(str(o.get("status", ""))),
                                                    _text_only(present.obligation_method(o))) for o in obs])
        lines += ["}"]
    if rec.get("counterexample"):
        cx = json.dumps(rec["counterexample"], sort_keys=True, ensure_ascii=False)
        lines += ["", r"Counterexample: {\small\texttt{%s}}" % _text_only(cx).replace(",", r",\allowbreak ")]
    if rec.get("notes"):
        lines += ["", text(rec["notes"])]
    cit = rec.get("citation") or {}
    lines += ["", r"\textit{Source:} %s. \\" % text(cit.get("seed", "")), r"\textit{Primary:} %s." % text(
        cit.get("primary", ""))]
    return "\n".join(lines) + "\n"


def document(fragments: list[str]) -> str:
    """A complete pdflatex document of these fragments."""
    return PREAMBLE + "\\begin{document}\n" + "\n".join(fragments) + "\\end{document}\n"


__all__ = ["PREAMBLE", "derivation_fragment", "document", "text", "math", "marker"]
